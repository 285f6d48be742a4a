-- schema_index_statistics_unique: one statistics row per (priority, second,
-- status, entrypoint); the aggregation's ON CONFLICT target.
--   {index}: the index name; {concurrently}: empty, or "CONCURRENTLY " when
--   `pgq migrate` adds it to a table in use; {if_not_exists}: empty, or
--   "IF NOT EXISTS ".

CREATE UNIQUE INDEX {concurrently}{if_not_exists}{index} ON {statistics_table} (
    priority,
    DATE_TRUNC('sec', created AT TIME ZONE 'UTC'),
    status,
    entrypoint
);
