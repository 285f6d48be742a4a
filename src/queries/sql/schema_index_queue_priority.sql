-- schema_index_queue_priority: the claim's scan of queued jobs in priority order.
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE INDEX {concurrently}{if_not_exists}{index} ON {queue_table} (priority ASC, id DESC) INCLUDE (id) WHERE status = 'queued';
