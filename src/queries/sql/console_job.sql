-- console_job: one job of the queue table for the detail screen: the row,
-- at most $2 bytes of its payload and the payload's full size.
--   $1 job id, $2 payload bytes to read.

SELECT j.id, j.priority, j.status::text AS status, j.entrypoint, j.dedupe_key, j.attempts,
       j.queue_manager_id::text AS queue_manager_id,
       (EXTRACT(EPOCH FROM j.created) * 1000000)::bigint AS created_us,
       (EXTRACT(EPOCH FROM j.updated) * 1000000)::bigint AS updated_us,
       (EXTRACT(EPOCH FROM j.heartbeat) * 1000000)::bigint AS heartbeat_us,
       (EXTRACT(EPOCH FROM j.execute_after) * 1000000)::bigint AS execute_after_us,
       octet_length(j.payload) AS payload_bytes,
       substring(j.payload FROM 1 FOR $2::int) AS payload_preview,
       j.headers::text AS headers
FROM {queue_table} AS j
WHERE j.id = $1::bigint
