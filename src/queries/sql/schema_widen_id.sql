-- schema_widen_id: widens a table's int4 id (tables from early PgQueuer
-- versions) and its sequence to bigint; a no-op when already bigint. Rewrites
-- the table under an ACCESS EXCLUSIVE lock, so only on request (`--widen-id`).
--   {table}: the qualified table; {table_literal}: the same as a literal;
--   {schema_expr}: the schema as a literal, or current_schema();
--   {table_name_literal}: the bare table name as a literal.

DO $pgq$
BEGIN
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = {schema_expr} AND table_name = {table_name_literal} AND column_name = 'id') = 'integer' THEN
        ALTER TABLE {table} ALTER COLUMN id TYPE BIGINT;
    END IF;
    IF pg_get_serial_sequence({table_literal}, 'id') IS NOT NULL THEN
        EXECUTE format('ALTER SEQUENCE %s AS BIGINT', pg_get_serial_sequence({table_literal}, 'id'));
    END IF;
END $pgq$;
