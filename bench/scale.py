"""Issues 4 and 6: pages at scale. `python -m bench scale [--db ...] [--scale-cases N]`.

prepare: bulk-seed N cases (bench.bulk_seed; default 100,000) with people, acts, sources and
testimony, 70 % of them in the team of one signed-in supervisor; the seeding time is reported.
run: under gunicorn (2 workers), one client signed in as that supervisor requests, one at a time:
the case list with several filter combinations, case pages, POST /search with filters and
GET /dashboard; p50/p95/max per endpoint. Then, in this process, the import of a bundle of
--scale-import cases (generated in memory by app.bundle.demo's case maker, serialised to JSON,
parsed by app.bundle.validate.parse and written by app.bundle.importer.import_bundle).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select

from bench import scale_cache
from bench.base import Benchmark
from bench.bulk_seed import bulk_seed
from bench.harness import Context, log
from bench.inproc import add_team, load_average
from bench.seed import Person, seed_users
from bench.signin import sign_in
from bench.stats import median, percentile
from bench.webclient import Browser, csrf_from

CASE_LIST = (
    ("case list, no filter", "/cases/"),
    ("case list, status=open", "/cases/?status=open"),
    ("case list, district", "/cases/?district=PK213"),
    ("case list, act type + dates", "/cases/?act_type=enforced_disappearance"
                                    "&date_from=2019-01-01&date_to=2020-12-31"),
    ("case list, perpetrator + status", "/cases/?perpetrator_type=state_intelligence"
                                        "&status=under_review"),
    ("case list, page 200", "/cases/?page=200"),
)
SEARCHES = (
    ("search: district + dates", {"district": "PK211", "date_from": "2020-01-01",
                                  "date_to": "2021-06-30"}),
    ("search: act type + perpetrator", {"act_type": "abduction",
                                        "perpetrator_type": "state_paramilitary"}),
    ("search: reliability + allegation", {"reliability": "B", "allegation_status": "corroborated"}),
    ("search: victim name (blind index)", {"full_name": "Bashir Marri"}),
)
DASHBOARDS = (
    ("dashboard, no filter", "/dashboard"),
    ("dashboard, district + dates", "/dashboard?district=PK211&date_from=2020-01-01"
                                    "&date_to=2022-12-31"),
)


class Scale(Benchmark):
    name = "scale"
    title = "Pages at scale (issues 4 and 6)"
    columns = ("endpoint", "cases", "n", "p50 ms", "p95 ms", "max ms", "target p95",
               "verdict", "load avg")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--scale-cases", type=int, default=100_000, metavar="N",
                            help="cases to bulk-seed")
        parser.add_argument("--scale-requests", type=int, default=40, metavar="N",
                            help="requests per endpoint (fewer when an endpoint is slow)")
        parser.add_argument("--scale-budget", type=float, default=25.0, metavar="S",
                            help="seconds at most per endpoint (at least 8 requests)")
        parser.add_argument("--scale-import", type=int, default=10_000, metavar="N",
                            help="cases in the imported bundle (0: skip)")
        parser.add_argument("--scale-cache", action="store_true",
                            help="reuse a snapshot of the seeded instance (made on first use; "
                                 "only when scale is the one benchmark run)")

    def prepare(self, ctx: Context) -> None:
        from app.extensions import db
        from app.models.users import Team
        from app.services import accounts

        n = self.args.scale_cases
        use_cache = self.args.scale_cache and self.args.benchmarks == ["scale"]
        if self.args.scale_cache and not use_cache:
            log(f"[{ctx.kind}] scale: --scale-cache ignored (other benchmarks share the instance)")
        if use_cache and (state := scale_cache.restore(ctx.instance, n)) is not None:
            self.supervisor = scale_cache.person(state["supervisor"])
            self.seed = scale_cache.seed_result(state["seed"])
            self.case_ids = state["case_ids"]
            self.load_before_seed = self.load_after_seed = "(snapshot)"
            return
        self.supervisor: Person = seed_users(ctx.app, 1, "scale-sup", role="supervisor")[0]
        team_a = add_team(ctx.app, f"Scale A {uuid.uuid4().hex[:6]}", [self.supervisor.id])
        team_b = add_team(ctx.app, f"Scale B {uuid.uuid4().hex[:6]}", [])
        owners: dict[uuid.UUID, list[uuid.UUID]] = {team_a: [], team_b: []}
        with ctx.app.app_context():
            for team_id, count in ((team_a, 8), (team_b, 4)):
                team = db.session.get(Team, team_id)
                for i in range(count):
                    user = accounts.create_user(
                        None, name=f"Scale caseworker {i}",
                        email=f"scale-cw-{i}-{uuid.uuid4().hex[:6]}@bench.amanat.test",
                        role="caseworker", teams=[team])
                    owners[team_id].append(user.id)
            db.session.commit()
            db.session.remove()
        log(f"[{ctx.kind}] scale: bulk-seeding {n:,} cases")
        self.load_before_seed = load_average()
        step = max(n // 10, 1)

        def progress(done: int) -> None:
            if done % step < 2000:
                log(f"[{ctx.kind}] scale: {done:,} cases seeded")

        self.seed = bulk_seed(ctx.app, n, team_a=team_a, team_b=team_b,
                              owners_a=owners[team_a], owners_b=owners[team_b], progress=progress)
        self.load_after_seed = load_average()
        log(f"[{ctx.kind}] scale: seeded in {self.seed.seconds:.0f} s ({dict(self.seed.rows)})")
        from app.models.cases import Case

        with ctx.app.app_context():
            self.case_ids = [str(c) for c in db.session.execute(
                select(Case.id).where(Case.team_id == team_a,
                                      Case.confidentiality == "normal").limit(5000)).scalars()]
            db.session.remove()
        random.Random(3).shuffle(self.case_ids)  # noqa: S311
        if use_cache:
            scale_cache.save(ctx.instance, n, self.supervisor, self.seed, self.case_ids)

    def _measure(self, ctx: Context, browser: Browser, label: str, request: Any,
                 target: float) -> dict[str, Any]:
        """Warm up, then time requests; an error or a timeout is reported as a row, not raised."""
        timings: list[float] = []
        row = {"endpoint": label, "cases": self.seed.cases, "target p95": f"< {target:.0f} ms",
               "load avg": load_average()}
        try:
            first = request(0)  # warm-up (templates, caches); also tells how slow it is
            if first.status != 200:
                raise RuntimeError(f"status {first.status} {first.body[:200]!r}")
            if first.seconds < 5:
                request(0)
            started = time.perf_counter()
            i = 0
            while i < self.args.scale_requests and (
                    i < (8 if first.seconds < 5 else 2)
                    or time.perf_counter() - started < self.args.scale_budget):
                i += 1
                response = request(i)
                if response.status != 200:
                    raise RuntimeError(f"status {response.status} {response.body[:200]!r}")
                timings.append(response.seconds)
        except Exception as error:  # noqa: BLE001 - a gunicorn timeout is a result here
            log(f"[{ctx.kind}] scale: {label}: FAILED after {len(timings)} requests: {error!r}")
            if ctx._server is not None:  # the worker may have been killed: restart the server
                ctx._server.stop()
                ctx._server = None
            self._browser = None
            return {**row, "n": len(timings), "p50 ms": "", "p95 ms": "", "max ms": "",
                    "verdict": f"FAILED: {type(error).__name__} (gunicorn timeout is 30 s)"}
        p95 = 1000 * percentile(timings, 95)
        log(f"[{ctx.kind}] scale: {label}: p95 {p95:.0f} ms over {len(timings)}")
        return {**row, "n": len(timings), "p50 ms": 1000 * median(timings), "p95 ms": p95,
                "max ms": 1000 * max(timings), "verdict": "met" if p95 < target else "MISSED",
                "load avg": load_average()}

    def browser(self, ctx: Context) -> Browser:
        if getattr(self, "_browser", None) is None:
            server = ctx.server()
            self._browser = Browser(server.host, server.port)
            sign_in(self._browser, self.supervisor)
        return self._browser

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        started = time.perf_counter()
        ctx.server()
        boot = time.perf_counter() - started
        log(f"[{ctx.kind}] scale: gunicorn healthy after {boot:.1f} s")
        self._browser = None
        rows: list[dict[str, Any]] = []
        for label, path in CASE_LIST:
            rows.append(self._measure(ctx, self.browser(ctx), label,
                                      lambda _i, p=path: self.browser(ctx).get(p), 150))
        ids = self.case_ids
        rows.append(self._measure(ctx, self.browser(ctx), "case page", lambda i: self.browser(
            ctx).get(f"/cases/{ids[i % len(ids)]}"), 150))
        for label, form in SEARCHES:
            token = csrf_from(self.browser(ctx).get("/search").body)
            rows.append(self._measure(ctx, self.browser(ctx), label,
                                      lambda _i, f=form, t=token: self.browser(ctx).post(
                                          "/search", {"csrf_token": t, **f}), 300))
        for label, path in DASHBOARDS:
            rows.append(self._measure(ctx, self.browser(ctx), label,
                                      lambda _i, p=path: self.browser(ctx).get(p), 300))
        rows.insert(0, {"endpoint": f"bulk seed ({dict(self.seed.rows)['people']:,} people, "
                                    f"{self.seed.rows['acts']:,} acts, "
                                    f"{self.seed.rows['testimonies']:,} testimonies)",
                        "cases": self.seed.cases, "n": 1,
                        "p50 ms": 1000 * self.seed.seconds, "p95 ms": "", "max ms": "",
                        "target p95": f"crypto {self.seed.crypto_seconds:.0f} s + insert "
                                      f"{self.seed.insert_seconds:.0f} s + ANALYZE "
                                      f"{self.seed.analyze_seconds:.0f} s",
                        "verdict": "", "load avg": f"{self.load_before_seed} -> "
                                                   f"{self.load_after_seed}"})
        rows.insert(1, {"endpoint": "gunicorn start to healthy (2 workers)",
                        "cases": self.seed.cases, "n": 1, "p50 ms": 1000 * boot, "p95 ms": "",
                        "max ms": "", "target p95": "", "verdict": "",
                        "load avg": load_average()})
        rows.extend(self.dashboard_cold(ctx))
        if self.args.scale_import:
            rows.append(self.bundle_import(ctx))
        return rows

    def dashboard_cold(self, ctx: Context) -> list[dict[str, Any]]:
        """The dashboard's counting with its cache off, in this process: what the first view
        after any change costs (the HTTP rows above are mostly answered from the cache)."""
        from app.analysis.dashboard import build_dashboard
        from app.analysis.scope import AnalysisFilters
        from app.extensions import db
        from app.models.users import User

        rows = []
        ctx.app.config["DASHBOARD_CACHE"] = False
        try:
            with ctx.app.app_context():
                actor = db.session.get(User, self.supervisor.id)
                for label, filters in (
                        ("no filter", AnalysisFilters()),
                        ("district + dates", AnalysisFilters(
                            district="PK211", date_from=date(2020, 1, 1),
                            date_to=date(2022, 12, 31)))):
                    build_dashboard(actor, filters)  # warm-up
                    timings = []
                    for _ in range(10):
                        started = time.perf_counter()
                        build_dashboard(actor, filters)
                        timings.append(time.perf_counter() - started)
                    p95 = 1000 * percentile(timings, 95)
                    log(f"[{ctx.kind}] scale: dashboard counting, cache off, {label}: p95 {p95:.0f} ms")
                    rows.append({"endpoint": f"dashboard counting with the cache off, {label} "
                                             "(in-process: first view after a change)",
                                 "cases": self.seed.cases, "n": len(timings),
                                 "p50 ms": 1000 * median(timings), "p95 ms": p95,
                                 "max ms": 1000 * max(timings), "target p95": "< 300 ms",
                                 "verdict": "met" if p95 < 300 else "MISSED",
                                 "load avg": load_average()})
                db.session.remove()
        finally:
            ctx.app.config["DASHBOARD_CACHE"] = True
        return rows

    def bundle_import(self, ctx: Context) -> dict[str, Any]:
        from app.bundle.importer import import_bundle
        from app.bundle.validate import parse
        from app.extensions import db
        from app.models.users import User
        from bench.crypto import demo_cases

        n = self.args.scale_import
        log(f"[{ctx.kind}] scale: generating a bundle of {n:,} cases in memory")
        raw = json.dumps({"format": "amanat-bundle", "version": 1,
                          "cases": demo_cases(n, seed=11)}, ensure_ascii=False).encode()
        with ctx.app.app_context():
            load_before = load_average()
            started = time.perf_counter()
            bundle = parse(raw, limit=len(raw) + 1)
            parsed = time.perf_counter() - started
            actor = db.session.get(User, self.supervisor.id)
            log(f"[{ctx.kind}] scale: importing {n:,} cases ({len(raw) / 2**20:.0f} MiB JSON)")
            summary = import_bundle(actor, bundle, source="bench")
            elapsed = time.perf_counter() - started
            db.session.remove()
        counts = summary.as_dict()
        return {"endpoint": f"bundle import {n:,} cases ({len(raw) / 2**20:.0f} MiB; "
                            f"{counts['people']:,} people, {counts['acts']:,} acts; parse "
                            f"{parsed:.1f} s; load before {load_before})",
                "cases": n, "n": 1, "p50 ms": 1000 * elapsed, "p95 ms": "", "max ms": "",
                "target p95": f"< 60 s for 10,000 (pro rata {60 * n / 10_000:.0f} s)",
                "verdict": "met (pro rata)" if elapsed < 60 * n / 10_000 else "MISSED (pro rata)",
                "load avg": load_average()}

    def notes(self) -> list[str]:
        return [
            "Bulk seed: rows with valid ciphertext (FieldCipher layout, per-person data keys "
            "wrapped under the master key, blind indexes from the app's indexer) inserted with "
            "SQLAlchemy Core executemany, 2,000 cases per transaction; no audit entries. "
            "70 % of cases in the supervisor's team; 3 % restricted.",
            "Latencies: one signed-in supervisor, one request at a time (no concurrency), "
            "client on the same 2 cores; 1-2 warm-up requests per endpoint are not counted. "
            "Each endpoint gets --scale-requests requests or --scale-budget seconds (at least 8; "
            "2 when one request takes over 5 s). A request that outlives gunicorn's 30 s worker "
            "timeout is reported as FAILED and the server is restarted for the next endpoint. "
            "'bulk seed', 'gunicorn start' and the import show total ms in the p50 column. "
            "PostgreSQL: ANALYZE after the bulk seed (autovacuum would do it in production).",
            "Bundle import: in this process, after the HTTP measurements, through "
            "app.bundle.validate.parse + import_bundle (every service rule, encryption and "
            "audit entry, one transaction), as the supervisor.",
        ]
