-- queue_probe: one round trip answers all an idle worker asks: is anything
-- eligible now, is anything queued at all, and when does the next deferred job
-- become eligible (microseconds from now). Each part is an index probe of at
-- most one row per entrypoint (the partial (entrypoint, execute_after) index).
--   $1 entrypoints.

SELECT EXISTS (SELECT 1 FROM {queue_table} WHERE entrypoint = ANY($1::text[]) AND status = 'queued' AND execute_after <= NOW()) AS eligible,
       EXISTS (SELECT 1 FROM {queue_table} WHERE entrypoint = ANY($1::text[]) AND status = 'queued') AS queued,
       (SELECT (EXTRACT(EPOCH FROM min(n.execute_after) - NOW()) * 1000000)::bigint
        FROM unnest($1::text[]) AS e(entrypoint)
        CROSS JOIN LATERAL (
            SELECT execute_after FROM {queue_table}
            WHERE entrypoint = e.entrypoint AND status = 'queued' AND execute_after > NOW()
            ORDER BY execute_after LIMIT 1
        ) n) AS eta_us
