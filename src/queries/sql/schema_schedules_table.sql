-- schema_schedules_table: cron schedules, one row per (expression,
-- entrypoint), claimed by one scheduler at a time.
--   {table_kind}: TABLE or UNLOGGED TABLE; {if_not_exists}: empty, or
--   "IF NOT EXISTS " for the upgrade.

CREATE {table_kind} {if_not_exists}{schedules_table} (
    id BIGSERIAL PRIMARY KEY,
    expression TEXT NOT NULL,
    entrypoint TEXT NOT NULL,
    heartbeat TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
    created TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
    updated TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
    next_run TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
    last_run TIMESTAMP WITH TIME ZONE,
    status {status_type} DEFAULT 'queued',
    UNIQUE (expression, entrypoint)
);
