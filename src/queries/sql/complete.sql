-- complete: record the outcomes of finished jobs. Jobs that did not fail are
-- deleted; failed jobs that are held stay with status 'failed'. Every outcome
-- gets its log row (with the traceback, if any).
--   $1 ids, $2 statuses (pgqueuer_status labels), $3 tracebacks (jsonb or NULL).

WITH job_status AS (
    SELECT * FROM unnest($1::bigint[], $2::text[]::{status_type}[], $3::jsonb[]) AS t(id, status, traceback)
), deleted AS (
    DELETE FROM {queue_table} WHERE id = ANY(ARRAY(SELECT id FROM job_status WHERE status <> 'failed'))
    RETURNING id, entrypoint, priority
), held AS (
    UPDATE {queue_table} SET status = 'failed', updated = NOW(), queue_manager_id = NULL
    WHERE id = ANY(ARRAY(SELECT id FROM job_status WHERE status = 'failed'))
    RETURNING id, entrypoint, priority
)
INSERT INTO {log_table} (job_id, status, entrypoint, priority, traceback)
SELECT js.id, js.status, r.entrypoint, r.priority, js.traceback
FROM job_status js
JOIN (SELECT * FROM deleted UNION ALL SELECT * FROM held) r ON r.id = js.id
