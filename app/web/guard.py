"""Default deny: every endpoint declares who may reach it, and the guard refuses anything else."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"
SIGNED_IN = "signed-in"
ACCESS_ATTR = "_amanat_access"


def public(view: F) -> F:
    """Reachable without signing in (sign-in, setup and invitation pages, errors, health)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def signed_in(view: F) -> F:
    """Any signed-in user, whatever the role; object-level checks happen in the view's service."""
    setattr(view, ACCESS_ATTR, SIGNED_IN)
    return view


def roles(*allowed: str) -> Callable[[F], F]:
    """Signed-in users with one of these roles."""
    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, frozenset(allowed))
        return view
    return decorate


def access_of(view: Callable[..., Any] | None) -> object | None:
    return getattr(view, ACCESS_ATTR, None)


def is_safe_next(target: str | None) -> bool:
    """Only local paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or len(target) > 2000:
        return False
    if any(ord(ch) < 32 for ch in target) or "\\" in target:
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default_endpoint: str = "main.home") -> str:
    return target if is_safe_next(target) else url_for(default_endpoint)


def _guard() -> Any:
    g.request_id = secrets.token_hex(8)
    if request.endpoint is None:
        return None  # no route: the 404/405 handler answers
    view = current_app.view_functions.get(request.endpoint)
    access = access_of(view)
    if access == PUBLIC:
        return None
    if access is None:
        # A route nobody declared is refused, not silently opened.
        current_app.logger.error("Refused undeclared endpoint %s", request.endpoint)
        abort(403)
    if not current_user.is_authenticated:
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target.rstrip("?") if target else None))
    if isinstance(access, frozenset) and current_user.role not in access:
        abort(403)
    return None


def _security_headers(response: Any) -> Any:
    headers = response.headers
    headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    if current_app.config["HTTPS"]:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if "request_id" in g:
        headers["X-Request-ID"] = g.request_id
    return response


def mark_authenticated_now() -> None:
    session["auth_at"] = datetime.now(UTC).timestamp()


def recently_authenticated() -> bool:
    at = session.get("auth_at")
    if not isinstance(at, int | float):
        return False
    limit = timedelta(minutes=current_app.config["STEP_UP_MINUTES"])
    return datetime.now(UTC) - datetime.fromtimestamp(at, UTC) < limit


def require_recent_auth() -> Any | None:
    """Step-up: a redirect to re-authenticate when the last password/TOTP is too old, else None."""
    if recently_authenticated():
        return None
    target = request.full_path.rstrip("?") if request.method == "GET" else request.referrer
    nxt = target if is_safe_next(target) else None
    if nxt is None and target:
        parts = urlsplit(target)
        if parts.netloc == request.host:
            nxt = parts.path + (f"?{parts.query}" if parts.query else "")
    return redirect(url_for("auth.reauthenticate", next=nxt))


def step_up(view: F) -> F:
    """Decorator form of require_recent_auth for views that always need a fresh authentication."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return require_recent_auth() or view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    app.before_request(_guard)
    app.after_request(_security_headers)
