"""Case documentation pages: the list, the case page, and forms for people, acts and links."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")

from app.cases import (  # noqa: E402,F401 - register views
    acts_routes,
    consent_routes,
    evidence_routes,
    followup_routes,
    people_routes,
    routes,
    sources_routes,
)
