-- prune_log_batch: one batch of log rows that may go (RetentionQueries::Prune):
-- older than the cut-off, aggregated already (rolled into statistics, so these
-- stay exact), and of a job no longer in the queue table (it finished). Queued,
-- picked and held jobs keep every log row, whatever their age.
-- Runs as one simple-protocol query string, which PostgreSQL runs as one
-- implicit transaction: the SET LOCALs hold for this batch only and nothing is
-- left on the session. Everything is written in as literals (no parameters).
-- The log is walked along its `created` index with a (created, id) cursor, so
-- rows that must stay are read once per run, not once per batch. The advisory
-- lock (two-key space, keyed by the log table) makes one pruner per fleet.
--   {lock_timeout_ms}, {statement_timeout_ms}; {older_than} interval;
--   {after}, {after_id}: the cursor; {batch}: rows scanned per batch;
--   {dry_run}: TRUE counts what would go and deletes nothing.

SET LOCAL lock_timeout = {lock_timeout_ms};
SET LOCAL statement_timeout = {statement_timeout_ms};
WITH guard AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtext({log_table_literal}), hashtext('pgq prune')) AS won
), scanned AS MATERIALIZED (
    SELECT id, created, job_id, aggregated FROM {log_table}
    WHERE (SELECT won FROM guard)
      AND created < NOW() - {older_than}::interval
      AND created >= {after}::timestamptz
      AND (created > {after}::timestamptz OR id > {after_id})
    ORDER BY created, id LIMIT {batch}
), doomed AS (
    SELECT s.id FROM scanned s
    WHERE s.aggregated
      AND NOT EXISTS (SELECT 1 FROM {queue_table} q WHERE q.id = s.job_id)
), deleted AS (
    DELETE FROM {log_table} AS l USING doomed d WHERE l.id = d.id AND NOT {dry_run} RETURNING l.id
), removed AS (
    SELECT id FROM deleted UNION ALL SELECT id FROM doomed WHERE {dry_run}
)
SELECT (SELECT won FROM guard) AS won,
       (SELECT count(*) FROM scanned) AS scanned,
       (SELECT count(*) FROM removed) AS removed,
       last.created_us, last.id AS last_id
FROM (SELECT 1) AS one LEFT JOIN LATERAL (
    SELECT (EXTRACT(EPOCH FROM created) * 1000000)::bigint AS created_us, id
    FROM scanned ORDER BY created DESC, id DESC LIMIT 1
) last ON TRUE
