"""Fixtures: a migrated database (SQLite by default, PostgreSQL when asked), an app per test,
and users of every role who sign in through the real forms."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from tests.support import Person, make_user, sign_in

BASE_POSTGRES_URL = os.environ.get("AMANAT_TEST_DATABASE_URL", "")
ON_POSTGRES = BASE_POSTGRES_URL.startswith("postgresql")
# Each run works in its own schema of the shared `test` database, so parallel runs never collide.
PG_SCHEMA = f"amanat_test_{os.getpid()}"
POSTGRES_URL = (
    f"{BASE_POSTGRES_URL}{'&' if '?' in BASE_POSTGRES_URL else '?'}"
    f"options=-csearch_path%3D{PG_SCHEMA}" if ON_POSTGRES else ""
)
TEST_SECRET = "test-secret-key-4c8e1b0a9f7d2e6c5b3a1908f7e6d5c4b3a2"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": TEST_SECRET,
    # Fast hashing in tests only, by configuration; production defaults are m=64 MiB, t=3.
    "ARGON2_MEMORY_KIB": 8,
    "ARGON2_TIME_COST": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
    "SERVER_NAME": None,
}


def pytest_report_header(config: pytest.Config) -> str:
    return f"amanat database: {'PostgreSQL ' + POSTGRES_URL if ON_POSTGRES else 'SQLite'}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that touch the database are the ones re-run on PostgreSQL by scripts/run_tests.py.
    for item in items:
        if {"app", "database_url", "migrated_template"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def _pg_schema(action: str) -> None:
    engine = create_engine(BASE_POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        if action == "create":
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()


def _upgrade(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url,
                      "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory):
    """The schema built once per run by the real migrations (never by create_all)."""
    instance = tmp_path_factory.mktemp("template-instance")
    if ON_POSTGRES:
        _pg_schema("create")
        _upgrade(POSTGRES_URL, instance)
        _snapshot_seeded(POSTGRES_URL)
        yield POSTGRES_URL
        _pg_schema("drop")
        return
    path = tmp_path_factory.mktemp("template") / "amanat.db"
    _upgrade(f"sqlite:///{path}", instance)
    yield str(path)


# Reference data the migrations seed (vocabularies, districts): restored after each truncate.
SEEDED_TABLES = ("vocabulary_terms", "districts")
_seeded_rows: dict[str, list[dict]] = {}


def _snapshot_seeded(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        for name in SEEDED_TABLES:
            table = db.metadata.tables[name]
            _seeded_rows[name] = [dict(row._mapping) for row in conn.execute(table.select())]
    engine.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for name in SEEDED_TABLES:
            if _seeded_rows.get(name):
                conn.execute(db.metadata.tables[name].insert(), _seeded_rows[name])
        # Rows went back with their ids: move the id sequence past them.
        conn.execute(text("SELECT setval(pg_get_serial_sequence('vocabulary_terms', 'id'), "
                          "(SELECT max(id) FROM vocabulary_terms))"))
    engine.dispose()


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    """A clean, migrated database for one test."""
    if ON_POSTGRES:
        _truncate_postgres(migrated_template)
        return migrated_template
    path = tmp_path / "amanat.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def config_overrides() -> dict:
    """Tests override settings by redefining this fixture."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, config_overrides: dict):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    application = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
                              "INSTANCE_PATH": str(instance), **config_overrides})
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin(app) -> Person:
    return make_user(app, "admin", name="Farzana Admin")


@pytest.fixture
def supervisor(app) -> Person:
    return make_user(app, "supervisor", name="Saima Supervisor", teams=["Quetta"])


@pytest.fixture
def caseworker(app) -> Person:
    return make_user(app, "caseworker", name="Karim Caseworker", teams=["Quetta"])


@pytest.fixture
def analyst(app) -> Person:
    return make_user(app, "analyst", name="Asma Analyst")


@pytest.fixture
def admin_client(app, admin):
    c = app.test_client()
    assert sign_in(c, app, admin).status_code == 302
    return c


@pytest.fixture
def caseworker_client(app, caseworker):
    c = app.test_client()
    assert sign_in(c, app, caseworker).status_code == 302
    return c
