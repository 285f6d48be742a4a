-- schema_index_queue_ep_prio: the hot dequeue path: queued jobs per entrypoint in priority order.
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE INDEX {concurrently}{if_not_exists}{index} ON {queue_table} (entrypoint, priority DESC, id ASC) WHERE status = 'queued';
