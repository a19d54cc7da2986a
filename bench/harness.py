"""Throw-away instances (directory, secret, database, migrations) and gunicorn servers.

Every gunicorn started here is stopped on exit, on an exception, on Ctrl-C and on SIGTERM/SIGHUP.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
# AMANAT_BENCH_OUT lets two benchmark runs work side by side without clobbering each other.
OUT = Path(os.environ.get("AMANAT_BENCH_OUT") or ROOT / "bench" / "out")
BIN = Path(sys.executable).parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/amanat_bench"

_live_servers: set[Gunicorn] = set()


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


class Instance:
    """One instance directory under bench/out/<kind>/ with its own secret and database."""

    def __init__(self, kind: str, pg_url: str = DEFAULT_PG_URL) -> None:
        if kind not in ("sqlite", "postgres"):
            raise ValueError(f"unknown database kind {kind!r}")
        self.kind = kind
        self.path = OUT / kind
        self.secret = secrets.token_urlsafe(48)
        self.url = (f"sqlite:///{self.path / 'amanat.db'}" if kind == "sqlite" else pg_url)
        self._app: Flask | None = None

    def create(self) -> None:
        """Wipe and recreate the directory and the database, then run the real migrations."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(mode=0o700, parents=True)
        if self.kind == "postgres":
            self._reset_postgres()
        log(f"[{self.kind}] instance {self.path}; running migrations")
        with open(self.path / "migrate.log", "wb") as out:
            done = subprocess.run([sys.executable, "-m", "bench.migrate"], cwd=ROOT,
                                  env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                  check=False)
        if done.returncode != 0:
            raise RuntimeError(f"migrations failed; see {self.path / 'migrate.log'}:\n"
                               + _tail(self.path / "migrate.log"))

    def _reset_postgres(self) -> None:
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(text("SET lock_timeout = '10s'"))
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for subprocesses: no inherited AMANAT_* setting, only this instance's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
        env.update({
            "AMANAT_BENCH_INSTANCE": str(self.path),
            "AMANAT_SECRET_KEY": self.secret,
            "AMANAT_DATABASE_URL": self.url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        })
        env.update(extra or {})
        return env

    @property
    def app(self) -> Flask:
        """The app in this process, for seeding and in-process benchmarks (quiet logging)."""
        if self._app is None:
            from app import create_app

            self._app = create_app({
                "INSTANCE_PATH": str(self.path),
                "SECRET_KEY": self.secret,
                "SQLALCHEMY_DATABASE_URI": self.url,
                "LOG_LEVEL": "WARNING",
            })
        return self._app

    def close(self) -> None:
        if self._app is not None:
            from app.extensions import db

            with self._app.app_context():
                db.session.remove()
                db.engine.dispose()
            self._app = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Gunicorn:
    """`gunicorn -w N -b 127.0.0.1:PORT bench.wsgi:app` in its own process group."""

    def __init__(self, instance: Instance, workers: int = 2,
                 extra_env: dict[str, str] | None = None) -> None:
        self.instance = instance
        self.workers = workers
        self.extra_env = extra_env or {}
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = instance.path / "gunicorn.log"

    @property
    def command(self) -> list[str]:
        return [str(BIN / "gunicorn"), "-w", str(self.workers), "-b",
                f"{self.host}:{self.port}", "--graceful-timeout", "5", "bench.wsgi:app"]

    def start(self) -> Gunicorn:
        self.port = _free_port()
        log(f"[{self.instance.kind}] starting {' '.join(self.command[1:])}")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=ROOT,
                                         env=self.instance.env(self.extra_env),
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _live_servers.add(self)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{self.host}:{self.port}/healthz"
        ready = 0
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n"
                                   + _tail(self.log_path))
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local
                    if response.status == 200:
                        ready += 1
                        if ready >= self.workers * 2:  # likely every worker has booted
                            return
                        continue
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy in {timeout:.0f}s:\n"
                           + _tail(self.log_path))

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        _live_servers.discard(self)
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all_servers() -> None:
    for server in list(_live_servers):
        server.stop()


def install_cleanup() -> None:
    """Stop servers at exit; turn SIGTERM/SIGHUP into SystemExit so `finally` blocks run."""
    atexit.register(stop_all_servers)

    def _exit(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (e.g. `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)


class Context:
    """What a benchmark sees for one database: the instance, options, and a lazy server."""

    def __init__(self, instance: Instance, args: Any,
                 server_env: Callable[[], dict[str, str]]) -> None:
        self.instance = instance
        self.args = args
        self._server_env = server_env
        self._server: Gunicorn | None = None

    @property
    def kind(self) -> str:
        return self.instance.kind

    @property
    def app(self) -> Flask:
        return self.instance.app

    def server(self) -> Gunicorn:
        """Gunicorn on this instance, started on first use (after every benchmark has seeded)."""
        if self._server is None:
            self._server = Gunicorn(self.instance, workers=self.args.workers,
                                    extra_env=self._server_env()).start()
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.instance.close()
