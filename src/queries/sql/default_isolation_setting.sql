-- default_isolation_setting: the default_transaction_isolation that ALTER
-- ROLE / ALTER DATABASE configured for this role in this database (the most
-- specific setting wins), or '' when none is; readiness names it when a
-- connection is not at READ COMMITTED. Catalogs only, no object names.

SELECT COALESCE((
    SELECT substring(c FROM '^default_transaction_isolation=(.*)$')
    FROM pg_db_role_setting s, unnest(s.setconfig) AS c
    WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user))
      AND c LIKE 'default_transaction_isolation=%'
    ORDER BY s.setrole DESC, s.setdatabase DESC
    LIMIT 1
), '') AS configured
