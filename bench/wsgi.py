"""WSGI entry for gunicorn: `gunicorn bench.wsgi:app` (the instance comes from the environment)."""

from __future__ import annotations

from bench.appfactory import build_app

app = build_app()
