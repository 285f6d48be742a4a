-- schema_column_log_traceback: the error of a failed attempt.
--   {if_not_exists}: empty when `pgq migrate` found the column missing, or
--   "IF NOT EXISTS " for `pgq upgrade`.

ALTER TABLE {log_table} ADD COLUMN {if_not_exists}traceback JSONB DEFAULT NULL;
