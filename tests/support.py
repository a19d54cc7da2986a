"""Test helpers: people of every role, signing in through the real forms, reading CSRF tokens."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models.users import Team, User
from app.security import passwords
from app.services import accounts

PASSWORD = "quetta-river-lantern-1987"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'type="hidden" name="csrf_token" value="([^"]+)"|'
                   r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return next(group for group in match.groups() if group)


@dataclass
class Person:
    """A signed-up user as a test sees them: the row id and what they know."""

    id: uuid.UUID
    email: str
    password: str
    totp_secret: str
    role: str


def make_user(app: Flask, role: str = "caseworker", *, name: str | None = None,
              email: str | None = None, teams: list[str] | None = None,
              password: str = PASSWORD) -> Person:
    """Create a fully enrolled account (password and TOTP) straight through the services."""
    with app.app_context():
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@amanat.test"
        team_rows = []
        for team_name in teams or []:
            team = db.session.query(Team).filter_by(name=team_name).one_or_none()
            team_rows.append(team or Team(id=uuid.uuid4(), name=team_name))
        user = accounts.create_user(None, name=name or f"Test {role.title()}", email=email,
                                    role=role, teams=team_rows)
        user.password_hash = passwords.hash_password(password)
        secret = accounts.start_totp_enrolment(user)
        # Enrol with the previous time step's code, leaving this step and the next for sign-ins.
        totp = pyotp.TOTP(secret)
        accounts.confirm_totp_enrolment(user, totp.generate_otp(totp.timecode(time.time()) - 1))
        db.session.commit()
        return Person(user.id, email, password, secret, role)


def fresh_code(app: Flask, person: Person) -> str:
    """A TOTP code this user has not used yet (each code works once)."""
    with app.app_context():
        last = db.session.get(User, person.id).totp_last_step
    totp = pyotp.TOTP(person.totp_secret)
    current = totp.timecode(time.time())
    step = current - 1 if last is None else max(current - 1, last + 1)
    if step > current + 1:
        time.sleep(30)
        return fresh_code(app, person)
    return totp.generate_otp(step)


def post_form(client: FlaskClient, url: str, data: dict, *, page: str | None = None,
              follow: bool = False):
    """POST like a browser: first load the page holding the form to get its CSRF token."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_from(html)},
                       follow_redirects=follow)


def sign_in(client: FlaskClient, app: Flask, person: Person, *, code: str | None = None):
    response = post_form(client, "/login", {"email": person.email, "password": person.password})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/login/verify")
    return post_form(client, "/login/verify", {"code": code or fresh_code(app, person)})
