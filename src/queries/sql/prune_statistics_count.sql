-- prune_statistics_count: prune_statistics_batch.sql's dry run: counts every
-- statistics row older than {older_than} in one statement.
--   {lock_timeout_ms}, {statement_timeout_ms}, {older_than}.

SET LOCAL lock_timeout = {lock_timeout_ms};
SET LOCAL statement_timeout = {statement_timeout_ms};
WITH RECURSIVE guard AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtext({log_table_literal}), hashtext('pgq prune')) AS won
), priorities AS (
    SELECT (SELECT min(priority) FROM {statistics_table}) AS v WHERE (SELECT won FROM guard)
    UNION ALL
    SELECT (SELECT min(priority) FROM {statistics_table} WHERE priority > p.v) FROM priorities p WHERE p.v IS NOT NULL
)
SELECT (SELECT won FROM guard) AS won, COALESCE(sum(c.n), 0) AS removed
FROM priorities p CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM {statistics_table} t WHERE t.priority = p.v AND DATE_TRUNC('sec', t.created AT TIME ZONE 'UTC') < (NOW() - {older_than}::interval) AT TIME ZONE 'UTC'
) c WHERE p.v IS NOT NULL
