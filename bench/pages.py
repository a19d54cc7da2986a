"""Figure 2: requests per second for signed-in pages (GET / and GET /account/) under gunicorn.

One account signs in over HTTP; its session cookie is then replayed by a load client: wrk when
installed (with a Lua script that counts every non-200 and every page without the sign-out form),
else a thread-pool client on http.client. Each run is checked before and after to be signed in.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.base import Benchmark
from bench.harness import Context, log
from bench.seed import Person, seed_users
from bench.signin import check_signed_in, sign_in
from bench.stats import ms, percentile
from bench.webclient import SESSION_COOKIE, SIGNED_IN_MARKER, BenchHTTPError, Browser

PAGES = ("/", "/account/")
LUA = Path(__file__).with_name("wrk_report.lua")


def _client_choice(wanted: str) -> str:
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if wanted == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk), use --client python")
    return wanted


def run_wrk(host: str, port: int, path: str, cookie: str, connections: int,
            seconds: float) -> dict[str, Any]:
    threads = max(1, min(connections, 2))
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
               "--timeout", "10s", "-H", f"Cookie: {cookie}", "-H", "Accept-Language: en",
               "-s", str(LUA), f"http://{host}:{port}{path}", "--", SIGNED_IN_MARKER]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    values = {}
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            _, key, value = line.split()
            values[key] = int(value)
    seconds_run = values["duration_us"] / 1e6
    return {
        "requests": values["requests"],
        "req/s": values["requests"] / seconds_run,
        "p50 ms": values["p50_us"] / 1000,
        "p95 ms": values["p95_us"] / 1000,
        "p99 ms": values["p99_us"] / 1000,
        "max ms": values["max_us"] / 1000,
        "socket errors": values["socket_errors"],
        "non-200": values["bad_status"],
        "not signed in": values["not_signed_in"],
    }


def run_python(host: str, port: int, path: str, cookie: str, connections: int,
               seconds: float) -> dict[str, Any]:
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"socket": 0, "status": 0, "anon": 0}
    headers = {"Cookie": cookie, "Accept-Language": "en", "User-Agent": "amanat-bench"}
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        socket_errors = bad_status = anon = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn = http.client.HTTPConnection(host, port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                socket_errors += 1
                continue
            finally:
                conn.close()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                bad_status += 1
            elif SIGNED_IN_MARKER.encode() not in body:
                anon += 1
        with lock:
            latencies.extend(mine)
            counts["socket"] += socket_errors
            counts["status"] += bad_status
            counts["anon"] += anon

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(worker) for _ in range(connections)]:
            future.result()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "req/s": len(latencies) / wall,
        "p50 ms": ms(percentile(latencies, 50)),
        "p95 ms": ms(percentile(latencies, 95)),
        "p99 ms": ms(percentile(latencies, 99)),
        "max ms": ms(max(latencies)) if latencies else float("nan"),
        "socket errors": counts["socket"],
        "non-200": counts["status"],
        "not signed in": counts["anon"],
    }


class Pages(Benchmark):
    name = "pages"
    title = "Signed-in pages under load (gunicorn sync workers)"
    columns = ("page", "conc", "client", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
               "max ms", "socket errors", "non-200", "not signed in")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--pages-duration", type=float, default=15.0, metavar="S",
                            help="seconds per page and concurrency")
        parser.add_argument("--pages-concurrency", default="8,16", metavar="LIST",
                            help="comma-separated concurrent connections")
        parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                            help="load client (auto: wrk if installed)")

    def prepare(self, ctx: Context) -> None:
        log(f"[{ctx.kind}] seeding 1 account for the page load")
        self.person: Person = seed_users(ctx.app, 1, "pages")[0]

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        server = ctx.server()
        client = _client_choice(self.args.client)
        self.client_used = client
        browser = Browser(server.host, server.port)
        sign_in(browser, self.person)
        check_signed_in(browser)
        cookie = f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}"
        runner = run_wrk if client == "wrk" else run_python
        levels = [int(v) for v in str(self.args.pages_concurrency).split(",") if v.strip()]
        rows = []
        for path in PAGES:
            for _ in range(10):  # warm-up: templates compiled in both workers
                if browser.get(path).status != 200:
                    raise BenchHTTPError(f"warm-up GET {path} is not 200")
            for connections in levels:
                log(f"[{ctx.kind}] GET {path} with {connections} connections for "
                    f"{self.args.pages_duration:g}s ({client})")
                result = runner(server.host, server.port, path, cookie, connections,
                                self.args.pages_duration)
                check_signed_in(browser)  # the session is still alive after the run
                rows.append({"page": path, "conc": connections, "client": client, **result})
        return rows

    def notes(self) -> list[str]:
        return [
            f"{self.args.workers} sync gunicorn workers; the load client runs on the same "
            "machine and shares its cores.",
            "One signed-in session replayed by every connection; the session row is written at "
            "most once a minute per session, so these GETs mostly read.",
            "'non-200' counts any other status (a redirect to /login included); 'not signed in' "
            "counts 200 pages without the sign-out form. Latency percentiles from the client.",
        ]
