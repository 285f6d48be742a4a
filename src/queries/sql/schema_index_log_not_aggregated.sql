-- schema_index_log_not_aggregated: the log rows not yet counted into the statistics (a constant key: PgQueuer went back to it, so another definition is stale and is rebuilt).
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE INDEX {concurrently}{if_not_exists}{index} ON {log_table} ((1)) WHERE NOT aggregated;
