-- prune_statistics_batch: delete up to {batch} statistics rows older than
-- {older_than}. Statistics have no index on `created` alone, but their unique
-- index is on (priority, second, ...): for each distinct priority (found by a
-- loose index scan, one probe each) the old seconds are one index range; the
-- condition is written as the index's expression for that. Run as one implicit
-- transaction, like prune_log_batch.sql.
--   {lock_timeout_ms}, {statement_timeout_ms}, {older_than}, {batch}.

SET LOCAL lock_timeout = {lock_timeout_ms};
SET LOCAL statement_timeout = {statement_timeout_ms};
WITH RECURSIVE guard AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtext({log_table_literal}), hashtext('pgq prune')) AS won
), priorities AS (
    SELECT (SELECT min(priority) FROM {statistics_table}) AS v WHERE (SELECT won FROM guard)
    UNION ALL
    SELECT (SELECT min(priority) FROM {statistics_table} WHERE priority > p.v) FROM priorities p WHERE p.v IS NOT NULL
), doomed AS MATERIALIZED (
    SELECT o.id FROM priorities p CROSS JOIN LATERAL (
        SELECT t.id FROM {statistics_table} t WHERE t.priority = p.v AND DATE_TRUNC('sec', t.created AT TIME ZONE 'UTC') < (NOW() - {older_than}::interval) AT TIME ZONE 'UTC'
        LIMIT {batch}
    ) o WHERE p.v IS NOT NULL LIMIT {batch}
), removed AS (
    DELETE FROM {statistics_table} AS t USING doomed d WHERE t.id = d.id RETURNING t.id
)
SELECT (SELECT won FROM guard) AS won, (SELECT count(*) FROM removed) AS removed
