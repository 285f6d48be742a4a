-- schema_column_queue_updated: when a job last changed (PgQueuer 0.x upgrade step).
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {queue_table} ADD COLUMN {if_not_exists}updated TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW();
