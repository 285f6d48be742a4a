-- schema_column_queue_heartbeat: a picked job's last heartbeat.
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {queue_table} ADD COLUMN {if_not_exists}heartbeat TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW();
