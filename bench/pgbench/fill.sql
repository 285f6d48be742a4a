-- Pre-fills the queue for script.sh's claim_complete: :jobs queued no-op jobs of entrypoint 'bench'
-- with a `queued` log row each, as pgq's enqueue statement leaves them (empty payload,
-- priority 0, eligible now). psql -v jobs=N -f fill.sql, on a freshly installed schema.
\set ON_ERROR_STOP on
WITH inserted AS (
    INSERT INTO pgqueuer (priority, entrypoint, payload, execute_after, headers, status)
    SELECT 0, 'bench', NULL, NOW() - INTERVAL '1 second', 'null'::jsonb, 'queued'
    FROM generate_series(1, :jobs)
    RETURNING id, entrypoint, priority
)
INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
SELECT id, 'queued', entrypoint, priority FROM inserted;
VACUUM ANALYZE pgqueuer;
VACUUM ANALYZE pgqueuer_log;
