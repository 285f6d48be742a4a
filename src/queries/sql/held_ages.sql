-- held_ages: per entrypoint, how many jobs are held ('failed') and how long
-- the oldest has been held (by `updated`, the time it was held; the age
-- held-job retention deletes by). Sampled by the worker once a minute for
-- pgq_held_jobs and pgq_held_oldest_age_seconds; the queue table holds the
-- backlog only, so a scan of it is cheap. No parameters.

SELECT entrypoint, count(*) AS jobs,
       EXTRACT(EPOCH FROM NOW() - min(updated))::float8 AS oldest_seconds
FROM {queue_table}
WHERE status = 'failed'
GROUP BY entrypoint
ORDER BY entrypoint
