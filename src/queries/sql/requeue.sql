-- requeue: put held ('failed') jobs back in the queue, attempts reset.
--   $1 ids.

WITH requeued AS (
    UPDATE {queue_table} SET status = 'queued', execute_after = NOW(), updated = NOW(),
        attempts = 0, queue_manager_id = NULL
    WHERE id = ANY($1::bigint[]) AND status = 'failed'
    RETURNING id, entrypoint, priority
)
INSERT INTO {log_table} (job_id, status, entrypoint, priority)
SELECT id, 'queued', entrypoint, priority FROM requeued
