"""One commit per request: views flush through services; the request ends in commit or rollback."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.extensions import db


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response: Any) -> Any:
        # Views commit explicitly after a successful service call; anything left open is
        # discarded here, so a half-done change can never be committed by accident.
        db.session.rollback()
        return response

    @app.teardown_request
    def _rollback_on_error(error: BaseException | None) -> None:
        if error is not None:
            db.session.rollback()
