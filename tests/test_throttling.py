"""Throttling per account and per address, with growing windows rather than a lockout."""

from __future__ import annotations

import pytest

from tests.support import post_form, sign_in


@pytest.mark.parametrize("config_overrides", [{
    "LOGIN_LIMIT_PER_ACCOUNT": "3 per minute;10 per hour",
    "LOGIN_LIMIT_PER_ADDRESS": "50 per minute",
}])
def test_fourth_wrong_password_is_throttled_while_another_account_still_signs_in(
        app, caseworker, supervisor, config_overrides):
    attacker = app.test_client()
    for _ in range(3):
        response = post_form(attacker, "/login", {"email": caseworker.email,
                                                  "password": "wrong password 123"})
        assert response.status_code == 200
    throttled = post_form(attacker, "/login", {"email": caseworker.email,
                                               "password": caseworker.password})
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.get_data(as_text=True)
    # The limit is per account, not global: a colleague signs in normally.
    colleague = app.test_client()
    assert sign_in(colleague, app, supervisor).status_code == 302


@pytest.mark.parametrize("config_overrides", [{
    "LOGIN_LIMIT_PER_ACCOUNT": "3 per minute",
    "LOGIN_LIMIT_PER_ADDRESS": "50 per minute",
}])
def test_unknown_accounts_are_throttled_exactly_like_real_ones(app, config_overrides):
    client = app.test_client()
    codes = [post_form(client, "/login", {"email": "ghost@amanat.test",
                                          "password": "wrong password 123"}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize("config_overrides", [{
    "LOGIN_LIMIT_PER_ACCOUNT": "100 per minute",
    "LOGIN_LIMIT_PER_ADDRESS": "5 per minute",
}])
def test_one_address_trying_many_accounts_is_throttled(app, config_overrides):
    client = app.test_client()
    codes = [post_form(client, "/login", {"email": f"user{i}@amanat.test",
                                          "password": "wrong password 123"}).status_code
             for _ in range(1) for i in range(6)]
    assert codes[-1] == 429
    assert codes[:5] == [200] * 5


@pytest.mark.parametrize("config_overrides", [{
    "LOGIN_LIMIT_PER_ACCOUNT": "3 per minute",
    "LOGIN_LIMIT_PER_ADDRESS": "50 per minute",
}])
def test_totp_guessing_is_throttled(app, caseworker, config_overrides):
    client = app.test_client()
    post_form(client, "/login", {"email": caseworker.email, "password": caseworker.password})
    codes = [post_form(client, "/login/verify", {"code": f"00000{i}"}).status_code
             for i in range(4)]
    assert codes[-1] == 429


def test_successful_sign_ins_do_not_use_up_the_allowance(app, caseworker):
    for _ in range(2):
        client = app.test_client()
        assert sign_in(client, app, caseworker).status_code == 302
