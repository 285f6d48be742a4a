-- drop_index_concurrently: drop a leftover invalid index copy without
-- blocking the table; outside any transaction block, alone.
--   {index}: the quoted, schema-qualified name reindex_leftovers.sql answered.

DROP INDEX CONCURRENTLY IF EXISTS {index}
