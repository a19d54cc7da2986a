"""Outputs that leave Amanat for a purpose: WGEID drafts, HURIDOCS ESF exports, case reports.

Each is built by a function the web pages and the CLI share, checks the consent of the people it
would name, and leaves an `export.*` audit entry (ids and counts, never content).
"""

from __future__ import annotations

from flask import Blueprint

from app.services import ServiceError

bp = Blueprint("exports", __name__)


class ConsentRefused(ServiceError):
    """The output would carry someone's data for a purpose they did not consent to.

    `message` says why in words a caseworker can act on; `reasons` are stable codes for the audit
    trail and tests; `missing` optionally lists what else the record still lacks.
    """

    def __init__(self, message: str, reasons: list[str], missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons
        self.missing = missing or []


from app.exports import routes  # noqa: E402,F401 - register views
from app.exports.pdf import text_dir  # noqa: E402

bp.add_app_template_filter(text_dir, "text_dir")
