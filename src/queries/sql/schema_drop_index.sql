-- schema_drop_index: removes an index that must be rebuilt (an invalid one
-- left by a failed concurrent build, or one whose definition is stale).
--   {concurrently}: empty, or "CONCURRENTLY " on a table in use;
--   {qualified_index}: the index name with the schema.

DROP INDEX {concurrently}IF EXISTS {qualified_index};
