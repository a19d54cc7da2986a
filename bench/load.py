"""Figure 5: a realistic mixed load by caseworkers and supervisors (locust), then integrity checks.

`python -m bench load --db postgres [--users 55 --minutes 5 --spawn-rate 5 --load-workers 4]`

1. Seeds, through the services, with production Argon2id: 2 teams, (users - supervisors)
   caseworkers and `supervisors` supervisors (default 1 in 11 of --users: 50 + 5 for 55), each
   fully enrolled (password + TOTP seed), and --load-cases cases (one person, one act each),
   each assigned to 3 caseworkers of its team so that edits can meet.
2. Starts gunicorn with --load-workers sync workers and runs locust headless
   (bench/locust_amanat.py): each simulated user signs in once through the real forms and then
   lists cases (with filters), searches, views, edits (version field), opens cases with a person
   and an act, uploads small evidence files, and (supervisors) reviews the audit log, with 1-3 s of
   think time.
3. Stops gunicorn, then checks in the database that every case, person, act, evidence item and
   saved edit that a simulated user saw confirmed is there (and that no edit vanished: a case's
   version = 1 + its case.update entries = 1 + the edits confirmed to users), and runs the audit
   verification (app.audit.verify.run_verification, as `amanat audit verify` does).

Outcomes per request: ok, conflict (the edit form came back with the optimistic-lock message:
the app's designed answer to two people editing one case, counted apart and not as an error),
error (anything else unexpected; 5xx counted on their own). Latencies are client-side, nearest-rank
percentiles over every request of the run. Everything lands in bench/out/<db>/load/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench import machine
from bench.base import Benchmark
from bench.harness import BIN, ROOT, Context, Gunicorn, log
from bench.report import table
from bench.stats import percentile

LOCUSTFILE = Path(__file__).with_name("locust_amanat.py")
PASSWORD = "bench-load-" + secrets.token_urlsafe(12)  # throw-away, new every run
P95_TARGET_MS = 300.0
SAFE_ACTS = ("enforced_disappearance", "arbitrary_detention", "torture", "threat",
             "extrajudicial_killing", "arrest")


def _cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


class _Sampler(threading.Thread):
    """The 1-minute load average every 5 s while the load runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append(float(Path("/proc/loadavg").read_text().split()[0]))
            except (OSError, ValueError):
                pass
            self._stop_event.wait(5)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def seed(app: Any, caseworkers: int, supervisors: int, cases: int,
         directory: Path) -> dict[str, Any]:
    """Teams, enrolled accounts and cases through the services; writes accounts.json."""
    import pyotp

    from app.domain import dates
    from app.extensions import db
    from app.models.users import User
    from app.security import passwords
    from app.services import accounts, acts, people
    from app.services import cases as case_service
    from app.services.vocabularies import choices, districts

    rng = random.Random(20261125)
    out: dict[str, Any] = {"caseworker": [], "supervisor": [], "seeded_cases": {}}
    with app.app_context():
        admin = accounts.create_user(None, name="Bench Load Admin",
                                     email=f"load-admin-{secrets.token_hex(3)}@bench.amanat.test",
                                     role="admin")
        teams = [accounts.create_team(admin, f"Bench team {name} {secrets.token_hex(2)}")
                 for name in ("Kech", "Quetta")]
        db.session.commit()
        members: dict[str, list[list[Any]]] = {"caseworker": [[], []], "supervisor": [[], []]}
        for role, count in (("caseworker", caseworkers), ("supervisor", supervisors)):
            for index in range(count):
                team = index % 2
                email = f"load-{role}-{index:03d}-{secrets.token_hex(3)}@bench.amanat.test"
                user = accounts.create_user(None, name=f"Bench {role.title()} {index:03d}",
                                            email=email, role=role, teams=[teams[team]])
                user.password_hash = passwords.hash_password(PASSWORD)
                secret = accounts.start_totp_enrolment(user)
                # Enrol with the previous step's code: this step and the next stay for sign-in.
                totp = pyotp.TOTP(secret)
                accounts.confirm_totp_enrolment(
                    user, totp.generate_otp(totp.timecode(time.time()) - 1))
                db.session.commit()
                out[role].append({"email": email, "password": PASSWORD, "totp_secret": secret,
                                  "last_step": user.totp_last_step, "team": team})
                members[role][team].append(user.id)
        act_types = [c for c, _ in choices("act_type") if c in SAFE_ACTS] or \
            [c for c, _ in choices("act_type") if "sexual" not in c and "rape" not in c]
        district_codes = [d.code for d in districts()]
        for number in range(cases):
            team = number % 2
            workers = [db.session.get(User, i) for i in rng.sample(members["caseworker"][team],
                                                                   min(4, len(members["caseworker"][team])))]
            boss = db.session.get(User, rng.choice(members["supervisor"][team]
                                                   or members["supervisor"][0]))
            owner = workers[0]
            case = case_service.open_case(owner, {
                "title": f"Bench seeded case {number}", "summary": "Seeded for the load run.",
                "team_id": teams[team].id})
            person = people.add_person(owner, case, {
                "full_name": f"Bench Person {number}", "father_name": "Bench Father",
                "sex": "male", "age": 20 + number % 40})
            acts.add_act(owner, case, {
                "act_type": rng.choice(act_types), "victim_id": person.id,
                "district_code": rng.choice(district_codes) if district_codes else None,
                "status_of_victim": "unknown"},
                dates.parse(rng.choice(("2024-05-02", "June 2025", "2023", "2025-01-15"))))
            if boss is not None and boss.teams and boss.teams[0].id == teams[team].id:
                case_service.assign(boss, case, workers[1:])
            db.session.commit()
            out["seeded_cases"][str(case.id)] = case.version
        db.session.remove()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "accounts.json"
    path.write_text(json.dumps(out), encoding="utf-8")
    path.chmod(0o600)
    return out


def check_database(app: Any, records: dict[str, Any], seeded: dict[str, int]) -> dict[str, Any]:
    """Look for every confirmed write; count what is missing or wrong."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.acts import Act
    from app.models.audit import AuditEntry
    from app.models.cases import Case
    from app.models.evidence import EvidenceItem
    from app.models.people import Person

    result: dict[str, Any] = {"checked": Counter(), "missing": Counter(), "examples": []}

    def bad(kind: str, text: str) -> None:
        result["missing"][kind] += 1
        if len(result["examples"]) < 20:
            result["examples"].append(f"{kind}: {text}")

    with app.app_context():
        for rec in records["cases"]:
            result["checked"]["cases"] += 1
            case = db.session.get(Case, uuid.UUID(rec["id"]))
            if case is None:
                bad("cases", f"{rec['id']} not in the database")
            elif rec.get("reference") and case.reference != rec["reference"]:
                bad("cases", f"{rec['id']} reference {case.reference} != {rec['reference']}")
            elif not case.title or not (case.title == rec["title"]
                                        or case.title.startswith("Bench case edited")):
                bad("cases", f"{rec['id']} title {case.title!r} != {rec['title']!r}")
        by_case: dict[str, list[str]] = defaultdict(list)
        for rec in records["people"]:
            by_case[rec["case_id"]].append(rec["full_name"])
        for case_id, names in by_case.items():
            stored = Counter(p.full_name for p in db.session.execute(
                select(Person).where(Person.case_id == uuid.UUID(case_id))).scalars())
            for name in names:
                result["checked"]["people"] += 1
                if stored[name] < 1:
                    bad("people", f"{name!r} not in case {case_id}")
                stored[name] -= 1
        for rec in records["acts"]:
            result["checked"]["acts"] += 1
            act = db.session.get(Act, uuid.UUID(rec["id"])) if rec.get("id") else None
            if act is None or str(act.case_id) != rec["case_id"] or \
                    act.act_type != rec["act_type"]:
                bad("acts", f"{rec.get('id')} in case {rec['case_id']}")
        for rec in records["evidence"]:
            result["checked"]["evidence"] += 1
            item = db.session.get(EvidenceItem, uuid.UUID(rec["id"])) if rec.get("id") else None
            if item is None or str(item.case_id) != rec["case_id"] or \
                    item.sha256 != rec["sha256"] or item.size != rec["size"]:
                bad("evidence", f"{rec.get('id')} in case {rec['case_id']}")
        # Edits: every save confirmed to a user has its case.update entry and version bump.
        saved = Counter(r["case_id"] for r in records["edits"] if r["outcome"] == "saved")
        markers: dict[str, set[str]] = defaultdict(set)
        for r in records["edits"]:
            if r["outcome"] == "saved":
                markers[r["case_id"]].add(r["marker"])
        created = {r["id"] for r in records["cases"]}
        updates = dict(db.session.execute(
            select(AuditEntry.case_id, func.count()).where(AuditEntry.action == "case.update")
            .group_by(AuditEntry.case_id)).all())
        for case_id, count in saved.items():
            result["checked"]["edits"] += count
            case = db.session.get(Case, uuid.UUID(case_id))
            base = seeded.get(case_id, 1 if case_id in created else None)
            entries = updates.get(uuid.UUID(case_id), 0)
            if case is None:
                bad("edits", f"case {case_id} is gone")
                continue
            if entries != count:
                bad("edits", f"case {case_id}: {count} saves confirmed, {entries} case.update "
                             "entries")
            if base is not None and case.version != base + count:
                bad("edits", f"case {case_id}: version {case.version}, expected {base} + {count}")
            if not any(m in (case.title or "") for m in markers[case_id]):
                bad("edits", f"case {case_id}: title {case.title!r} is none of the saved edits")
        db.session.remove()
    return result


def verify_audit(app: Any) -> dict[str, Any]:
    """What `amanat audit verify` does: verify, checkpoint if grown, record the outcome."""
    from app.audit.verify import run_verification
    from app.extensions import db

    with app.app_context():
        started = time.perf_counter()
        report = run_verification(None, "cli")
        db.session.commit()
        result = {"ok": report.ok, "entries": report.entries,
                  "checkpoints": report.checkpoints_checked,
                  "seconds": time.perf_counter() - started,
                  "problems": [f"{p.kind}: {p.message}" for p in report.problems[:10]]}
        db.session.remove()
    return result


def summarise(requests: list[list[Any]], seconds: float) -> list[dict[str, Any]]:
    """Rows per kind of request: count, rate, nearest-rank percentiles, errors, 5xx, conflicts."""
    groups: dict[str, list[list[Any]]] = {"all requests": requests,
                                          "page loads (GET)": [], "form posts (POST)": [],
                                          "sign-in (4 steps)": []}
    for r in requests:
        if r[4] == "sign-in":
            groups["sign-in (4 steps)"].append(r)
        elif r[2] == "GET":
            groups["page loads (GET)"].append(r)
        else:
            groups["form posts (POST)"].append(r)
    return [_row(name, rows, seconds) for name, rows in groups.items()]


def _row(name: str, rows: list[list[Any]], seconds: float) -> dict[str, Any]:
    times = [r[6] for r in rows]
    errors = sum(1 for r in rows if r[7] == "error")
    return {"requests": name, "n": len(rows), "req/s": len(rows) / seconds if seconds else 0.0,
            "p50 ms": percentile(times, 50), "p95 ms": percentile(times, 95),
            "p99 ms": percentile(times, 99), "max ms": max(times) if times else float("nan"),
            "errors": errors, "error %": 100.0 * errors / len(rows) if rows else 0.0,
            "5xx": sum(1 for r in rows if r[5] >= 500),
            "conflicts": sum(1 for r in rows if r[7] == "conflict")}


def per_endpoint(requests: list[list[Any]], seconds: float) -> list[list[Any]]:
    names: dict[str, list[list[Any]]] = defaultdict(list)
    for r in requests:
        names[r[3]].append(r)
    out = []
    for name in sorted(names, key=lambda n: -len(names[n])):
        row = _row(name, names[name], seconds)
        out.append([name, row["n"], row["p50 ms"], row["p95 ms"], row["p99 ms"], row["max ms"],
                    row["errors"], row["5xx"], row["conflicts"]])
    return out


def server_log_problems(path: Path, offset: int) -> list[str]:
    """Lines of the gunicorn log written during the run that tell of an error."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    pattern = re.compile(r"Traceback|\[ERROR\]|\[CRITICAL\]|WORKER TIMEOUT|Exception|Error:|"
                         r"SIGKILL|exited with code", re.I)
    return [line for line in text.splitlines() if pattern.search(line)]


class Load(Benchmark):
    name = "load"
    title = "Mixed load: caseworkers and supervisors in locust, gunicorn, integrity checked after"
    columns = ("requests", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
               "error %", "5xx", "conflicts")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("load")
        group.add_argument("--users", dest="load_users", type=int, default=55, metavar="N",
                           help="simulated users (1 in 11 a supervisor, at least 1)")
        group.add_argument("--minutes", dest="load_minutes", type=float, default=5.0,
                           metavar="M", help="length of the load run")
        group.add_argument("--spawn-rate", dest="load_spawn_rate", type=float, default=5.0,
                           metavar="R", help="users started per second")
        group.add_argument("--load-workers", type=int, default=4, metavar="W",
                           help="gunicorn sync workers for the load run")
        group.add_argument("--load-cases", type=int, default=120, metavar="N",
                           help="cases seeded before the run (3 caseworkers each)")
        group.add_argument("--load-supervisors", type=int, default=0, metavar="N",
                           help="supervisors among --users (0: one in 11, at least 1)")

    def _split(self) -> tuple[int, int]:
        users = self.args.load_users
        sups = self.args.load_supervisors or max(1, round(users / 11))
        sups = min(sups, users - 1) if users > 1 else 1
        return users - sups, sups

    def prepare(self, ctx: Context) -> None:
        caseworkers, supervisors = self._split()
        self.dir = ctx.instance.path / "load"
        log(f"[{ctx.kind}] load: seeding 2 teams, {caseworkers} caseworkers, {supervisors} "
            f"supervisors (production Argon2) and {self.args.load_cases} cases")
        started = time.perf_counter()
        self.seeded = seed(ctx.app, caseworkers, supervisors, self.args.load_cases, self.dir)
        log(f"[{ctx.kind}] load: seeded in {time.perf_counter() - started:.0f} s")

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        args = self.args
        seconds = int(round(args.load_minutes * 60))
        server = Gunicorn(ctx.instance, workers=args.load_workers,
                          extra_env=self.server_env())
        log_offset = server.log_path.stat().st_size if server.log_path.exists() else 0
        command = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless",
                   "-u", str(args.load_users), "-r", f"{args.load_spawn_rate:g}",
                   "-t", f"{seconds}s", "--stop-timeout", "30", "--csv", str(self.dir / "locust"),
                   "--only-summary", "--loglevel", "WARNING"]
        sampler = _Sampler()
        try:
            server.start()
            command[command.index("--headless") + 1:command.index("--headless") + 1] = \
                ["--host", f"http://{server.host}:{server.port}"]
            self.command = " ".join(command[1:]).replace(str(ROOT) + "/", "")
            log(f"[{ctx.kind}] load: locust {args.load_users} users for {seconds} s against "
                f"{args.load_workers} gunicorn workers")
            load_before = machine.load_average()
            cpu_before = _cpu_busy()
            sampler.start()
            started = time.perf_counter()
            env = {**os.environ, "BENCH_LOAD_DIR": str(self.dir),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")]))}
            env = {k: v for k, v in env.items() if not k.startswith("AMANAT_")}
            with open(self.dir / "locust.log", "wb") as out:
                done = subprocess.run(command, cwd=ROOT, env=env, stdout=out,
                                      stderr=subprocess.STDOUT, timeout=seconds + 240,
                                      check=False)
            wall = time.perf_counter() - started
            sampler.stop()
            cpu_after = _cpu_busy()
            load_after = machine.load_average()
        finally:
            sampler.stop()
            server.stop()
        records_path = self.dir / "records.json"
        if not records_path.exists():
            raise RuntimeError(f"locust wrote no records (exit {done.returncode}); see "
                               f"{self.dir / 'locust.log'}")
        records = json.loads(records_path.read_text(encoding="utf-8"))
        requests = records["requests"]
        span = (max(r[0] for r in requests) - min(r[0] for r in requests)) if requests else wall

        writes = sum(len(records[k]) for k in ("cases", "people", "acts", "evidence", "edits"))
        log(f"[{ctx.kind}] load: checking {writes} recorded writes in the database and "
            "verifying the audit log")
        integrity = check_database(ctx.app, records, self.seeded["seeded_cases"])
        audit = verify_audit(ctx.app)
        server_problems = server_log_problems(server.log_path, log_offset)
        busy = cpu_after[0] - cpu_before[0]
        total = cpu_after[1] - cpu_before[1]
        self.conditions = {
            "load before": load_before, "load after": load_after,
            "load 1-min during (mean / max)": (
                f"{sum(sampler.samples) / len(sampler.samples):.2f} / {max(sampler.samples):.2f}"
                if sampler.samples else "unknown"),
            "machine CPU busy": f"{100.0 * busy / total:.0f} %" if total else "unknown",
            "locust exit code": done.returncode, "locust wall s": round(wall, 1),
        }
        rows = summarise(requests, span)
        self._report(ctx, rows, requests, span, records, integrity, audit, server_problems)
        summary = {"command": self.command, "conditions": self.conditions, "rows": rows,
                   "endpoints": per_endpoint(requests, span),
                   "integrity": {"checked": dict(integrity["checked"]),
                                 "missing": dict(integrity["missing"]),
                                 "examples": integrity["examples"]},
                   "audit": audit, "server_log_problems": server_problems[:50],
                   "client_problems": records["problems"][:200],
                   "edits": dict(Counter(e["outcome"] for e in records["edits"])),
                   "sign_ins": len(records["sign_ins"])}
        (self.dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str),
                                               encoding="utf-8")
        failures = []
        if sum(integrity["missing"].values()):
            failures.append(f"lost or wrong writes: {dict(integrity['missing'])}")
        if not audit["ok"]:
            failures.append(f"audit verification failed: {audit['problems'][:3]}")
        if failures:
            raise RuntimeError("; ".join(failures))
        return rows

    def _report(self, ctx: Context, rows: list[dict[str, Any]], requests: list[list[Any]],
                span: float, records: dict[str, Any], integrity: dict[str, Any],
                audit: dict[str, Any], server_problems: list[str]) -> None:
        lines = [f"\nLoad run on {ctx.kind}: {self.command}", ""]
        lines.append(table(("requests", *self.columns[1:]),
                           [[r[c] for c in self.columns] for r in rows]))
        lines += ["", "Per request (ms, nearest-rank):"]
        lines.append(table(("request", "n", "p50", "p95", "p99", "max", "errors", "5xx",
                            "conflicts"), per_endpoint(requests, span)))
        edits = Counter(e["outcome"] for e in records["edits"])
        stale = Counter(e["outcome"] for e in records["edits"]
                        if e["stale"] and e["attempt"] == 1)
        page = next(r for r in rows if r["requests"] == "page loads (GET)")
        everything = rows[0]
        checked, missing = integrity["checked"], integrity["missing"]
        lines += [
            "",
            f"Sign-ins completed: {len(records['sign_ins'])} of {self.args.load_users}.",
            f"Edits: {edits.get('saved', 0)} saved, {edits.get('conflict', 0)} conflict pages "
            f"({stale.get('conflict', 0)} from a second tab saved on purpose after the first, "
            f"{edits.get('conflict', 0) - stale.get('conflict', 0)} from people editing at once "
            f"or after a conflict), {edits.get('failed', 0)} failed otherwise; second tabs "
            f"saved WITHOUT a conflict (an overwrite): {stale.get('saved', 0)}.",
            "Writes confirmed to users and found in the database: " + ", ".join(
                f"{k} {checked[k] - missing.get(k, 0)}/{checked[k]}"
                for k in ("cases", "people", "acts", "evidence", "edits")),
            f"Audit verification: {'PASSED' if audit['ok'] else 'FAILED'}, {audit['entries']:,} "
            f"entries, {audit['checkpoints']} checkpoints, {audit['seconds']:.1f} s"
            + ("" if audit["ok"] else f": {audit['problems'][:3]}"),
            f"Server log lines with errors during the run: {len(server_problems)}",
            "Conditions: " + "; ".join(f"{k} {v}" for k, v in self.conditions.items()),
            "",
            "Targets: zero lost writes "
            + ("MET" if not sum(missing.values()) else f"MISSED ({dict(missing)})")
            + f"; zero 5xx {'MET' if everything['5xx'] == 0 else 'MISSED'} "
            f"({everything['5xx']}); page-load p95 < {P95_TARGET_MS:.0f} ms "
            + ("MET" if page["p95 ms"] < P95_TARGET_MS else "MISSED")
            + f" ({page['p95 ms']:.0f} ms); errors {everything['errors']} "
            f"({everything['error %']:.2f} %).",
        ]
        if integrity["examples"]:
            lines += ["", "Missing or wrong writes (first 20):",
                      *[f"  {e}" for e in integrity["examples"]]]
        problems = records["problems"]
        if problems:
            kinds = Counter(re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "[id]", p[2])[:160]
                            for p in problems)
            lines += ["", f"Client-side problems ({len(problems)}), by kind:",
                      *[f"  {n:5d}  {k}" for k, n in kinds.most_common(15)]]
        if server_problems:
            lines += ["", "Server log (first 15 error lines):",
                      *[f"  {line[:200]}" for line in server_problems[:15]]]
        text = "\n".join(lines)
        print(text, flush=True)
        (self.dir / "report.txt").write_text(text + "\n", encoding="utf-8")

    def notes(self) -> list[str]:
        caseworkers, supervisors = self._split()
        return [
            f"{caseworkers} caseworkers + {supervisors} supervisors (locust, 1-3 s think time, "
            f"{self.args.load_spawn_rate:g} users/s ramp-up), {self.args.load_workers} sync "
            "gunicorn workers; locust, gunicorn and the database share the machine's cores.",
            "Each user signs in once (password with production Argon2id + TOTP), then lists, "
            "filters, searches, views, edits, opens cases (+ person + act), uploads evidence; "
            "supervisors also review the audit log. Sign-in requests are in 'all requests' "
            "and their own row, not in 'page loads'.",
            "conflicts = edit forms answered with the optimistic-lock message (by design; 10 % "
            "of edits also save a second tab opened before the first was saved, a conflict on "
            "purpose); not counted as errors. After a conflict the user saves again.",
            "Details: bench/out/<db>/load/report.txt, summary.json, records.json, locust_*.csv.",
        ]
