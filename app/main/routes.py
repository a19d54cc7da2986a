"""Home page for every role, and a health check that reveals nothing sensitive."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from app.extensions import db, limiter
from app.web.guard import public, signed_in

bp = Blueprint("main", __name__)


@bp.route("/")
@signed_in
def home() -> Any:
    return render_template("main/home.html")


@bp.route("/healthz")
@public
@limiter.exempt
def health() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")
