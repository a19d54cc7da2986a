"""Query-planner statistics: SQLite gets them when the caseload grows; `amanat optimize` on both."""

from __future__ import annotations

import pytest

from app import database
from app.extensions import db
from app.services import cases
from tests.conftest import ON_POSTGRES
from tests.factories import actor


def _open_cases(app, owner, n: int) -> None:
    with app.app_context():
        user = actor(owner)
        for i in range(n):
            cases.open_case(user, {"title": f"Case {i}", "summary": ""})
        db.session.commit()


SQLITE_ONLY = pytest.mark.skipif(ON_POSTGRES, reason="PostgreSQL's autovacuum keeps its statistics")


@SQLITE_ONLY
def test_sqlite_statistics_are_taken_once_the_caseload_grows(app, caseworker, monkeypatch):
    monkeypatch.setattr(database, "STATISTICS_MIN_CASES", 3)
    with app.app_context():
        assert not database.sqlite_statistics_stale()  # an empty database needs none
    _open_cases(app, caseworker, 4)
    with app.app_context():
        assert database.sqlite_statistics_stale()
        database.refresh_statistics()
        assert not database.sqlite_statistics_stale()
        rows = db.session.execute(db.text(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'cases'")).scalars().all()
        assert rows and all(int(stat.split()[0]) == 4 for stat in rows)
    _open_cases(app, caseworker, 4)  # grew by more than half
    with app.app_context():
        assert database.sqlite_statistics_stale()


@SQLITE_ONLY
def test_a_running_server_refreshes_stale_statistics_after_a_request(app, caseworker,
                                                                      caseworker_client,
                                                                      monkeypatch):
    monkeypatch.setattr(database, "STATISTICS_MIN_CASES", 3)
    monkeypatch.setattr(database, "STATISTICS_CHECK_SECONDS", 0)
    _open_cases(app, caseworker, 5)
    with app.app_context():
        assert database.sqlite_statistics_stale()
    assert caseworker_client.get("/cases/").status_code == 200
    with app.app_context():
        assert not database.sqlite_statistics_stale()


def test_optimize_command_refreshes_statistics(app, caseworker):
    _open_cases(app, caseworker, 2)
    result = app.test_cli_runner().invoke(args=["optimize"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert f"({db.engine.dialect.name})" in result.output
        if db.engine.dialect.name == "sqlite":
            count = db.session.execute(db.text(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'cases'")).scalar_one()
        else:
            count = db.session.execute(db.text(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'cases'")).scalar_one()
        assert count > 0
