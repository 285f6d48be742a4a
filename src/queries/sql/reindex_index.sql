-- reindex_index: rebuild one index without blocking writes: builds a new
-- copy beside it and swaps them, taking only short locks (each under the
-- session's lock_timeout). Must run outside any transaction block, alone.
--   {index}: the quoted, schema-qualified name index_health.sql answered.

REINDEX INDEX CONCURRENTLY {index}
