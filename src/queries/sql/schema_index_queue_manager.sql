-- schema_index_queue_manager: the jobs a queue manager holds.
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE INDEX {concurrently}{if_not_exists}{index} ON {queue_table} (queue_manager_id) WHERE queue_manager_id IS NOT NULL;
