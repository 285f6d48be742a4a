-- claim_gated: the claim with concurrency limits per entrypoint and a cap per
-- worker (claim.sql, without them, is cheaper: these counts visit every job in
-- flight across the fleet).
--   $1 batch size, $2 entrypoints, $3 their limits (0: none, one per
--   entrypoint), $4 the worker's id, $5 the cap on this worker's picked jobs,
--   $6 the heartbeat timeout.
-- Answers as claim.sql.

WITH params AS (
    SELECT * FROM unnest($2::text[], $3::bigint[]) AS p(entrypoint, concurrency_limit)
), picked AS (
    SELECT entrypoint, count(*) AS n FROM {queue_table}
    WHERE queue_manager_id IS NOT NULL AND entrypoint = ANY($2::text[])
    GROUP BY entrypoint
), worker_load AS (
    SELECT count(*) AS n FROM {queue_table}
    WHERE queue_manager_id = $4::uuid AND entrypoint = ANY($2::text[])
), available AS (
    SELECT p.entrypoint,
           CASE WHEN p.concurrency_limit > 0
                THEN p.concurrency_limit - COALESCE(k.n, 0) END AS remaining
    FROM params p LEFT JOIN picked k ON k.entrypoint = p.entrypoint
    WHERE p.concurrency_limit <= 0 OR COALESCE(k.n, 0) < p.concurrency_limit
), next_queued AS (
    SELECT j.id, j.priority, FALSE AS stale FROM available a
    CROSS JOIN LATERAL (
        SELECT id, priority FROM {queue_table}
        WHERE entrypoint = a.entrypoint AND status = 'queued' AND execute_after < NOW()
        ORDER BY priority DESC, id ASC
        LIMIT LEAST($1::bigint, COALESCE(a.remaining, $1::bigint))
        FOR UPDATE SKIP LOCKED
    ) j
    WHERE (SELECT n FROM worker_load) < $5::bigint
), next_stale AS (
    SELECT id, priority, TRUE AS stale FROM {queue_table}
    WHERE entrypoint = ANY($2::text[]) AND status = 'picked'
      AND heartbeat < NOW() - $6::interval AND execute_after < NOW()
      AND updated < NOW() - $6::interval
      AND (SELECT n FROM worker_load) < $5::bigint
    ORDER BY priority DESC, id ASC
    LIMIT $1::bigint
    FOR UPDATE SKIP LOCKED
), eligible AS (
    SELECT id, stale FROM (
        SELECT id, priority, stale FROM next_queued
        UNION ALL
        SELECT id, priority, stale FROM next_stale
    ) c
    ORDER BY priority DESC, id ASC
    LIMIT GREATEST(0, LEAST($1::bigint, $5::bigint - (SELECT n FROM worker_load)))
), claimed AS (
    UPDATE {queue_table} AS j
    SET status = 'picked', updated = NOW(), heartbeat = NOW(), queue_manager_id = $4::uuid
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
