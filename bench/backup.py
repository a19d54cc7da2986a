"""Backup and restore: seconds and MB/s for `amanat backup`, `amanat backup verify` and
`amanat restore` on N seeded cases with evidence, and seconds per 1,000 cases.

Seeding goes through the services (cases.open_case, people.add_person, evidence.add_evidence),
so rows, ciphertext, blind indexes, audit entries and encrypted evidence files are the real
thing. The restore goes into a new, migrated database of the same kind (a second SQLite file, or
a second PostgreSQL schema) with the same master key. In-process, no web server.

`python -m bench backup --backup-cases 200 --backup-evidence-kb 256` (the defaults: small).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.base import Benchmark
from bench.harness import Context, log

TARGET_CASES = 100_000
TARGET_EVIDENCE_BYTES_PER_CASE = 10**9


def seed_cases(app: Any, count: int, evidence_bytes: int) -> None:
    from app.extensions import db
    from app.models.users import User
    from app.services import accounts, cases, people
    from app.services import evidence as evidence_service

    with app.app_context():
        owner = accounts.create_user(None, name="Bench Backup Owner",
                                     email=f"backup-{secrets.token_hex(4)}@bench.amanat.test",
                                     role="caseworker")
        db.session.commit()
        owner = db.session.get(User, owner.id)
        line = (secrets.token_hex(40) + "\n").encode()
        for number in range(count):
            case = cases.open_case(owner, {"title": f"Bench case {number}",
                                           "summary": "Seeded for the backup benchmark."})
            people.add_person(owner, case, {"full_name": f"Bench Person {number}",
                                            "father_name": "Bench Father", "sex": "male"})
            if evidence_bytes:
                body = line * (evidence_bytes // len(line) + 1)
                evidence_service.add_evidence(
                    owner, case, io.BytesIO(body[:evidence_bytes]), filename="statement.txt",
                    declared_type="text/plain", description=None, collected_by=None,
                    collected_at=None, collected_from=None)
            if number % 50 == 49:
                db.session.commit()
        db.session.commit()
        db.session.remove()


def _tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file()) \
        if directory.exists() else 0


class Backup(Benchmark):
    name = "backup"
    title = "Backup and restore (in process): one archive of N cases with evidence"
    columns = ("cases", "evidence MB", "archive MB", "backup s", "backup MB/s", "verify s",
               "restore s", "restore MB/s", "backup s/1k cases", "restore s/1k cases")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--backup-cases", type=int, default=200, metavar="N",
                            help="cases seeded for the backup benchmark")
        parser.add_argument("--backup-evidence-kb", type=int, default=256, metavar="KB",
                            help="evidence file size per case (one file per case)")

    def prepare(self, ctx: Context) -> None:
        log(f"[{ctx.kind}] backup: seeding {self.args.backup_cases} cases with "
            f"{self.args.backup_evidence_kb} KiB of evidence each")
        seed_cases(ctx.app, self.args.backup_cases, self.args.backup_evidence_kb * 1024)

    def _target(self, ctx: Context) -> tuple[str, Path]:
        """A new, migrated, empty database of the same kind, and its instance directory."""
        import flask_migrate

        from app import create_app

        instance = ctx.instance.path / "restore-target"
        shutil.rmtree(instance, ignore_errors=True)
        instance.mkdir(mode=0o700)
        if ctx.kind == "sqlite":
            url = f"sqlite:///{instance / 'amanat.db'}"
        else:
            engine = create_engine(ctx.instance.url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS amanat_restore CASCADE"))
                conn.execute(text("CREATE SCHEMA amanat_restore"))
            engine.dispose()
            url = f"{ctx.instance.url}?options=-csearch_path%3Damanat_restore"
        shutil.copy2(ctx.instance.path / "master.key", instance / "master.key")
        app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": ctx.instance.secret,
                          "SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            flask_migrate.upgrade()
        return url, instance

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        from app import create_app
        from app.backup.backup import create_backup
        from app.backup.restore import restore_backup, verify_backup
        from app.extensions import db

        app = ctx.app
        path = ctx.instance.path / "bench.amanat-backup"
        path.unlink(missing_ok=True)
        evidence = _tree_bytes(Path(app.config["EVIDENCE_DIR"]))
        with app.app_context():
            started = time.perf_counter()
            made = create_backup(path)
            backup_s = time.perf_counter() - started
            started = time.perf_counter()
            verify_backup(path, lambda: "")
            verify_s = time.perf_counter() - started
            db.session.remove()
        url, instance = self._target(ctx)
        target = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": ctx.instance.secret,
                             "SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
        with target.app_context():
            started = time.perf_counter()
            restored = restore_backup(path, lambda: "")
            restore_s = time.perf_counter() - started
            db.session.remove()
            db.engine.dispose()
        cases = made.tables.get("cases", 0)
        assert restored.tables.get("cases") == cases
        size = os.path.getsize(path)
        path.unlink()
        per_k = 1000 / cases if cases else 0
        row = {"cases": cases, "evidence MB": f"{evidence / 1e6:.1f}",
               "archive MB": f"{size / 1e6:.1f}", "backup s": f"{backup_s:.2f}",
               "backup MB/s": f"{size / 1e6 / backup_s:.0f}", "verify s": f"{verify_s:.2f}",
               "restore s": f"{restore_s:.2f}",
               "restore MB/s": f"{size / 1e6 / restore_s:.0f}",
               "backup s/1k cases": f"{backup_s * per_k:.1f}",
               "restore s/1k cases": f"{restore_s * per_k:.1f}"}
        self._rows.append((ctx.kind, size, backup_s, restore_s, cases, evidence))
        return [row]

    _rows: list[tuple[str, int, float, float, int, int]] = []

    def notes(self) -> list[str]:
        lines = [f"{self.args.backup_cases} cases, each with 1 person and one "
                 f"{self.args.backup_evidence_kb} KiB evidence file; backup, verify and restore "
                 "run in this process against the local database; the archive is on the same "
                 "disk. MB/s is archive bytes over wall time."]
        for kind, size, backup_s, restore_s, cases, _evidence in self._rows:
            if not cases:
                continue
            scale = TARGET_CASES / cases
            target_bytes = TARGET_CASES * TARGET_EVIDENCE_BYTES_PER_CASE
            lines.append(
                f"{kind}: EXTRAPOLATED, not measured. 100,000 cases shaped like these: backup "
                f"{backup_s * scale / 60:.0f} min, restore {restore_s * scale / 60:.0f} min "
                f"(linear in cases). 100,000 x 1 GB of evidence = {target_bytes / 1e12:.0f} TB "
                f"at this run's {size / 1e6 / backup_s:.0f} / {size / 1e6 / restore_s:.0f} MB/s: "
                f"{target_bytes / (size / backup_s) / 86400:.1f} / "
                f"{target_bytes / (size / restore_s) / 86400:.1f} days (only meaningful when "
                "evidence dominates the archive, e.g. --backup-evidence-kb 1024), and as much "
                "disk again. See docs/backup.md, 'Scale'.")
        return lines
