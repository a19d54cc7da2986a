"""Amanat: case documentation for human-rights NGOs. `create_app` builds the Flask application."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import get_locale

from app.config import load_config
from app.extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent
RTL_LANGUAGES = frozenset({"ur", "ar", "fa", "ps", "bal"})


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults -> instance/config.py -> AMANAT_* env -> `config` (tests)."""
    app = Flask(
        __name__,
        instance_path=str(Path((config or {}).get("INSTANCE_PATH")
                               or os.environ.get("AMANAT_INSTANCE_PATH") or ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    load_config(app, config)
    if app.config["PROXY_COUNT"]:
        # Behind nginx: take the client address and scheme from that many trusted proxies, so
        # throttling and the audit trail see the real address.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)

    db.init_app(app)
    from app.web.errors import refuse_nul_characters, refuse_when_database_unavailable

    app.before_request(refuse_when_database_unavailable)  # before CSRF and the guard
    app.before_request(refuse_nul_characters)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    _init_login(app)

    from app import models  # noqa: F401 - register every table with the metadata
    from app.crypto import runtime as crypto_runtime
    from app.database import configure_engine
    from app.security.sessions import DatabaseSessionInterface
    from app.web import errors, guard, transactions

    configure_engine(app)
    crypto_runtime.init_app(app)
    app.session_interface = DatabaseSessionInterface()
    guard.init_app(app)
    errors.init_app(app)
    transactions.init_app(app)
    _register_blueprints(app)
    from app.cli import register_commands

    register_commands(app)
    _template_globals(app)
    if app.config.get("CHECK_KEYS_AT_START", True):
        crypto_runtime.check_keys_at_start(app)
    return app


def _select_locale() -> str | None:
    from flask import current_app, has_request_context

    if not has_request_context():
        return None  # CLI and jobs speak the default language
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or None


def _init_login(app: Flask) -> None:
    from app.models.users import User

    login_manager.init_app(app)
    # Server-side sessions already bind the session to the sign-in; no remember-me cookie.
    login_manager.session_protection = None
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        import uuid

        try:
            user = db.session.get(User, uuid.UUID(user_id))
        except ValueError:
            return None
        return user if user is not None and user.active else None


def _register_blueprints(app: Flask) -> None:
    from app.account.routes import bp as account_bp
    from app.admin.routes import bp as admin_bp
    from app.analysis import bp as analysis_bp
    from app.audit.routes import bp as audit_bp
    from app.auth.routes import bp as auth_bp
    from app.bundle.routes import bp as bundle_bp
    from app.cases import bp as cases_bp
    from app.duplicates import bp as duplicates_bp
    from app.exports import bp as exports_bp
    from app.main.routes import bp as main_bp

    for blueprint in (main_bp, auth_bp, account_bp, admin_bp, cases_bp, audit_bp,
                      analysis_bp):
        app.register_blueprint(blueprint)
    for blueprint in (duplicates_bp, exports_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(bundle_bp)
    # Static files are public by nature (CSS only; no data).
    from app.web.guard import public

    public(app.view_functions["static"])


def _template_globals(app: Flask) -> None:
    from flask_babel import format_number

    from app.domain.vocab import label
    from app.services.people import mask

    app.add_template_filter(label, "label")
    app.add_template_filter(mask, "masked")
    app.add_template_filter(format_number, "number")  # digits grouped as the locale does

    @app.context_processor
    def inject() -> dict[str, Any]:
        locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        return {
            "html_lang": locale,
            "html_dir": "rtl" if locale.split("_")[0] in RTL_LANGUAGES else "ltr",
            "organisation_name": app.config["ORGANISATION_NAME"],
        }
