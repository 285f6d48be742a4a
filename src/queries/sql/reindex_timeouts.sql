-- reindex_timeouts: set this session's lock_timeout and statement_timeout
-- (session-level: REINDEX CONCURRENTLY cannot run inside a transaction, so
-- SET LOCAL is no use) and answer the values they had, to be set back the
-- same way afterwards.
--   $1 lock_timeout, $2 statement_timeout (text, e.g. '1000ms').

WITH old AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS lock_timeout,
           current_setting('statement_timeout') AS statement_timeout
)
SELECT old.lock_timeout, old.statement_timeout,
       set_config('lock_timeout', $1::text, false) AS new_lock_timeout,
       set_config('statement_timeout', $2::text, false) AS new_statement_timeout
FROM old
