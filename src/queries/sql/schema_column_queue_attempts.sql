-- schema_column_queue_attempts: how often a job was tried.
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {queue_table} ADD COLUMN {if_not_exists}attempts INT NOT NULL DEFAULT 0;
