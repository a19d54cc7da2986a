"""The bundle: Amanat's exchange format (docs/bundle-format.md) — validation, import, export,
CSV import of missing-person lists, and the demo dataset."""
