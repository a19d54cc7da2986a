"""First administrator through a one-time setup link; account commands of the `amanat` CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models.users import OneTimeToken, User
from tests.support import PASSWORD, post_form


def _setup_link(runner) -> str:
    result = runner.invoke(args=["setup-link"])
    assert result.exit_code == 0, result.output
    return re.search(r"(/setup/\S+)", result.output).group(1)


def test_setup_link_creates_the_first_admin_once(app, runner):
    link = _setup_link(runner)
    client = app.test_client()
    response = post_form(client, link, {"name": "Farzana Admin", "email": "farzana@amanat.test",
                                        "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302 and "/enrol/" in response.headers["Location"]
    assert app.test_client().get(link).status_code == 404  # single use
    with app.app_context():
        admin = db.session.execute(select(User)).scalar_one()
        assert admin.role == "admin" and admin.password_hash.startswith("$argon2id$")


def test_setup_link_expires(app, runner):
    link = _setup_link(runner)
    with app.app_context():
        db.session.execute(update(OneTimeToken).values(
            expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.session.commit()
    assert app.test_client().get(link).status_code == 404


def test_no_setup_link_once_an_admin_exists(app, runner, admin):
    assert runner.invoke(args=["setup-link", "--if-needed"]).output == ""
    result = runner.invoke(args=["setup-link"])
    assert result.exit_code != 0 and "already exists" in result.output


def test_setup_form_keeps_what_was_typed_on_error(app, runner):
    link = _setup_link(runner)
    response = post_form(app.test_client(), link, {
        "name": "Farzana Admin", "email": "farzana@amanat.test",
        "password": "short", "confirm": "short"})
    body = response.get_data(as_text=True)
    assert "at least 12 characters" in body
    assert 'value="Farzana Admin"' in body and 'value="farzana@amanat.test"' in body
    with app.app_context():
        assert db.session.execute(select(User)).first() is None


def test_cli_create_user_prints_an_invitation(app, runner):
    result = runner.invoke(args=["create-user", "--name", "Hani Baloch",
                                 "--email", "hani@amanat.test", "--role", "supervisor"])
    assert result.exit_code == 0, result.output
    assert "/invite/" in result.output
    with app.app_context():
        assert db.session.execute(select(User.role)).scalar_one() == "supervisor"


def test_cli_refuses_unknown_role_and_writes_nothing(app, runner):
    result = runner.invoke(args=["create-user", "--name", "X", "--email", "x@amanat.test",
                                 "--role", "superuser"])
    assert result.exit_code == 2
    assert "superuser" in result.output and "Traceback" not in result.output
    with app.app_context():
        assert db.session.execute(select(User)).first() is None


def test_cli_refuses_duplicate_email(app, runner, caseworker):
    result = runner.invoke(args=["create-user", "--name", "X", "--email", caseworker.email,
                                 "--role", "analyst"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_cli_set_role_and_deactivate(app, runner, caseworker):
    assert runner.invoke(args=["set-role", caseworker.email, "analyst"]).exit_code == 0
    assert runner.invoke(args=["deactivate-user", caseworker.email]).exit_code == 0
    with app.app_context():
        user = db.session.get(User, caseworker.id)
        assert (user.role, user.active) == ("analyst", False)


def test_cli_unknown_email_is_a_clear_error(runner):
    result = runner.invoke(args=["deactivate-user", "ghost@amanat.test"])
    assert result.exit_code == 1 and "No account" in result.output
