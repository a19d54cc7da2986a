"""Snapshots of a bulk-seeded scale instance, so a re-run measures without seeding again.

`python -m bench scale --scale-cache`: the first run seeds and then snapshots the instance
(SQLite: the instance directory; PostgreSQL: `CREATE DATABASE amanat_scale_<N> TEMPLATE ...`,
plus the instance directory for the master key); later runs restore the snapshot and run the
migrations again, so a schema change since the snapshot is applied to the seeded data as an
upgrade would apply it in production. The snapshot lives in AMANAT_BENCH_CACHE (default
bench/out/cache) and is keyed by database kind and number of cases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.bulk_seed import SeedResult
from bench.harness import ROOT, Instance, log
from bench.seed import Person

CACHE = Path(os.environ.get("AMANAT_BENCH_CACHE") or ROOT / "bench" / "out" / "cache")


def _dir(instance: Instance, cases: int) -> Path:
    return CACHE / f"scale-{instance.kind}-{cases}"


def _template_name(cases: int) -> str:
    return f"amanat_scale_{cases}"


def _admin_engine(instance: Instance):  # type: ignore[no-untyped-def]
    url = make_url(instance.url).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _copy_database(instance: Instance, source: str, target: str) -> None:
    engine = _admin_engine(instance)
    try:
        with engine.connect() as conn:
            for name in (source, target):
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target}"'))
            conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source}"'))
    finally:
        engine.dispose()


def save(instance: Instance, cases: int, supervisor: Person, seed: SeedResult,
         case_ids: list[str]) -> None:
    """Snapshot the seeded instance (the app's connections are closed first)."""
    instance.close()
    target = _dir(instance, cases)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(instance.path, target / "instance")
    if instance.kind == "postgres":
        _copy_database(instance, make_url(instance.url).database, _template_name(cases))
    seed_fields = {f.name: getattr(seed, f.name) for f in fields(seed)}
    state = {"supervisor": asdict(supervisor) | {"id": str(supervisor.id)},
             "seed": seed_fields | {"rows": dict(seed.rows)}, "case_ids": case_ids}
    (target / "state.json").write_text(json.dumps(state), encoding="utf-8")
    log(f"[{instance.kind}] scale: snapshot saved in {target}")


def restore(instance: Instance, cases: int) -> dict[str, Any] | None:
    """Put a snapshot back into this instance and migrate it; None when there is none."""
    source = _dir(instance, cases)
    if not (source / "state.json").exists():
        return None
    instance.close()
    for item in (source / "instance").iterdir():
        destination = instance.path / item.name
        if item.is_dir():
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(item, destination)
        else:
            shutil.copy2(item, destination)
    if instance.kind == "postgres":
        _copy_database(instance, _template_name(cases), make_url(instance.url).database)
    done = subprocess.run([sys.executable, "-m", "bench.migrate"], cwd=ROOT, env=instance.env(),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"migrating the restored snapshot failed:\n{done.stdout}{done.stderr}")
    state = json.loads((source / "state.json").read_text(encoding="utf-8"))
    log(f"[{instance.kind}] scale: restored the snapshot of {cases:,} cases from {source}")
    return state


def person(data: dict[str, Any]) -> Person:
    import uuid

    return Person(id=uuid.UUID(data["id"]), email=data["email"], password=data["password"],
                  totp_secret=data["totp_secret"], last_step=None)


def seed_result(data: dict[str, Any]) -> SeedResult:
    result = SeedResult(**{k: v for k, v in data.items() if k != "rows"})
    result.rows.update(data["rows"])
    return result
