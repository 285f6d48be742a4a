-- schema_catalog: what the database holds of a pgq schema, one row per
-- object, for the schema contract (src/queries/schema_contract.cc) to compare
-- with what pgq expects: the schema itself (so an install by a role without
-- CREATE on the database skips CREATE SCHEMA), the tables (detail: relpersistence), their columns
-- (detail: the type, `enum:NAME` for an enum), their indexes (detail:
-- pg_get_indexdef; valid: false for a failed concurrent build), the status
-- enum's labels, the trigger function (detail: its body) and the tables'
-- triggers (detail: tgtype and the function's name).
--   {schema_expr}: the schema as a literal, or current_schema().
--   $1: the bare table names as a text[] literal; $2: the status enum's name;
--   $3: the trigger function's name.

WITH ns AS (
    SELECT oid FROM pg_namespace WHERE nspname = {schema_expr}
), tables AS (
    SELECT c.oid, c.relname, c.relpersistence
    FROM pg_class c
    WHERE c.relnamespace = (SELECT oid FROM ns)
      AND c.relkind IN ('r', 'p')
      AND c.relname = ANY($1::text[])
)
SELECT 'schema' AS kind, '' AS owner, n.nspname::text AS name, '' AS detail, TRUE AS valid
FROM pg_namespace n
WHERE n.oid = (SELECT oid FROM ns)
UNION ALL
SELECT 'table', t.relname::text, t.relname::text, t.relpersistence::text, TRUE
FROM tables t
UNION ALL
SELECT 'column', t.relname::text, a.attname::text,
       CASE WHEN ty.typtype = 'e' THEN 'enum:' || ty.typname
            ELSE format_type(a.atttypid, a.atttypmod) END,
       TRUE
FROM tables t
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type ty ON ty.oid = a.atttypid
UNION ALL
SELECT 'index', t.relname::text, i.relname::text, pg_get_indexdef(x.indexrelid), x.indisvalid
FROM tables t
JOIN pg_index x ON x.indrelid = t.oid
JOIN pg_class i ON i.oid = x.indexrelid
UNION ALL
SELECT 'enum_label', ty.typname::text, e.enumlabel::text, '', TRUE
FROM pg_type ty
JOIN pg_enum e ON e.enumtypid = ty.oid
WHERE ty.typnamespace = (SELECT oid FROM ns) AND ty.typname = $2
UNION ALL
SELECT 'function', '', p.proname::text, p.prosrc, TRUE
FROM pg_proc p
WHERE p.pronamespace = (SELECT oid FROM ns) AND p.proname = $3
UNION ALL
SELECT 'trigger', t.relname::text, tg.tgname::text, tg.tgtype::text || ' ' || p.proname,
       tg.tgenabled <> 'D'
FROM tables t
JOIN pg_trigger tg ON tg.tgrelid = t.oid AND NOT tg.tgisinternal
JOIN pg_proc p ON p.oid = tg.tgfoid
ORDER BY 1, 2, 3
