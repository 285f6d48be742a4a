-- retry: put a failed job back in the queue after a delay, counting the attempt.
--   $1 id, $2 delay, $3 traceback of the failed attempt (logged with 'queued').

WITH retried AS (
    UPDATE {queue_table} SET status = 'queued', execute_after = NOW() + $2::interval,
        attempts = attempts + 1, updated = NOW(), queue_manager_id = NULL
    WHERE id = $1::bigint
    RETURNING id, entrypoint, priority
)
INSERT INTO {log_table} (job_id, status, entrypoint, priority, traceback)
SELECT id, 'queued', entrypoint, priority, $3::jsonb FROM retried
