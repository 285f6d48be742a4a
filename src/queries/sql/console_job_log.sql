-- console_job_log: the log history of one job, newest first (the log's
-- (job_id, created DESC) index), with each row's traceback. A finished job
-- has left the queue table; its log rows stay until pruned.
--   $1 job id, $2 rows at most.

SELECT l.id, (EXTRACT(EPOCH FROM l.created) * 1000000)::bigint AS created_us,
       l.status::text AS status, l.entrypoint, l.priority, l.traceback::text AS traceback
FROM {log_table} AS l
WHERE l.job_id = $1::bigint
ORDER BY l.created DESC, l.id DESC
LIMIT $2::bigint
