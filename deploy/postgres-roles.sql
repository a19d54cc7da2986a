-- Amanat on PostgreSQL with two roles: an OWNER that owns the tables and runs migrations, and
-- the APP role the web server and CLI connect as. The app role may INSERT and SELECT audit rows
-- and checkpoints but never UPDATE, DELETE or TRUNCATE them, so a compromised application
-- cannot rewrite history; everywhere else it has ordinary read/write rights.
--
-- Run as a superuser (or a role with CREATEROLE that owns the schema), connected to the Amanat
-- database. Variables (all optional; defaults shown):
--
--   psql -d amanat -v owner_role=amanat_owner -v app_role=amanat_app -v schema=public \
--        -f deploy/postgres-roles.sql
--
-- Then set passwords interactively (never on the command line):  \password amanat_owner
-- and \password amanat_app. Migrate as the owner, run the app as the app role:
--
--   AMANAT_DATABASE_URL=postgresql+psycopg://amanat_owner@host/amanat amanat db upgrade
--   AMANAT_DATABASE_URL=postgresql+psycopg://amanat_app@host/amanat   amanat run ...
--
-- The script is idempotent. Run it again after every `amanat db upgrade`: new tables get the app
-- role's rights through the default privileges below, and this re-applies the audit REVOKE in
-- case a migration re-created an audit table. See docs/audit.md, "PostgreSQL: two roles".

\set ON_ERROR_STOP on
\if :{?owner_role}
\else
  \set owner_role amanat_owner
\endif
\if :{?app_role}
\else
  \set app_role amanat_app
\endif
\if :{?schema}
\else
  \set schema public
\endif

-- Roles: created without passwords if missing (LOGIN, no superuser, no role creation).
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'owner_role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner_role') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'app_role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role') \gexec

-- The owner creates and alters the tables; nobody else may create objects in the schema.
GRANT USAGE, CREATE ON SCHEMA :"schema" TO :"owner_role";
REVOKE CREATE ON SCHEMA :"schema" FROM PUBLIC;
-- Tables made before this script ran (e.g. by a superuser) are handed to the owner.
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'owner_role')
  FROM pg_tables WHERE schemaname = :'schema' AND tableowner <> :'owner_role' \gexec

-- BEGIN app grants (tests/test_audit_postgres_roles.py runs exactly this block)
GRANT USAGE ON SCHEMA :"schema" TO :"app_role";
REVOKE CREATE ON SCHEMA :"schema" FROM :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema"
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema"
  GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";
-- The audit trail is append-only for the application.
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON :"schema".audit_entries FROM :"app_role";
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON :"schema".audit_checkpoints FROM :"app_role";
-- END app grants
