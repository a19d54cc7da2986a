"""On PostgreSQL the application role, granted as deploy/postgres-roles.sql grants it, can append
to the audit trail and read it, but cannot UPDATE, DELETE or TRUNCATE it."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import ProgrammingError

from app.audit.recorder import record
from app.audit.verify import verify_log
from app.extensions import db
from app.models.audit import AuditEntry
from tests.conftest import BASE_POSTGRES_URL, ON_POSTGRES, PG_SCHEMA

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="database roles are a PostgreSQL feature")

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "postgres-roles.sql"


def _app_grants(app_role: str, owner_role: str) -> list[str]:
    """The script's app-grant block with its psql variables filled in, as statements."""
    script = SCRIPT.read_text(encoding="utf-8")
    block = script.split("-- BEGIN app grants")[1].split("-- END app grants")[0]
    block = block.split("\n", 1)[1]  # drop the rest of the marker line
    values = {"schema": PG_SCHEMA, "app_role": app_role, "owner_role": owner_role}
    block = re.sub(r':"(\w+)"', lambda m: '"' + values[m.group(1)] + '"', block)
    lines = [line for line in block.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@pytest.fixture
def app_role(app):  # type: ignore[no-untyped-def]
    name = f"amanat_app_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(BASE_POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" NOLOGIN'))
        for statement in _app_grants(name, owner_role="postgres"):
            conn.execute(text(statement))
    yield name
    with engine.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{name}"'))
        conn.execute(text(f'DROP ROLE "{name}"'))
    engine.dispose()


def _as(role: str) -> None:
    db.session.execute(text(f'SET LOCAL ROLE "{role}"'))  # this transaction only


def test_script_block_is_what_the_test_runs():
    statements = _app_grants("app", "owner")
    assert any(s.startswith('REVOKE UPDATE, DELETE, TRUNCATE') and "audit_entries" in s
               for s in statements)
    assert any("audit_checkpoints" in s and s.startswith("REVOKE") for s in statements)


def test_app_role_can_append_and_read_but_not_rewrite_the_audit_trail(app, app_role):
    with app.app_context():
        _as(app_role)
        record("test.as_app_role", actor_id=None, object_type="test", object_id=1)
        record("test.as_app_role", actor_id=None, object_type="test", object_id=2)
        assert db.session.execute(text("SELECT current_user")).scalar() == app_role
        assert len(db.session.execute(select(AuditEntry.seq)).all()) == 2
        db.session.commit()

    for statement in ("UPDATE audit_entries SET action = 'x.y' WHERE seq = 1",
                      "DELETE FROM audit_entries WHERE seq = 2",
                      "TRUNCATE audit_entries",
                      "UPDATE audit_checkpoints SET size = 0",
                      "DELETE FROM audit_checkpoints"):
        with app.app_context():
            _as(app_role)
            with pytest.raises(ProgrammingError, match="permission denied"):
                db.session.execute(text(statement))
            db.session.rollback()

    with app.app_context():  # ordinary rights elsewhere
        _as(app_role)
        db.session.execute(text("INSERT INTO teams (id, name, created_at, updated_at) "
                                "VALUES (:id, 'Kech', now(), now())"), {"id": uuid.uuid4()})
        db.session.execute(text("UPDATE teams SET name = 'Kech district' WHERE name = 'Kech'"))
        db.session.execute(text("DELETE FROM teams WHERE name = 'Kech district'"))
        db.session.commit()
        assert verify_log().ok
