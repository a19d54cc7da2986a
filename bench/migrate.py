"""Run the real Alembic migrations on a benchmark instance: `python -m bench.migrate`."""

from __future__ import annotations

import flask_migrate

from bench.appfactory import build_app


def main() -> None:
    app = build_app()
    with app.app_context():
        flask_migrate.upgrade()


if __name__ == "__main__":
    main()
