"""Administrators invite, edit, reset and deactivate accounts; nobody else can."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.users import User
from tests.support import PASSWORD, post_form, sign_in

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/teams"]


def _link_from(html: str) -> str:
    match = re.search(r'(http://[^"<\s]+/(?:invite|enrol)/[^"<\s]+)', html)
    assert match, "no one-time link on the page"
    return match.group(1).split("localhost", 1)[-1]


@pytest.mark.parametrize("role", ["supervisor", "caseworker", "analyst"])
def test_admin_pages_are_refused_to_other_roles(app, role):
    from tests.support import make_user

    person = make_user(app, role)
    client = app.test_client()
    sign_in(client, app, person)
    for url in ADMIN_PAGES + [f"/admin/users/{person.id}"]:
        assert client.get(url).status_code == 403, url
    response = client.post(f"/admin/users/{person.id}/deactivate")
    assert response.status_code in (400, 403)


def test_invited_user_sets_password_enrols_2fa_and_signs_in(app, admin_client):
    response = post_form(admin_client, "/admin/users/new", {
        "name": "Naseem Baloch", "email": "Naseem@Amanat.test", "role": "caseworker"})
    assert response.status_code == 200
    invite = _link_from(response.get_data(as_text=True))

    newcomer = app.test_client()
    weak = post_form(newcomer, invite, {"password": "password1234", "confirm": "password1234"})
    assert "breached" in weak.get_data(as_text=True) or "easy" in weak.get_data(as_text=True)
    response = post_form(newcomer, invite, {"password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    enrol_url = response.headers["Location"]
    page = newcomer.get(enrol_url).get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
    done = post_form(newcomer, enrol_url, {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    assert "recovery-codes" in done.get_data(as_text=True)
    assert newcomer.get("/").status_code == 200
    # The invitation works once.
    assert app.test_client().get(invite).status_code == 404
    with app.app_context():
        user = db.session.execute(select(User).filter_by(email="naseem@amanat.test")).scalar_one()
        assert user.has_totp and user.role == "caseworker"


def test_admin_changes_role_and_teams_and_it_is_audited(app, admin_client, caseworker):
    post_form(admin_client, "/admin/teams", {"name": "Turbat"})
    with app.app_context():
        from app.models.users import Team

        turbat = db.session.execute(select(Team).filter_by(name="Turbat")).scalar_one()
    response = post_form(admin_client, f"/admin/users/{caseworker.id}", {
        "name": "Karim Caseworker", "role": "supervisor", "teams": [str(turbat.id)]})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, caseworker.id)
        assert user.role == "supervisor"
        assert [t.name for t in user.teams] == ["Turbat"]
        actions = set(db.session.execute(select(AuditEntry.action)).scalars())
    assert {"account.role_change", "account.teams_change", "team.create"} <= actions


def test_unknown_role_in_the_form_changes_nothing(app, admin_client, caseworker):
    response = post_form(admin_client, f"/admin/users/{caseworker.id}", {
        "name": "Karim Caseworker", "role": "superuser"})
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, caseworker.id).role == "caseworker"


def test_extra_fields_cannot_change_role_or_activation(app, client, caseworker):
    sign_in(client, app, caseworker)
    post_form(client, "/account/password", {
        "current_password": PASSWORD, "password": "baloch-poetry-evening-2031",
        "confirm": "baloch-poetry-evening-2031", "role": "admin", "active": "0",
        "email": "x@evil.test"})
    with app.app_context():
        user = db.session.get(User, caseworker.id)
        assert (user.role, user.active, user.email) == ("caseworker", True, caseworker.email)


def test_deactivated_user_cannot_sign_in_and_is_never_deleted(app, admin_client, caseworker):
    post_form(admin_client, f"/admin/users/{caseworker.id}/deactivate", {},
              page=f"/admin/users/{caseworker.id}")
    client = app.test_client()
    response = post_form(client, "/login", {"email": caseworker.email, "password": PASSWORD})
    assert response.status_code == 200
    with app.app_context():
        user = db.session.get(User, caseworker.id)
        assert user is not None and user.active is False


def test_admin_cannot_deactivate_or_demote_themselves(app, admin_client, admin):
    post_form(admin_client, f"/admin/users/{admin.id}/deactivate", {},
              page=f"/admin/users/{admin.id}")
    response = post_form(admin_client, f"/admin/users/{admin.id}",
                         {"name": "Farzana Admin", "role": "caseworker"})
    assert "own role" in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, admin.id)
        assert user.active and user.role == "admin"


def test_reset_2fa_gives_a_link_that_needs_the_password(app, admin_client, caseworker):
    response = post_form(admin_client, f"/admin/users/{caseworker.id}/reset-2fa", {},
                         page=f"/admin/users/{caseworker.id}")
    link = _link_from(response.get_data(as_text=True))
    user_client = app.test_client()
    page = user_client.get(link).get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
    assert secret != caseworker.totp_secret
    refused = post_form(user_client, link, {"password": "not my password!",
                                            "code": pyotp.TOTP(secret).now()})
    assert "not correct" in refused.get_data(as_text=True)
    accepted = post_form(user_client, link, {"password": PASSWORD,
                                             "code": pyotp.TOTP(secret).now()})
    assert accepted.status_code == 200
    assert user_client.get("/").status_code == 200


def test_admin_actions_ask_to_reauthenticate_after_15_minutes(app, admin_client, caseworker):
    with admin_client.session_transaction() as session:
        session["auth_at"] = session["auth_at"] - 16 * 60
    response = admin_client.get(f"/admin/users/{caseworker.id}")
    assert response.status_code == 302
    assert "/reauthenticate" in response.headers["Location"]
    back = post_form(admin_client, response.headers["Location"], {"secret": PASSWORD})
    assert back.headers["Location"] == f"/admin/users/{caseworker.id}"
    assert admin_client.get(f"/admin/users/{caseworker.id}").status_code == 200


def test_user_list_shows_everyone_with_status(app, admin_client, caseworker, analyst):
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Karim Caseworker" in body and "Asma Analyst" in body
