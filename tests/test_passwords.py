"""Password rules and re-hashing when the Argon2 cost is raised."""

from __future__ import annotations

from argon2 import extract_parameters

from app.extensions import db
from app.models.users import User
from app.security.passwords import password_problems
from tests.support import PASSWORD, post_form


def test_rules_length_and_breached_list(app):
    with app.test_request_context():
        assert password_problems("short") != []
        assert password_problems("x" * 129) != []
        assert password_problems("password1234") != []  # in the breached list or trivially weak
        assert password_problems("qwertyuiopasdfgh") != []
        assert password_problems(PASSWORD) == []
        # No composition rules: a long lowercase passphrase is fine.
        assert password_problems("mountains above ziarat in winter") == []


def test_password_containing_the_users_name_is_refused(app):
    with app.test_request_context():
        assert password_problems("karimcaseworker2024", ("Karim Caseworker",)) != []


def test_hash_is_upgraded_at_sign_in_when_cost_is_raised(app, caseworker):
    with app.app_context():
        before = extract_parameters(db.session.get(User, caseworker.id).password_hash)
    app.config["ARGON2_MEMORY_KIB"] = 16
    client = app.test_client()
    post_form(client, "/login", {"email": caseworker.email, "password": caseworker.password})
    with app.app_context():
        after = extract_parameters(db.session.get(User, caseworker.id).password_hash)
    assert before.memory_cost == 8 and after.memory_cost == 16
