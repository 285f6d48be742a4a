-- console_backlog: per entrypoint, jobs queued, picked and held ('failed'),
-- and the wait in seconds of its longest-waiting eligible queued job (NULL
-- when none is eligible); the entrypoints with the most jobs first.
--   $1 how many entrypoints at most.

SELECT j.entrypoint,
       count(*) FILTER (WHERE j.status = 'queued') AS queued,
       count(*) FILTER (WHERE j.status = 'picked') AS picked,
       count(*) FILTER (WHERE j.status = 'failed') AS failed,
       EXTRACT(EPOCH FROM NOW() - min(j.execute_after)
           FILTER (WHERE j.status = 'queued' AND j.execute_after <= NOW()))::float8
           AS oldest_wait_s
FROM {queue_table} AS j
GROUP BY j.entrypoint
ORDER BY count(*) DESC, j.entrypoint
LIMIT $1::bigint
