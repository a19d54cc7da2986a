"""Possible duplicate person records across cases: the scan, the review screen and decisions."""

from flask import Blueprint

bp = Blueprint("duplicates", __name__, url_prefix="/duplicates", cli_group="duplicates")

from app.duplicates import routes  # noqa: E402,F401 - register views and the CLI command
