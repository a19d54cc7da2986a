"""`make test`: the whole suite on SQLite, then every database test again on PostgreSQL.

PostgreSQL is taken from AMANAT_TEST_POSTGRES_URL (default: the local server on 127.0.0.1:5432,
database `test`). If it cannot be reached, a newcomer's run says so plainly and skips it; with
AMANAT_REQUIRE_POSTGRES=1 (set by .ci/run) the run fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NO_TESTS_COLLECTED = 5


def banner(text: str) -> None:
    line = "=" * max(60, len(text) + 4)
    print(f"\n{line}\n  {text}\n{line}\n", flush=True)


def pytest(extra_env: dict[str, str], args: list[str]) -> int:
    env = {**os.environ, **extra_env}
    code = subprocess.call([sys.executable, "-m", "pytest", *args], env=env)  # noqa: S603
    if code == NO_TESTS_COLLECTED:
        print("pytest collected no tests: that is a failure, not a pass.", flush=True)
        return 1
    return code


def postgres_reachable(url: str) -> str | None:
    """None when a connection works, else the reason it does not."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return str(error).strip().splitlines()[0]
    return None


def main(argv: list[str]) -> int:
    banner("Amanat tests on SQLite")
    sqlite_code = pytest({"AMANAT_TEST_DATABASE_URL": ""}, argv)

    url = os.environ.get("AMANAT_TEST_POSTGRES_URL", DEFAULT_PG)
    required = os.environ.get("AMANAT_REQUIRE_POSTGRES") == "1"
    problem = postgres_reachable(url)
    if problem:
        if required:
            banner(f"FAILED: PostgreSQL is required but unreachable at {url}: {problem}")
            return 1
        banner(f"PostgreSQL run SKIPPED: no server at {url} ({problem}). "
               "Only SQLite was tested.")
        return sqlite_code
    banner(f"Amanat database tests on PostgreSQL ({url})")
    pg_code = pytest({"AMANAT_TEST_DATABASE_URL": url}, ["-m", "db", *argv])
    print(f"\nSQLite run: {'passed' if sqlite_code == 0 else 'FAILED'}; "
          f"PostgreSQL run: {'passed' if pg_code == 0 else 'FAILED'}", flush=True)
    return sqlite_code or pg_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
