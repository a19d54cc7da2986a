# Copy to instance/config.py and adjust. Environment variables AMANAT_<NAME> override these.
# Every setting is documented in docs/configuration.md.

# PostgreSQL in production (SQLite in instance/ when unset):
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://amanat_app@127.0.0.1:5432/amanat"

# Served behind TLS? Then cookies become __Host- prefixed and Secure, and HSTS is sent.
# HTTPS = True

# Throttling storage shared by all workers (in-memory by default):
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"

# Where the master key comes from: "file:PATH", "env:VAR" or "module:pkg.mod:factory".
# MASTER_KEY_PROVIDER = "file:/etc/amanat/master.key"

ORGANISATION_NAME = "Amanat"
BASE_URL = "http://127.0.0.1:5000"  # used in one-time links printed by the CLI
