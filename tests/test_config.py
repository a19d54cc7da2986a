"""Configuration sources, their order, and refusal to start on unsafe settings."""

from __future__ import annotations

import os
import stat

import pytest

from app import create_app
from app.config import ConfigError
from tests.conftest import BASE_CONFIG


def _config(tmp_path, **extra):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True, mode=0o700)
    return {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "INSTANCE_PATH": str(instance), "CHECK_KEYS_AT_START": False, **extra}


@pytest.mark.parametrize("secret", ["dev", "changeme", "short-secret", "a" * 64])
def test_weak_secret_stops_the_app_with_a_clear_message(tmp_path, secret):
    with pytest.raises(ConfigError, match="SECRET_KEY is too weak"):
        create_app(_config(tmp_path, SECRET_KEY=secret))


def test_missing_secret_is_created_once_with_mode_0600(tmp_path):
    config = _config(tmp_path)
    del config["SECRET_KEY"]
    first = create_app(config)
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = create_app(config)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_secret_file_readable_by_others_is_refused(tmp_path):
    config = _config(tmp_path)
    del config["SECRET_KEY"]
    create_app(config)
    path = tmp_path / "instance" / "secret_key"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        create_app(config)


def test_environment_overrides_instance_file_and_tests_override_both(tmp_path, monkeypatch):
    config = _config(tmp_path)
    (tmp_path / "instance" / "config.py").write_text(
        "ORGANISATION_NAME = 'From file'\nSESSION_IDLE_MINUTES = 20\nSTEP_UP_MINUTES = 5\n")
    monkeypatch.setenv("AMANAT_SESSION_IDLE_MINUTES", "10")
    monkeypatch.setenv("AMANAT_ORGANISATION_NAME", "From env")
    app = create_app({**config, "ORGANISATION_NAME": "From test"})
    assert app.config["SESSION_IDLE_MINUTES"] == 10  # env beats the instance file
    assert app.config["STEP_UP_MINUTES"] == 5  # instance file beats the defaults
    assert app.config["ORGANISATION_NAME"] == "From test"  # test overrides beat env


def test_nonsense_limits_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="SESSION_IDLE_MINUTES"):
        create_app(_config(tmp_path, SESSION_IDLE_MINUTES=0))


def test_unsupported_database_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="Unsupported database"):
        create_app(_config(tmp_path, SQLALCHEMY_DATABASE_URI="mysql://root@localhost/x"))


def test_production_hash_uses_argon2id_64mib_t3_p1(tmp_path):
    config = _config(tmp_path)
    for key in ("ARGON2_MEMORY_KIB", "ARGON2_TIME_COST"):
        config.pop(key)
    app = create_app(config)
    from argon2 import extract_parameters

    from app.security.passwords import hash_password

    with app.app_context():
        params = extract_parameters(hash_password("quetta-river-lantern-1987"))
    assert (params.type.name, params.memory_cost, params.time_cost, params.parallelism) == (
        "ID", 65536, 3, 1)


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(tmp_path):
    app = create_app(_config(tmp_path, PROXY_COUNT=1))
    seen = {}

    @app.route("/whoami")
    def whoami():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    from app.web.guard import public

    public(whoami)
    app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert seen["addr"] == "203.0.113.7"


def test_without_a_proxy_forwarded_headers_are_ignored(tmp_path):
    app = create_app(_config(tmp_path))
    seen = {}

    @app.route("/whoami")
    def whoami():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    from app.web.guard import public

    public(whoami)
    app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert seen["addr"] == "127.0.0.1"
