-- enqueue_raise: enqueue.sql without ON CONFLICT: a live dedupe key fails the
-- whole statement with a unique violation (OnConflict::kRaise).
--   $1..$6 and the answer as in enqueue.sql.

WITH input AS MATERIALIZED (
    SELECT nextval((SELECT pg_get_serial_sequence({queue_table_literal}, 'id'))::regclass) AS id, t.*
    FROM unnest($1::int4[], $2::text[], $3::bytea[], $4::interval[], $5::text[], $6::jsonb[])
         WITH ORDINALITY AS t(priority, entrypoint, payload, delay, dedupe_key, headers, ord)
), inserted AS (
    INSERT INTO {queue_table} (id, priority, entrypoint, payload, execute_after, dedupe_key, headers, status)
    SELECT id, priority, entrypoint, payload, NOW() + COALESCE(delay, INTERVAL '0'),
           dedupe_key, COALESCE(headers, 'null'::jsonb), 'queued'
    FROM input ORDER BY ord
    RETURNING id, entrypoint, priority
), logged AS (
    INSERT INTO {log_table} (job_id, status, entrypoint, priority)
    SELECT id, 'queued', entrypoint, priority FROM inserted
)
SELECT input.ord, inserted.id FROM input LEFT JOIN inserted ON inserted.id = input.id
ORDER BY input.ord
