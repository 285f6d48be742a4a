-- enqueue: insert jobs and their 'queued' log rows in one statement; a job whose
-- dedupe key is live already (queued or picked) is skipped, and its row of the
-- answer has a NULL id. BatchingProducer's flush and ProducerQueries with
-- OnConflict::kSkip run it. enqueue_raise.sql is the same without the ON CONFLICT
-- line.
--   $1 priorities, $2 entrypoints, $3 payloads (bytea), $4 delays (NULL: none),
--   $5 dedupe keys, $6 headers (NULL: JSON null); one element per job.
-- Answers one row per job, in input order: (ord, id).
-- The sequence is looked up once (an init plan), not per row.

WITH input AS MATERIALIZED (
    SELECT nextval((SELECT pg_get_serial_sequence({queue_table_literal}, 'id'))::regclass) AS id, t.*
    FROM unnest($1::int4[], $2::text[], $3::bytea[], $4::interval[], $5::text[], $6::jsonb[])
         WITH ORDINALITY AS t(priority, entrypoint, payload, delay, dedupe_key, headers, ord)
), inserted AS (
    INSERT INTO {queue_table} (id, priority, entrypoint, payload, execute_after, dedupe_key, headers, status)
    SELECT id, priority, entrypoint, payload, NOW() + COALESCE(delay, INTERVAL '0'),
           dedupe_key, COALESCE(headers, 'null'::jsonb), 'queued'
    FROM input ORDER BY ord
    ON CONFLICT (dedupe_key) WHERE ((status IN ('queued', 'picked') AND dedupe_key IS NOT NULL)) DO NOTHING
    RETURNING id, entrypoint, priority
), logged AS (
    INSERT INTO {log_table} (job_id, status, entrypoint, priority)
    SELECT id, 'queued', entrypoint, priority FROM inserted
)
SELECT input.ord, inserted.id FROM input LEFT JOIN inserted ON inserted.id = input.id
ORDER BY input.ord
