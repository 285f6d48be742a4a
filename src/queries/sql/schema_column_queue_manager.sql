-- schema_column_queue_manager: the queue manager holding a picked job.
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {queue_table} ADD COLUMN {if_not_exists}queue_manager_id UUID;
