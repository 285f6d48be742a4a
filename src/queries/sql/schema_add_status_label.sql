-- schema_add_status_label: a job status PgQueuer added after the enum was
-- first created. Runs on its own (a new label cannot be used in the
-- transaction that adds it).
--   {if_not_exists}: empty, or "IF NOT EXISTS " for `pgq upgrade`;
--   {label_literal}: the label as a quoted literal.

ALTER TYPE {status_type} ADD VALUE {if_not_exists}{label_literal};
