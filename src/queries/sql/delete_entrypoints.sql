-- delete_entrypoints: delete every job of the entrypoints $1, logged 'deleted'.

WITH deleted AS (
    DELETE FROM {queue_table} WHERE entrypoint = ANY($1::text[])
    RETURNING id, entrypoint, priority
)
INSERT INTO {log_table} (job_id, status, entrypoint, priority)
SELECT id, 'deleted', entrypoint, priority FROM deleted
