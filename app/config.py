"""Typed settings for Amanat, their sources in order of precedence, and their validation at start."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from app.crypto.private_files import PrivateFileError, create_private_once, read_private_text

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_BYTES = 32
KNOWN_WEAK_SECRETS = frozenset(
    {"dev", "secret", "changeme", "change-me", "you-will-never-guess", "password", "test"}
)


class ConfigError(RuntimeError):
    """Raised when Amanat's configuration is missing, unsafe or malformed; the message says how to fix it."""


class Defaults:
    """Built-in defaults; every one may be overridden by instance/config.py or AMANAT_* variables."""

    # Database: None means the embedded SQLite file in instance/.
    SQLALCHEMY_DATABASE_URI: str | None = None
    # hide_parameters: a failing statement never writes values (names, emails) into the log.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}

    # Passwords (Argon2id). Production floor from SECURITY.md: m=64 MiB, t=3, p=1.
    ARGON2_MEMORY_KIB = 65536
    ARGON2_TIME_COST = 3
    ARGON2_PARALLELISM = 1

    # Sessions.
    SESSION_IDLE_MINUTES = 30
    SESSION_ABSOLUTE_HOURS = 12
    ANONYMOUS_SESSION_MINUTES = 60
    STEP_UP_MINUTES = 15
    HTTPS = False  # set when served behind TLS: __Host- cookie, Secure flag, HSTS
    PROXY_COUNT = 0  # trusted reverse proxies in front (1 behind nginx): real client addresses

    # One-time links.
    SETUP_TOKEN_HOURS = 24
    INVITE_TOKEN_HOURS = 72

    # Throttling: growing windows, never a permanent lockout.
    RATELIMIT_STORAGE_URI = "memory://"
    LOGIN_LIMIT_PER_ADDRESS = "20 per minute;100 per hour;500 per day"
    LOGIN_LIMIT_PER_ACCOUNT = "5 per minute;20 per hour;50 per day"

    # Master key provider for field encryption: "file:PATH", "env:VAR" or "module:pkg.mod:factory".
    MASTER_KEY_PROVIDER: str | None = None

    # Web.
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024  # forms; evidence uploads have their own limit
    MAX_EVIDENCE_BYTES = 200 * 1024 * 1024
    BUNDLE_MAX_BYTES = 20 * 1024 * 1024  # bundles from the CLI; web uploads are capped by the above
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session, which is short anyway
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en",)
    ORGANISATION_NAME = "Amanat"
    LOG_LEVEL = "INFO"
    # SQLite: refresh the query planner's statistics at start and when the caseload has changed.
    REFRESH_PLANNER_STATISTICS = True
    # Keep the dashboard's counts per process until the audit log shows a change.
    DASHBOARD_CACHE = True


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill app.config: defaults -> instance/config.py -> AMANAT_* environment -> overrides."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("AMANAT")
    if overrides:
        app.config.update(overrides)
    _resolve_paths(app)
    _resolve_secret_key(app)
    validate(app.config)


def _resolve_paths(app: Flask) -> None:
    instance = Path(app.instance_path)
    if app.config.get("DATABASE_URL") and not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'amanat.db'}"
    if not app.config.get("MASTER_KEY_PROVIDER"):
        app.config["MASTER_KEY_PROVIDER"] = f"file:{instance / 'master.key'}"
    app.config.setdefault("EVIDENCE_DIR", str(instance / "evidence"))
    app.config.setdefault("AUDIT_SIGNING_KEY_FILE", str(instance / "audit-signing.key"))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])


def _resolve_secret_key(app: Flask) -> None:
    """Use the configured secret; else read instance/secret_key; else create it there (mode 0600)."""
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / SECRET_KEY_FILE
    try:
        app.config["SECRET_KEY"] = read_private_text(path, what="The secret key file").strip()
        return
    except FileNotFoundError:
        pass
    except PrivateFileError as error:
        raise ConfigError(str(error)) from None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if create_private_once(path, (secrets.token_urlsafe(48) + "\n").encode("ascii")):
        app.logger.warning("Created a new secret key at %s (mode 0600).", path)
    app.config["SECRET_KEY"] = read_private_text(path, what="The secret key file").strip()


def validate(config: Mapping[str, Any]) -> None:
    """Refuse to start on a missing or weak secret or nonsensical limits, naming the setting."""
    secret = config.get("SECRET_KEY")
    if not secret or not isinstance(secret, str | bytes):
        raise ConfigError("SECRET_KEY is missing: set AMANAT_SECRET_KEY or remove it to auto-create.")
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < MIN_SECRET_BYTES or secret in KNOWN_WEAK_SECRETS or len(set(raw)) < 10:
        raise ConfigError(
            f"SECRET_KEY is too weak: use at least {MIN_SECRET_BYTES} random bytes, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    for name in ("SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS", "STEP_UP_MINUTES"):
        value = config.get(name)
        if not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive whole number, not {value!r}.")
    if config.get("ARGON2_MEMORY_KIB", 0) < 8 or config.get("ARGON2_TIME_COST", 0) < 1:
        raise ConfigError("ARGON2_MEMORY_KIB must be >= 8 and ARGON2_TIME_COST >= 1.")
    uri = config.get("SQLALCHEMY_DATABASE_URI", "")
    if not str(uri).startswith(("sqlite:", "postgresql")):
        raise ConfigError(f"Unsupported database URL {uri!r}: use sqlite:/// or postgresql+psycopg://")
