-- console_jobs: one page of the job list, newest first. Keyset pagination on
-- the primary key (ids below the last one shown), never OFFSET, so a deep
-- page costs what the first one does; the primary key index walked backwards
-- serves the order and the cursor. Payloads are not read, only their size.
--   $1 status or NULL (typed as the enum, so that a queued filter can use the
--   partial indexes on queued jobs), $2 entrypoint or NULL, $3 job id or NULL,
--   $4 ids below this one (NULL: the first page), $5 rows.

SELECT j.id, j.priority, j.status::text AS status, j.entrypoint, j.dedupe_key, j.attempts,
       j.queue_manager_id::text AS queue_manager_id,
       (EXTRACT(EPOCH FROM j.created) * 1000000)::bigint AS created_us,
       (EXTRACT(EPOCH FROM j.updated) * 1000000)::bigint AS updated_us,
       (EXTRACT(EPOCH FROM j.execute_after) * 1000000)::bigint AS execute_after_us,
       octet_length(j.payload) AS payload_bytes
FROM {queue_table} AS j
WHERE ($1::{status_type} IS NULL OR j.status = $1::{status_type})
  AND ($2::text IS NULL OR j.entrypoint = $2::text)
  AND ($3::bigint IS NULL OR j.id = $3::bigint)
  AND j.id < COALESCE($4::bigint, 9223372036854775807)
ORDER BY j.id DESC
LIMIT $5::bigint
