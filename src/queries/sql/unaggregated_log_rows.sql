-- unaggregated_log_rows: how many log rows wait to be aggregated, counted up to
-- $1 (served by the log's partial index on NOT aggregated).

SELECT count(*) AS n FROM (SELECT 1 FROM {log_table} WHERE NOT aggregated LIMIT $1::bigint) AS pending
