-- schema_index_queue_ep_ea: the next deferred job per entrypoint (execute_after).
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE INDEX {concurrently}{if_not_exists}{index} ON {queue_table} (entrypoint, execute_after) WHERE status = 'queued';
