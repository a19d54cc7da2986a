"""Signing in: password then a second factor, replay refused, no user enumeration, sign-out."""

from __future__ import annotations

import pyotp

from tests.support import csrf_from, fresh_code, post_form, sign_in


def test_sign_in_with_password_and_totp_reaches_home(app, client, caseworker):
    response = sign_in(client, app, caseworker)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "Karim Caseworker" in home.get_data(as_text=True)


def test_password_alone_does_not_sign_in(app, client, caseworker):
    response = post_form(client, "/login", {"email": caseworker.email,
                                            "password": caseworker.password})
    assert response.headers["Location"].endswith("/login/verify")
    assert client.get("/").status_code == 302  # still sent to sign-in


def test_wrong_totp_code_is_refused(app, client, caseworker):
    post_form(client, "/login", {"email": caseworker.email, "password": caseworker.password})
    wrong = "000000" if fresh_code(app, caseworker) != "000000" else "111111"
    response = post_form(client, "/login/verify", {"code": wrong})
    assert response.status_code == 200
    assert "not valid" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_malformed_totp_code_gets_a_clear_message(app, client, caseworker):
    post_form(client, "/login", {"email": caseworker.email, "password": caseworker.password})
    response = post_form(client, "/login/verify", {"code": "12ab<script>"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "not valid" in body
    assert "<script>" not in body


def test_replayed_totp_code_is_refused_even_after_a_failed_sign_in(app, caseworker):
    first = app.test_client()
    code = fresh_code(app, caseworker)
    assert sign_in(first, app, caseworker, code=code).status_code == 302
    attacker = app.test_client()
    # A failed attempt in between must not reset the replay protection.
    post_form(attacker, "/login", {"email": caseworker.email, "password": "wrong password!!"})
    post_form(attacker, "/login", {"email": caseworker.email, "password": caseworker.password})
    response = post_form(attacker, "/login/verify", {"code": code})
    assert response.status_code == 200
    assert attacker.get("/").status_code == 302


def test_recovery_code_signs_in_once(app, client, caseworker):
    from app.extensions import db
    from app.models.users import User
    from app.services import accounts

    with app.app_context():
        user = db.session.get(User, caseworker.id)
        codes = accounts.renew_recovery_codes(user)
        db.session.commit()
    post_form(client, "/login", {"email": caseworker.email, "password": caseworker.password})
    assert post_form(client, "/login/verify", {"code": codes[0].lower()}).status_code == 302
    other = app.test_client()
    post_form(other, "/login", {"email": caseworker.email, "password": caseworker.password})
    assert post_form(other, "/login/verify", {"code": codes[0]}).status_code == 200


def test_unknown_user_and_wrong_password_get_identical_answers(app, caseworker):
    a, b = app.test_client(), app.test_client()
    unknown = post_form(a, "/login", {"email": "nobody@amanat.test", "password": "some password 1"})
    wrong = post_form(b, "/login", {"email": caseworker.email, "password": "some password 1"})
    strip = lambda r: csrf_from(r.get_data(as_text=True))  # noqa: E731
    body_unknown = unknown.get_data(as_text=True).replace(strip(unknown), "")
    body_wrong = wrong.get_data(as_text=True).replace(strip(wrong), "")
    assert unknown.status_code == wrong.status_code == 200
    body_unknown = body_unknown.replace("nobody@amanat.test", "EMAIL")
    body_wrong = body_wrong.replace(caseworker.email, "EMAIL")
    assert body_unknown == body_wrong


def test_oversized_password_is_refused_before_hashing(app, client, caseworker, monkeypatch):
    from app.security import passwords

    calls = []
    real = passwords.hasher

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(passwords, "hasher", counting)
    response = post_form(client, "/login", {"email": caseworker.email, "password": "x" * 10_000})
    assert response.status_code in (200, 413)
    assert not any(calls[1:]) or len(calls) <= 1  # at most the equalising dummy hash
    assert client.get("/").status_code == 302


def test_logout_is_post_only_and_ends_the_session(app, client, caseworker):
    sign_in(client, app, caseworker)
    assert client.get("/logout").status_code == 405
    page = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert client.get("/").status_code == 302


def test_second_step_expires_and_sends_back_to_sign_in(app, client, caseworker):
    post_form(client, "/login", {"email": caseworker.email, "password": caseworker.password})
    with client.session_transaction() as session:
        pending = dict(session["pending_2fa"])
        pending["at"] -= 3600
        session["pending_2fa"] = pending
    response = client.get("/login/verify")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_account_without_2fa_cannot_sign_in_with_password_alone(app, client):
    from app.extensions import db
    from app.security import passwords
    from app.services import accounts

    with app.app_context():
        user = accounts.create_user(None, name="Half Done", email="half@amanat.test",
                                    role="caseworker")
        user.password_hash = passwords.hash_password("quetta-river-lantern-1987")
        db.session.commit()
    response = post_form(client, "/login", {"email": "half@amanat.test",
                                            "password": "quetta-river-lantern-1987"})
    assert response.status_code == 200
    assert "enrolment link" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert pyotp  # imported for symmetry with other tests
