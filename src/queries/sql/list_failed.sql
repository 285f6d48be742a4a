-- list_failed: held ('failed') jobs, newest or oldest first.
--   {order}: DESC (newest first) or ASC, written in once per direction.
--   $1 how many.

SELECT j.id, j.priority, j.queue_manager_id::text AS queue_manager_id,
       (EXTRACT(EPOCH FROM j.created) * 1000000)::bigint AS created_us,
       (EXTRACT(EPOCH FROM j.updated) * 1000000)::bigint AS updated_us,
       (EXTRACT(EPOCH FROM j.heartbeat) * 1000000)::bigint AS heartbeat_us,
       (EXTRACT(EPOCH FROM j.execute_after) * 1000000)::bigint AS execute_after_us,
       j.status::text AS status, j.entrypoint, j.dedupe_key,
       j.payload, j.headers::text AS headers, j.attempts
FROM {queue_table} AS j
WHERE j.status = 'failed'
ORDER BY j.created {order}, j.id {order}
LIMIT $1::bigint
