-- migration_lock_timeout: how long each schema change of `pgq migrate` may
-- wait for its lock before giving up (and retrying later), so it never sits
-- in the lock queue in front of the fleet's claims and enqueues. Session
-- level, on the migration's own connection; returns the previous value, which
-- the migration puts back at the end.
--   $1: the timeout as PostgreSQL reads it ('3000ms', or a previous value).

WITH before AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS previous
)
SELECT before.previous, set_config('lock_timeout', $1, false) AS lock_timeout
FROM before
