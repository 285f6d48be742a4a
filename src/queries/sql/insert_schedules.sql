-- insert_schedules: register cron schedules; one already registered stays as it is.
--   $1 entrypoints, $2 expressions, $3 delays until each first run.

INSERT INTO {schedules_table} (expression, entrypoint, next_run, status)
SELECT expression, entrypoint, date_trunc('seconds', NOW() + delay), 'queued'
FROM unnest($1::text[], $2::text[], $3::interval[]) AS t(entrypoint, expression, delay)
ON CONFLICT (expression, entrypoint) DO NOTHING
