-- console_failures: held ('failed') jobs grouped by entrypoint, the largest
-- group first: how many, when the first and the last were held, the newest
-- held job and the exception its latest log row with a traceback recorded.
--   $1 how many entrypoints at most.

SELECT g.entrypoint, g.jobs, g.first_us, g.last_us, g.newest_id,
       t.traceback ->> 'exception_type' AS exception_type,
       t.traceback ->> 'exception_message' AS exception_message
FROM (
    SELECT j.entrypoint, count(*) AS jobs,
           (EXTRACT(EPOCH FROM min(j.updated)) * 1000000)::bigint AS first_us,
           (EXTRACT(EPOCH FROM max(j.updated)) * 1000000)::bigint AS last_us,
           max(j.id) AS newest_id
    FROM {queue_table} AS j
    WHERE j.status = 'failed'
    GROUP BY j.entrypoint
    ORDER BY count(*) DESC, j.entrypoint
    LIMIT $1::bigint
) AS g
LEFT JOIN LATERAL (
    SELECT l.traceback FROM {log_table} AS l
    WHERE l.job_id = g.newest_id AND l.traceback IS NOT NULL
    ORDER BY l.created DESC
    LIMIT 1
) AS t ON TRUE
ORDER BY g.jobs DESC, g.entrypoint
