-- schema_statistics_table: finished jobs counted per (entrypoint, priority,
-- status, second).
--   {table_kind}: TABLE or UNLOGGED TABLE.

CREATE {table_kind} {statistics_table} (
    id BIGSERIAL PRIMARY KEY,
    created TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT DATE_TRUNC('sec', NOW() AT TIME ZONE 'UTC'),
    count BIGINT NOT NULL,
    priority INT NOT NULL,
    status {status_type} NOT NULL,
    entrypoint TEXT NOT NULL
);
