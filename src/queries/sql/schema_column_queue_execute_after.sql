-- schema_column_queue_execute_after: the earliest time a job may run.
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {queue_table} ADD COLUMN {if_not_exists}execute_after TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW();
