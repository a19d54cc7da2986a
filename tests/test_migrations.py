"""Migrations build the schema the models describe, and every revision goes up and down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db


def test_migration_head_matches_the_models(app):
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `amanat db migrate`: {diff}"


def test_every_revision_upgrades_and_downgrades(app):
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        revisions = list(reversed(list(script.walk_revisions())))
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        for revision in revisions:
            upgrade(revision=revision.revision)
        assert "users" in inspect(db.engine).get_table_names()
        for revision in reversed(revisions):
            downgrade(revision=revision.down_revision or "base")
        upgrade()
        assert "users" in inspect(db.engine).get_table_names()
