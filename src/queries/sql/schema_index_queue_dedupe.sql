-- schema_index_queue_dedupe: at most one live (queued or picked) job per dedupe key.
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE UNIQUE INDEX {concurrently}{if_not_exists}{index} ON {queue_table} (dedupe_key) WHERE ((status IN ('queued', 'picked') AND dedupe_key IS NOT NULL));
