-- release: give picked jobs back to the queue (a draining worker's unstarted
-- jobs); only jobs this worker still holds.
--   $1 ids, $2 the worker's id.

WITH released AS (
    UPDATE {queue_table} SET status = 'queued', updated = NOW(), queue_manager_id = NULL
    WHERE id = ANY($1::bigint[]) AND status = 'picked' AND queue_manager_id = $2::uuid
    RETURNING id, entrypoint, priority
)
INSERT INTO {log_table} (job_id, status, entrypoint, priority)
SELECT id, 'queued', entrypoint, priority FROM released
