"""Engine set-up per dialect: SQLite pragmas and writer serialisation; PostgreSQL needs none."""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.extensions import db


def configure_engine(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
            keep_statistics_fresh(app)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control from pysqlite so we can BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _indexed_by(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # SQLAlchemy renders no table hints for SQLite: a statement run with
        # `execution_options(sqlite_indexed_by=(table, index))` gets `INDEXED BY` here (the
        # search's newest-first walk of a large result). Every other statement passes unchanged.
        hint = context.execution_options.get("sqlite_indexed_by") if context is not None else None
        if hint:
            table, index = hint
            statement = statement.replace(f"FROM {table} ", f"FROM {table} INDEXED BY {index} ", 1)
        return statement, parameters

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # SQLite allows one writer; taking the write lock at BEGIN means a transaction that read
        # first never fails later with "database is locked" (SQLITE_BUSY_SNAPSHOT) when it writes.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- Query-planner statistics ----------------------------------------------------------------
# SQLite plans without statistics until someone runs ANALYZE; at 100,000 cases its guesses made
# the case list sort every visible case (bench/RESULTS.md, "Pages at scale"). PostgreSQL's
# autovacuum keeps its own statistics; `amanat optimize` refreshes them after a large import.

STATISTICS_MIN_CASES = 1000  # below this every plan is fast enough
STATISTICS_CHECK_SECONDS = 600  # how often a running server looks whether they went stale
ANALYSIS_LIMIT = 1000  # rows sampled per index: ANALYZE stays fast at any size


def refresh_statistics() -> str:
    """Run ANALYZE now (bounded sampling on SQLite). Returns the dialect's name."""
    engine = db.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return engine.dialect.name


def sqlite_statistics_stale() -> bool:
    """True when SQLite has no statistics for a database of some size, or when the number of
    cases changed by more than half since they were taken."""
    with db.engine.connect() as conn:
        try:
            cases = conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one()
        except OperationalError:  # not migrated yet
            return False
        known = None
        if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
            stat = conn.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'cases' LIMIT 1").scalar()
            known = int(stat.split()[0]) if stat else 0
        conn.rollback()
    if known is None:
        return cases >= STATISTICS_MIN_CASES
    return abs(cases - known) > max(STATISTICS_MIN_CASES, known // 2)


def keep_statistics_fresh(app: Flask) -> None:
    """SQLite: refresh statistics at start and, at most every few minutes, after a request."""
    if db.engine.dialect.name != "sqlite" or not app.config.get("REFRESH_PLANNER_STATISTICS", True):
        return
    state = {"checked": 0.0}

    def check() -> None:
        state["checked"] = time.monotonic()
        if sqlite_statistics_stale():
            refresh_statistics()

    check()

    @app.teardown_request
    def _maybe_refresh(_error: BaseException | None) -> None:
        if time.monotonic() - state["checked"] >= STATISTICS_CHECK_SECONDS:
            try:
                check()
            except OperationalError:  # busy or read-only: try again next time
                pass
