"""Error pages that explain what to do and leak nothing (no stack trace, no internal names)."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request, session
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db

HANDLED = (400, 403, 404, 405, 413, 429)


def _render(code: int, template: str | None = None) -> Any:
    return render_template(template or f"errors/{code}.html", request_id=g.get("request_id")), code


def refuse_when_database_unavailable() -> Any:
    """Registered first of all request hooks: when even the session could not be read, answer
    "try again" before CSRF or sign-in checks misread the missing session."""
    if getattr(session, "database_unavailable", False):
        return _render(503, "errors/503.html")
    return None


def refuse_nul_characters() -> Any:
    """No text anyone types contains a NUL character, PostgreSQL cannot store or even compare
    one, and SQLite would cut text at it: a request carrying one in its query or form values is
    refused here, once for every page, before any view reads it (and nothing is written).

    A file upload's body is left unread here: its view raises the size limit first and then
    calls `refuse_nul_in_form()` itself."""
    if _has_nul(request.args):
        return _render(400, "errors/nul.html")
    if request.mimetype != "multipart/form-data":
        return refuse_nul_in_form()
    return None


def refuse_nul_in_form() -> Any:
    return _render(400, "errors/nul.html") if _has_nul(request.form) else None


def _has_nul(values: Any) -> bool:
    return any("\x00" in value for group in values.listvalues() for value in group)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_: CSRFError) -> Any:
        db.session.rollback()
        return _render(400, "errors/csrf.html")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        db.session.rollback()
        if isinstance(getattr(error, "original_exception", None), OperationalError):
            return database_unavailable(error.original_exception)  # type: ignore[attr-defined]
        code = error.code or 500
        if code in HANDLED:
            return _render(code)
        return error

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Any:
        db.session.rollback()
        app.logger.error("Database error (request %s): %s", g.get("request_id"),
                         type(error.orig).__name__)
        return _render(503, "errors/503.html")

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("Unhandled error in request %s", g.get("request_id"))
        return _render(500)
