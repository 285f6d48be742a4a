-- claim: the claim a worker runs when no entrypoint has a concurrency limit and
-- there is no per-worker cap (claim_gated.sql otherwise). Each entrypoint's
-- queued jobs, highest priority first, plus jobs whose worker stopped sending
-- heartbeats (rescued), are marked picked by this worker and logged.
--   {batch}, {entrypoints}, {heartbeat_timeout}: written in as literals per claim
--       by JobQueries::Dequeue. With them bound, PostgreSQL's plan cache kept
--       choosing custom plans (a bound LIMIT is estimated at a tenth of the
--       table, a bound array at ten entrypoints) and planned every claim: 0.4 of
--       0.8 ms per claim of 10, 1 ms per claim of 500. As literals, one generic
--       plan serves them all.
--   $1 the worker's id: it only fills a column, so it cannot change the plan.
-- Answers the claimed jobs (the columns ParseJobs reads), `rescued` and
-- `waited_us`, in claim order.
-- next_stale's `updated <` line is implied by the heartbeat line (a pick sets
-- updated = heartbeat, heartbeats only move forward): it lets the
-- (updated, id) index skip healthy picked rows instead of visiting each.
-- `claimed` takes an id array, not a join: the planner would hash the whole
-- table for a join, since it cannot tell that `eligible` holds only a batch.

WITH available AS (
    SELECT entrypoint FROM unnest({entrypoints}::text[]) AS p(entrypoint)
), next_queued AS (
    SELECT j.id, j.priority, FALSE AS stale FROM available a
    CROSS JOIN LATERAL (
        SELECT id, priority FROM {queue_table}
        WHERE entrypoint = a.entrypoint AND status = 'queued' AND execute_after < NOW()
        ORDER BY priority DESC, id ASC
        LIMIT {batch}::bigint
        FOR UPDATE SKIP LOCKED
    ) j
), next_stale AS (
    SELECT id, priority, TRUE AS stale FROM {queue_table}
    WHERE entrypoint = ANY({entrypoints}::text[]) AND status = 'picked'
      AND heartbeat < NOW() - {heartbeat_timeout}::interval AND execute_after < NOW()
      AND updated < NOW() - {heartbeat_timeout}::interval
    ORDER BY priority DESC, id ASC
    LIMIT {batch}::bigint
    FOR UPDATE SKIP LOCKED
), eligible AS (
    SELECT id, stale FROM (
        SELECT id, priority, stale FROM next_queued
        UNION ALL
        SELECT id, priority, stale FROM next_stale
    ) c
    ORDER BY priority DESC, id ASC
    LIMIT {batch}::bigint
), claimed AS (
    UPDATE {queue_table} AS j
    SET status = 'picked', updated = NOW(), heartbeat = NOW(), queue_manager_id = $1::uuid
    WHERE j.id = ANY(ARRAY(SELECT id FROM eligible))
    RETURNING j.*
), log_pick AS (
    INSERT INTO {log_table} (job_id, status, entrypoint, priority)
    SELECT id, 'picked', entrypoint, priority FROM claimed
)
SELECT claimed.id, claimed.priority, claimed.queue_manager_id::text AS queue_manager_id, (EXTRACT(EPOCH FROM claimed.created) * 1000000)::bigint AS created_us, (EXTRACT(EPOCH FROM claimed.updated) * 1000000)::bigint AS updated_us, (EXTRACT(EPOCH FROM claimed.heartbeat) * 1000000)::bigint AS heartbeat_us, (EXTRACT(EPOCH FROM claimed.execute_after) * 1000000)::bigint AS execute_after_us, claimed.status::text AS status, claimed.entrypoint, claimed.dedupe_key, claimed.payload, claimed.headers::text AS headers, claimed.attempts, eligible.stale AS rescued,
       (EXTRACT(EPOCH FROM NOW() - claimed.created) * 1000000)::bigint AS waited_us
FROM claimed JOIN eligible ON eligible.id = claimed.id
ORDER BY claimed.priority DESC, claimed.id ASC
