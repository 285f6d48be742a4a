-- prune_held_batch: one batch of held ('failed') jobs that may go
-- (RetentionQueries::Prune, RetentionPolicy::held_older_than): held longer
-- than the cut-off (by `updated`, the time the job was held), together with
-- every log row of theirs. Without this a fleet with a steady trickle of
-- permanent failures keeps those jobs and their log rows forever, spread over
-- every index page, so no B-tree page of the log or queue ever empties.
-- Statistics stay exact: a job with any log row not yet aggregated is skipped
-- (the next run takes it), so only counted rows are deleted, and no new log
-- row is written. Rows are locked FOR UPDATE SKIP LOCKED, so a job being
-- requeued at this moment is left alone; status is re-checked under the lock.
-- Runs as one simple-protocol query string (one implicit transaction, like
-- prune_log_batch.sql), under the same fleet-wide prune lock.
--   {lock_timeout_ms}, {statement_timeout_ms}; {older_than} interval;
--   {after_id}: the cursor (jobs are walked by id); {batch}: jobs scanned per
--   batch; {dry_run}: TRUE counts what would go and deletes nothing.
-- Answers one row per entrypoint with deleted jobs (or one row with a NULL
-- entrypoint when there were none): won, scanned, last_id, log_rows (of the
-- whole batch), entrypoint, jobs.

SET LOCAL lock_timeout = {lock_timeout_ms};
SET LOCAL statement_timeout = {statement_timeout_ms};
WITH guard AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtext({log_table_literal}), hashtext('pgq prune')) AS won
), scanned AS MATERIALIZED (
    SELECT q.id, q.entrypoint FROM {queue_table} q
    WHERE (SELECT won FROM guard)
      AND q.status = 'failed'
      AND q.updated < NOW() - {older_than}::interval
      AND q.id > {after_id}
    ORDER BY q.id LIMIT {batch}
    FOR UPDATE SKIP LOCKED
), doomed AS MATERIALIZED (
    SELECT s.id, s.entrypoint FROM scanned s
    WHERE NOT EXISTS (SELECT 1 FROM {log_table} l WHERE l.job_id = s.id AND NOT l.aggregated)
), deleted_jobs AS (
    DELETE FROM {queue_table} AS q USING doomed d
    WHERE q.id = d.id AND NOT {dry_run} RETURNING q.id, q.entrypoint
), deleted_log AS (
    DELETE FROM {log_table} AS l USING doomed d
    WHERE l.job_id = d.id AND NOT {dry_run} RETURNING l.id
), removed_jobs AS (
    SELECT id, entrypoint FROM deleted_jobs UNION ALL SELECT id, entrypoint FROM doomed WHERE {dry_run}
), removed_log AS (
    SELECT count(*) AS n FROM deleted_log
    UNION ALL
    SELECT count(*) FROM {log_table} l JOIN doomed d ON l.job_id = d.id WHERE {dry_run}
), per_entrypoint AS (
    SELECT entrypoint, count(*) AS jobs FROM removed_jobs GROUP BY entrypoint
)
SELECT (SELECT won FROM guard) AS won,
       (SELECT count(*) FROM scanned) AS scanned,
       (SELECT max(id) FROM scanned) AS last_id,
       (SELECT sum(n) FROM removed_log)::bigint AS log_rows,
       e.entrypoint, COALESCE(e.jobs, 0) AS jobs
FROM (SELECT 1) AS one LEFT JOIN per_entrypoint e ON TRUE
ORDER BY e.entrypoint
