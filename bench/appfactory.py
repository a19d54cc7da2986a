"""Build the Amanat app for a benchmark instance from the AMANAT_BENCH_* environment."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from app import create_app

INSTANCE_ENV = "AMANAT_BENCH_INSTANCE"


def build_app(**overrides: Any) -> Flask:
    """The app on the instance directory named by AMANAT_BENCH_INSTANCE.

    SECRET_KEY and the database come from AMANAT_SECRET_KEY and AMANAT_DATABASE_URL, exactly as
    a production deployment would pass them.
    """
    return create_app({"INSTANCE_PATH": os.environ[INSTANCE_ENV], **overrides})
