-- index_health: every B-tree index of the queue and log tables, its size on
-- disk, the rows it holds and the size it would have freshly built, estimated
-- from the catalog: entries (the index's reltuples, or its table's before the
-- first VACUUM) times the entry size (8-byte tuple header plus the average
-- width of its columns from pg_stats, 8-byte aligned, plus a 4-byte line
-- pointer) over a leaf page's usable 8,152 bytes at the default fillfactor
-- of 90 %, plus the metapage. Deduplication makes indexes on few distinct
-- values smaller than this; pages that deletes left nearly empty (the reason
-- for this query, see docs/operations.md) make them larger.
-- Invalid indexes (a failed REINDEX CONCURRENTLY's leftovers) are left out.
--   No parameters. `qualified` is the index's quoted, schema-qualified name
--   for REINDEX.

WITH t(ord, name, rel) AS (
    VALUES (0, 'queue', to_regclass({queue_table_literal})), (1, 'log', to_regclass({log_table_literal}))
), idx AS (
    SELECT t.ord, t.name AS table_name, t.rel, i.indexrelid, i.indkey, c.relname AS index_name,
           quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
           pg_relation_size(i.indexrelid) AS bytes,
           CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE greatest(tc.reltuples, 0) END AS entries,
           greatest(tc.reltuples, 0) AS table_rows, tn.nspname AS table_schema, tc.relname AS table_rel
    FROM t
    JOIN pg_index i ON i.indrelid = t.rel AND i.indisvalid
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class tc ON tc.oid = t.rel
    JOIN pg_namespace tn ON tn.oid = tc.relnamespace
    JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
), width AS (
    SELECT x.indexrelid,
           sum(COALESCE(s.avg_width, CASE WHEN a.attlen > 0 THEN a.attlen END, 8)) AS w
    FROM idx x
    CROSS JOIN LATERAL unnest(x.indkey::int2[]) AS k(attnum)
    LEFT JOIN pg_attribute a ON a.attrelid = x.rel AND a.attnum = k.attnum AND k.attnum > 0
    LEFT JOIN pg_stats s ON s.schemaname = x.table_schema AND s.tablename = x.table_rel
                        AND s.attname = a.attname
    GROUP BY x.indexrelid
)
SELECT x.table_name, x.index_name, x.qualified, x.bytes, x.entries::bigint AS entries,
       x.table_rows::bigint AS table_rows,
       ((ceil(x.entries * (ceil((8 + w.w) / 8.0) * 8 + 4) / (8152 * 0.9)) + 1) * 8192)::bigint
           AS estimated_bytes
FROM idx x JOIN width w ON w.indexrelid = x.indexrelid
ORDER BY x.ord, x.index_name
