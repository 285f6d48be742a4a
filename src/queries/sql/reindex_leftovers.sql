-- reindex_leftovers: invalid copies that a failed REINDEX CONCURRENTLY (a
-- lock or statement timeout, a cancel) leaves on the queue and log tables,
-- named <index>_ccnew[N] or <index>_ccold[N]. They cost writes and space
-- until dropped (schema_drop_index.sql, CONCURRENTLY). No parameters.

SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid IN (to_regclass({queue_table_literal}), to_regclass({log_table_literal}))
  AND NOT i.indisvalid
  AND c.relname ~ '_cc(new|old)[0-9]*$'
ORDER BY c.relname
