"""Figure 1: the full two-step sign-in over HTTP against gunicorn, one at a time and in a burst.

Round trip = GET /login, POST email+password (Argon2id verify), GET /login/verify, POST a TOTP
code (computed with pyotp) -> 302 to the home page. Every sign-in is checked afterwards with
GET / (outside the timing) to be really signed in.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.security import passwords
from bench.base import Benchmark
from bench.harness import Context, log
from bench.seed import Person, argon2_parameters, seed_users
from bench.stats import median, ms, percentile
from bench.webclient import SIGNED_IN_MARKER, BenchHTTPError, Browser, csrf_from, expect


def sign_in(browser: Browser, person: Person) -> dict[str, float]:
    """Sign in through the real forms; returns seconds per step and in total."""
    started = time.perf_counter()
    page = browser.get("/login")
    expect(page, 200, "GET /login")
    password = browser.post("/login", {"csrf_token": csrf_from(page.body),
                                       "email": person.email, "password": person.password})
    expect(password, 302, "POST /login", "/login/verify")
    verify = browser.get("/login/verify")
    expect(verify, 200, "GET /login/verify")
    code = browser.post("/login/verify", {"csrf_token": csrf_from(verify.body),
                                          "code": person.next_code()})
    expect(code, 302, "POST /login/verify")
    total = time.perf_counter() - started
    return {"total": total, "password": password.seconds, "code": code.seconds}


def check_signed_in(browser: Browser) -> None:
    home = browser.get("/")
    if home.status != 200 or SIGNED_IN_MARKER not in home.body:
        raise BenchHTTPError(f"not signed in after sign-in: {home.status} {home.location!r}")


class SignIn(Benchmark):
    name = "signin"
    title = "Sign-in round trip (password + TOTP, over HTTP, gunicorn)"
    columns = ("mode", "n", "median ms", "p95 ms", "min ms", "max ms", "password POST median ms",
               "sign-ins/s", "argon2 verify in-process ms")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--signin-n", type=int, default=30, metavar="N",
                            help="sign-ins per mode")
        parser.add_argument("--signin-concurrency", type=int, default=4, metavar="C",
                            help="parallel clients in the burst mode; 0 skips it")

    def prepare(self, ctx: Context) -> None:
        n = self.args.signin_n
        burst = n if self.args.signin_concurrency > 0 else 0
        total = n + burst + 2 * self.args.workers
        log(f"[{ctx.kind}] seeding {total} accounts for sign-in ({argon2_parameters(ctx.app)})")
        self.warmup = seed_users(ctx.app, 2 * self.args.workers, "warmup")
        self.sequential = seed_users(ctx.app, n, "signin")
        self.burst = seed_users(ctx.app, burst, "burst")

    def _argon2_ms(self, ctx: Context) -> float:
        with ctx.app.app_context():
            stored = passwords.hash_password("reference-password-for-timing")
            times = []
            for _ in range(5):
                started = time.perf_counter()
                passwords.verify_password(stored, "reference-password-for-timing")
                times.append(time.perf_counter() - started)
        return ms(median(times))

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        server = ctx.server()
        argon = self._argon2_ms(ctx)
        # Warm-up (not timed): a worker's first sign-in compiles templates and loads the keys.
        with ThreadPoolExecutor(self.args.workers) as pool:
            list(pool.map(lambda p: sign_in(Browser(server.host, server.port), p), self.warmup))

        log(f"[{ctx.kind}] {len(self.sequential)} sequential sign-ins")
        results = []
        started = time.perf_counter()
        for person in self.sequential:
            browser = Browser(server.host, server.port)
            results.append(sign_in(browser, person))
            check_signed_in(browser)
        rows = [self._row("sequential", results, time.perf_counter() - started, argon)]

        if self.burst:
            c = self.args.signin_concurrency
            log(f"[{ctx.kind}] {len(self.burst)} sign-ins by {c} parallel clients")
            lock = threading.Lock()
            queue = list(self.burst)
            burst_results: list[dict[str, float]] = []

            def client() -> None:
                while True:
                    with lock:
                        if not queue:
                            return
                        person = queue.pop()
                    browser = Browser(server.host, server.port)
                    result = sign_in(browser, person)
                    check_signed_in(browser)
                    with lock:
                        burst_results.append(result)

            started = time.perf_counter()
            with ThreadPoolExecutor(c) as pool:
                for future in [pool.submit(client) for _ in range(c)]:
                    future.result()
            rows.append(self._row(f"{c} parallel", burst_results,
                                  time.perf_counter() - started, argon))
        return rows

    @staticmethod
    def _row(mode: str, results: list[dict[str, float]], wall: float,
             argon: float) -> dict[str, Any]:
        totals = [r["total"] for r in results]
        return {
            "mode": mode,
            "n": len(results),
            "median ms": ms(median(totals)),
            "p95 ms": ms(percentile(totals, 95)),
            "min ms": ms(min(totals)),
            "max ms": ms(max(totals)),
            "password POST median ms": ms(median([r["password"] for r in results])),
            "sign-ins/s": len(results) / wall,
            "argon2 verify in-process ms": argon,
        }

    def notes(self) -> list[str]:
        return [
            "Each sign-in: new client, 4 requests (GET /login, POST password, GET /login/verify, "
            "POST TOTP code); checked afterwards with GET / (not timed).",
            "Argon2id at the production defaults (m=64 MiB, t=3, p=1); every account has its own "
            "hash. Throttling limits are the defaults: successful sign-ins do not count.",
            "p95 is nearest-rank. 'argon2 verify in-process' is one verify in the harness process "
            "(median of 5), for reference.",
        ]
