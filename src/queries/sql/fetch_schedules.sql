-- fetch_schedules: claim the schedules that are due (or whose claimer stopped
-- sending heartbeats for 30 s), moving each one's next run on.
--   $1 entrypoints, $2 expressions, $3 the delays until each next run.

WITH params AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::interval[])
        AS t(entrypoint, expression, delay)
), due AS (
    SELECT s.id, p.delay FROM {schedules_table} s
    JOIN params p ON p.entrypoint = s.entrypoint AND p.expression = s.expression
    WHERE (s.status = 'queued' AND s.next_run <= NOW())
       OR (s.status = 'picked' AND NOW() - s.heartbeat > INTERVAL '30 seconds')
    FOR UPDATE OF s SKIP LOCKED
)
UPDATE {schedules_table} AS s SET status = 'picked', updated = NOW(), heartbeat = NOW(),
    next_run = date_trunc('seconds', NOW() + due.delay)
FROM due WHERE s.id = due.id
RETURNING s.id, s.expression, s.entrypoint, (EXTRACT(EPOCH FROM s.heartbeat) * 1000000)::bigint AS heartbeat_us, (EXTRACT(EPOCH FROM s.created) * 1000000)::bigint AS created_us, (EXTRACT(EPOCH FROM s.updated) * 1000000)::bigint AS updated_us, (EXTRACT(EPOCH FROM s.next_run) * 1000000)::bigint AS next_run_us, (EXTRACT(EPOCH FROM s.last_run) * 1000000)::bigint AS last_run_us, s.status::text AS status
