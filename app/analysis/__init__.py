"""Search, dashboards and de-identified data: reading the record in aggregate.

Every query here starts from the access policy (`app/access.py`) through `app.analysis.scope`:
search pages from `visibility_clause`, counts and exports from `statistics_clause` /
`release_clause`. See docs/deidentification.md for what leaves as de-identified data.
"""

from flask import Blueprint

bp = Blueprint("analysis", __name__)

from app.analysis import routes  # noqa: E402,F401 - register views
