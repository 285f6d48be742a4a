-- One pgbench transaction = one autocommit enqueue with pgq's enqueue statement (spec 3.1), as
-- BatchingProducer's flush with its default OnConflict::kSkip runs it, for the default names
-- pgqueuer / pgqueuer_log. Without the ON CONFLICT line it is the kRaise variant that
-- ProducerQueries::Enqueue(job) runs per call: ci/bench deletes that line for its single-row
-- runs. The six arrays are bound
-- parameters, as pgq binds them: ci/bench passes them as pgbench variables (-D) holding the
-- text pgq binds for :n jobs of `pgq bench`'s job (entrypoint "bench", the 13-byte payload
-- "enqueue-bench" in hex, and NULL for no delay, no dedupe key and no headers), and runs the
-- script with -M prepared.
-- A copy of the "enqueue" statement of `pgq sql statements`; bench/pgbench/check-in-step.sh (run
-- by ci/test and ci/bench) fails when they drift apart, or when deleting the ON CONFLICT line no
-- longer gives "enqueue_raise".

WITH input AS MATERIALIZED (
    SELECT nextval((SELECT pg_get_serial_sequence('pgqueuer', 'id'))::regclass) AS id, t.*
    FROM unnest(:priorities::int4[], :entrypoints::text[], :payloads::bytea[], :delays::interval[],
                :keys::text[], :headers::jsonb[])
         WITH ORDINALITY AS t(priority, entrypoint, payload, delay, dedupe_key, headers, ord)
), inserted AS (
    INSERT INTO pgqueuer (id, priority, entrypoint, payload, execute_after, dedupe_key, headers, status)
    SELECT id, priority, entrypoint, payload, NOW() + COALESCE(delay, INTERVAL '0'),
           dedupe_key, COALESCE(headers, 'null'::jsonb), 'queued'
    FROM input ORDER BY ord
    ON CONFLICT (dedupe_key) WHERE ((status IN ('queued', 'picked') AND dedupe_key IS NOT NULL)) DO NOTHING
    RETURNING id, entrypoint, priority
), logged AS (
    INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
    SELECT id, 'queued', entrypoint, priority FROM inserted
)
SELECT input.ord, inserted.id FROM input LEFT JOIN inserted ON inserted.id = input.id
ORDER BY input.ord;
