-- One pgbench transaction = one claim of :batch jobs with pgq's dequeue statement, then one
-- completion of exactly those jobs with pgq's completion statement (both autocommit, as the
-- worker runs them). ci/bench writes the batch size in for :batch (the worker writes it,
-- the entrypoints and the heartbeat timeout in as literals, so both get one generic plan)
-- and runs it with -M prepared (the other variables become bound parameters); it
-- pre-fills the queue so that every claim finds a full batch.
--
-- The two statements are pgq's own (`pgq sql statements`: "claim", the form the worker runs
-- when no entrypoint has a concurrency limit and max_concurrent_tasks is unset, and
-- "complete"; spec 3.2 and 3.3) for the default names pgqueuer / pgqueuer_log /
-- pgqueuer_status, with the parameters filled in the way the worker binds them:
--   claim     literals: {batch} -> :batch (see above), {entrypoints} -> '{bench}',
--             {heartbeat_timeout} -> '30.000000 seconds' (the default, as the worker writes it)
--             $1 worker id       -> a uuid made from pgbench's :client_id (one per client)
--   complete  $1 ids, $2 statuses ('successful'), $3 tracebacks (NULL), all from the claim.
-- Only the claim's final SELECT differs: instead of returning one row per job it returns one
-- row for \gset (the id, status and traceback arrays the worker would bind next), and it
-- still renders every returned column as text (octet_length(c::text)), which is the work
-- the server does to send those rows in text format.
-- bench/pgbench/check-in-step.sh (run by ci/test and ci/bench) fails when they drift apart.

WITH available AS (
    SELECT entrypoint FROM unnest('{bench}'::text[]) AS p(entrypoint)
), next_queued AS (
    SELECT j.id, j.priority, FALSE AS stale FROM available a
    CROSS JOIN LATERAL (
        SELECT id, priority FROM pgqueuer
        WHERE entrypoint = a.entrypoint AND status = 'queued' AND execute_after < NOW()
        ORDER BY priority DESC, id ASC
        LIMIT :batch::bigint
        FOR UPDATE SKIP LOCKED
    ) j
), next_stale AS (
    SELECT id, priority, TRUE AS stale FROM pgqueuer
    WHERE entrypoint = ANY('{bench}'::text[]) AND status = 'picked'
      AND heartbeat < NOW() - '30.000000 seconds'::interval AND execute_after < NOW()
      AND updated < NOW() - '30.000000 seconds'::interval
    ORDER BY priority DESC, id ASC
    LIMIT :batch::bigint
    FOR UPDATE SKIP LOCKED
), eligible AS (
    SELECT id, stale FROM (
        SELECT id, priority, stale FROM next_queued
        UNION ALL
        SELECT id, priority, stale FROM next_stale
    ) c
    ORDER BY priority DESC, id ASC
    LIMIT :batch::bigint
), claimed AS (
    UPDATE pgqueuer AS j
    SET status = 'picked', updated = NOW(), heartbeat = NOW(),
        queue_manager_id = lpad(to_hex(:client_id::int), 32, '0')::uuid
    WHERE j.id = ANY(ARRAY(SELECT id FROM eligible))
    RETURNING j.*
), log_pick AS (
    INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
    SELECT id, 'picked', entrypoint, priority FROM claimed
)
SELECT COALESCE(array_agg(c.id ORDER BY c.priority DESC, c.id ASC), '{}') AS ids,
       COALESCE(array_agg('successful'::text), '{}') AS statuses,
       COALESCE(array_agg(NULL::jsonb), '{}') AS tracebacks,
       COALESCE(sum(octet_length(c::text)), 0) AS bytes
FROM (
    SELECT claimed.id, claimed.priority, claimed.queue_manager_id::text AS queue_manager_id,
           (EXTRACT(EPOCH FROM claimed.created) * 1000000)::bigint AS created_us,
           (EXTRACT(EPOCH FROM claimed.updated) * 1000000)::bigint AS updated_us,
           (EXTRACT(EPOCH FROM claimed.heartbeat) * 1000000)::bigint AS heartbeat_us,
           (EXTRACT(EPOCH FROM claimed.execute_after) * 1000000)::bigint AS execute_after_us,
           claimed.status::text AS status, claimed.entrypoint, claimed.dedupe_key,
           claimed.payload, claimed.headers::text AS headers, claimed.attempts,
           eligible.stale AS rescued,
           (EXTRACT(EPOCH FROM NOW() - claimed.created) * 1000000)::bigint AS waited_us
    FROM claimed JOIN eligible ON eligible.id = claimed.id
) AS c
\gset

WITH job_status AS (
    SELECT * FROM unnest(:ids::bigint[], :statuses::text[]::pgqueuer_status[], :tracebacks::jsonb[])
        AS t(id, status, traceback)
), deleted AS (
    DELETE FROM pgqueuer WHERE id = ANY(ARRAY(SELECT id FROM job_status WHERE status <> 'failed'))
    RETURNING id, entrypoint, priority
), held AS (
    UPDATE pgqueuer SET status = 'failed', updated = NOW(), queue_manager_id = NULL
    WHERE id = ANY(ARRAY(SELECT id FROM job_status WHERE status = 'failed'))
    RETURNING id, entrypoint, priority
)
INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority, traceback)
SELECT js.id, js.status, r.entrypoint, r.priority, js.traceback
FROM job_status js
JOIN (SELECT * FROM deleted UNION ALL SELECT * FROM held) r ON r.id = js.id;
