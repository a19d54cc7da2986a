"""Server-side sessions: random ids stored hashed, limits, and revocation on every listed event."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models.users import User, WebSession
from tests.support import PASSWORD, csrf_from, make_user, post_form, sign_in

COOKIE = "amanat_session"


def _cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _replay(app, value: str):
    """A fresh client presenting an old cookie, as a thief with a copied cookie would."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other.get("/")


def test_session_id_is_random_and_only_its_hash_is_stored(app, client, caseworker):
    sign_in(client, app, caseworker)
    value = _cookie(client)
    assert len(value) >= 22  # 128 bits, URL-safe base64
    with app.app_context():
        hashes = set(db.session.execute(select(WebSession.id_hash)).scalars())
    assert hashlib.sha256(value.encode()).hexdigest() in hashes
    assert value not in hashes


def test_session_id_changes_at_sign_in(app, client, caseworker):
    client.get("/login")
    before = _cookie(client)
    sign_in(client, app, caseworker)
    assert _cookie(client) != before
    assert _replay(app, before).status_code == 302


def test_cookie_flags(app, client, caseworker):
    response = sign_in(client, app, caseworker)
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header
    assert "SameSite=Strict" in header
    assert "Path=/" in header


@pytest.mark.parametrize("config_overrides", [{"HTTPS": True}])
def test_cookie_is_host_prefixed_and_secure_over_https(app, caseworker, config_overrides):
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-amanat=")
    assert "Secure" in header
    assert "Strict-Transport-Security" in response.headers


def test_old_cookie_refused_after_logout(app, client, caseworker):
    sign_in(client, app, caseworker)
    old = _cookie(client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    assert _replay(app, old).status_code == 302


def test_old_cookie_refused_after_password_change(app, client, caseworker):
    sign_in(client, app, caseworker)
    elsewhere = app.test_client()
    sign_in(elsewhere, app, caseworker)
    old_here, old_elsewhere = _cookie(client), _cookie(elsewhere)
    response = post_form(client, "/account/password", {
        "current_password": PASSWORD, "password": "baloch-poetry-evening-2031",
        "confirm": "baloch-poetry-evening-2031"})
    assert response.status_code == 302
    assert _replay(app, old_elsewhere).status_code == 302
    assert _replay(app, old_here).status_code == 302
    assert client.get("/").status_code == 200  # this browser continues under a new id


def test_old_cookie_refused_after_sign_out_everywhere(app, client, caseworker):
    sign_in(client, app, caseworker)
    elsewhere = app.test_client()
    sign_in(elsewhere, app, caseworker)
    old = _cookie(elsewhere)
    post_form(client, "/account/sign-out-everywhere", {}, page="/account/")
    assert _replay(app, old).status_code == 302
    assert client.get("/").status_code == 302


def test_old_cookie_refused_after_deactivation(app, client, caseworker, admin_client):
    sign_in(client, app, caseworker)
    old = _cookie(client)
    post_form(admin_client, f"/admin/users/{caseworker.id}/deactivate", {},
              page=f"/admin/users/{caseworker.id}")
    assert _replay(app, old).status_code == 302


def test_old_cookie_refused_after_role_change(app, client, caseworker, admin_client):
    sign_in(client, app, caseworker)
    old = _cookie(client)
    response = post_form(admin_client, f"/admin/users/{caseworker.id}",
                         {"name": "Karim Caseworker", "role": "analyst"})
    assert response.status_code == 302
    assert _replay(app, old).status_code == 302


def test_old_cookie_refused_after_2fa_reset(app, client, caseworker, admin_client):
    sign_in(client, app, caseworker)
    old = _cookie(client)
    post_form(admin_client, f"/admin/users/{caseworker.id}/reset-2fa", {},
              page=f"/admin/users/{caseworker.id}")
    assert _replay(app, old).status_code == 302


def test_idle_session_expires_after_30_minutes(app, client, caseworker):
    sign_in(client, app, caseworker)
    with app.app_context():
        db.session.execute(update(WebSession).values(
            last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
        db.session.commit()
    assert client.get("/").status_code == 302


def test_session_ends_after_12_hours_even_when_active(app, client, caseworker):
    sign_in(client, app, caseworker)
    with app.app_context():
        db.session.execute(update(WebSession).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert client.get("/").status_code == 302


def test_role_removed_mid_session_applies_on_next_request(app, admin):
    # An admin demoted by another admin loses admin pages on the very next request.
    other_admin = make_user(app, "admin")
    client = app.test_client()
    sign_in(client, app, admin)
    assert client.get("/admin/users").status_code == 200
    with app.app_context():
        user = db.session.get(User, admin.id)
        user.role = "caseworker"  # direct change, no session revocation: the check still holds
        db.session.commit()
    assert client.get("/admin/users").status_code == 403
    assert other_admin
