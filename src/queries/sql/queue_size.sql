-- queue_size: jobs per entrypoint, priority and status.

SELECT count(*) AS count, priority, entrypoint, status::text AS status FROM {queue_table}
GROUP BY entrypoint, priority, status
ORDER BY count, entrypoint, priority, status
