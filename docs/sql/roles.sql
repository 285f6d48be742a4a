-- Least-privilege roles for pgq (docs/configuration.md, "Connecting in production").
--
--   pgq_migrator  owns the queue objects: runs `pgq migrate` (the migration Job).
--   pgq_worker    runs the workers: reads and writes rows, nothing else (no DDL, no ownership).
--
-- Run as a superuser or the database owner, naming the schema of the queue objects:
--   psql "$ADMIN_DSN" -v ON_ERROR_STOP=1 -v schema=public -f docs/sql/roles.sql
-- Set the passwords outside version control (ALTER ROLE pgq_worker PASSWORD '...'), or use
-- client certificates (the role name is the certificate's CN). Run it again after an
-- install made by another role, so the grants cover the new objects.

DO $$
BEGIN
  CREATE ROLE pgq_migrator LOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$
BEGIN
  CREATE ROLE pgq_worker LOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

GRANT CONNECT ON DATABASE :"DBNAME" TO pgq_migrator, pgq_worker;
GRANT USAGE, CREATE ON SCHEMA :"schema" TO pgq_migrator;
GRANT USAGE ON SCHEMA :"schema" TO pgq_worker;

-- Objects that exist now (e.g. installed before the roles) ...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO pgq_worker;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"schema" TO pgq_worker;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA :"schema" TO pgq_worker;
-- ... and those pgq_migrator creates later.
ALTER DEFAULT PRIVILEGES FOR ROLE pgq_migrator IN SCHEMA :"schema"
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pgq_worker;
ALTER DEFAULT PRIVILEGES FOR ROLE pgq_migrator IN SCHEMA :"schema"
  GRANT USAGE, SELECT ON SEQUENCES TO pgq_worker;
ALTER DEFAULT PRIVILEGES FOR ROLE pgq_migrator IN SCHEMA :"schema"
  GRANT EXECUTE ON FUNCTIONS TO pgq_worker;

-- pgq_worker does not own the queue table, so the worker's ANALYZE after bulk changes
-- (docs/runtime.md, "Planner statistics of the queue table") is skipped with a warning and autovacuum keeps the
-- statistics. On PostgreSQL 17 and later, let the worker refresh them itself:
--   GRANT MAINTAIN ON ALL TABLES IN SCHEMA :"schema" TO pgq_worker;
