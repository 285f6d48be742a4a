-- schema_index_queue_heartbeat: picked jobs by heartbeat; PgQueuer 1.3's upgrade adds it, its install does not, so pgq knows it but never requires it.
--   {index}: the index name (the bare table name plus a suffix);
--   {concurrently}: empty, or "CONCURRENTLY " when `pgq migrate` adds it to a
--   table in use; {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`.

CREATE INDEX {concurrently}{if_not_exists}{index} ON {queue_table} (heartbeat ASC, id DESC) INCLUDE (id) WHERE status = 'picked';
