-- table_sizes: estimated rows and total bytes (with indexes and TOAST) of each of
-- the queue's tables; reltuples is -1 before the first VACUUM or ANALYZE and
-- is reported as 0.

SELECT n.name, greatest(COALESCE(c.reltuples, 0), 0)::bigint AS estimated_rows,
       COALESCE(pg_total_relation_size(c.oid), 0) AS bytes
FROM (VALUES (0, 'queue', to_regclass({queue_table_literal})),
       (1, 'log', to_regclass({log_table_literal})),
       (2, 'statistics', to_regclass({statistics_table_literal})),
       (3, 'schedules', to_regclass({schedules_table_literal}))) AS n(ord, name, rel)
LEFT JOIN pg_class c ON c.oid = n.rel ORDER BY n.ord
