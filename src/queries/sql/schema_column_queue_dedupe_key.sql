-- schema_column_queue_dedupe_key: a job's deduplication key.
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {queue_table} ADD COLUMN {if_not_exists}dedupe_key TEXT DEFAULT NULL;
