-- schema_statistics_status_retype: statistics tables from before PgQueuer
-- 0.27 had an enum of their own; they take the job status enum. Rewrites the
-- table, so `pgq migrate` runs it only when the column still has another type.

ALTER TABLE {statistics_table} ALTER COLUMN status TYPE {status_type} USING status::TEXT::{status_type};
