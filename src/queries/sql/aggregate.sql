-- aggregate: roll log rows not yet counted into the statistics table, one row
-- per (entrypoint, priority, status, second).
--   {guard}: PgQueuer's lock, pg_try_advisory_xact_lock(hashtext(<statistics
--       table>)), so Python and C++ aggregators serialise with each other; or
--       TRUE for a caller that needs no lock. Written in once per form.
-- Answers `won`: false when another aggregator held the lock (nothing done).

WITH guard AS MATERIALIZED (SELECT {guard} AS won),
flagged AS (
    UPDATE {log_table} SET aggregated = TRUE
    WHERE NOT aggregated AND (SELECT won FROM guard)
    RETURNING entrypoint, priority, status, created
), counted AS (
    INSERT INTO {statistics_table} (count, created, entrypoint, priority, status)
    SELECT count(*), date_trunc('sec', created), entrypoint, priority, status
    FROM flagged GROUP BY entrypoint, priority, status, date_trunc('sec', created)
    ON CONFLICT (priority, DATE_TRUNC('sec', created AT TIME ZONE 'UTC'), status, entrypoint)
    DO UPDATE SET count = {statistics_table}.count + EXCLUDED.count
)
SELECT won FROM guard
