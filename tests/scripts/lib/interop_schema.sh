# shellcheck shell=bash
# Part of tests/scripts/interop.sh, sourced by it in order: section 1, the schema installed by either side and verified by the other; the two catalogs compared.
# Runs at source time with that script's state (lib/interop_env.sh helpers, use_names,
# count[], work, inner).

# ---- 1. schema installed by either side -----------------------------------------------
section "1. schema: installed by either side, verified by the other"
# The four installs used by the sections below: each is used by the side that did not make it.
use_names "" ""
pgqueuer_cli install --durability durable
"$pgq" verify --expect present
use_names ipx_ ""
"$pgq" install >/dev/null
pgqueuer_cli verify --expect present
expect_eq "QueueManager.verify_structure on pgq's prefixed install" "$(py inspect_queue.py verify)" '"verified"'
use_names "" interop_py
pgqueuer_cli install --durability durable
"$pgq" verify --expect present
use_names sx_ interop_pgq
"$pgq" install >/dev/null
pgqueuer_cli verify --expect present
expect_eq "QueueManager.verify_structure on pgq's schema+prefix install" "$(py inspect_queue.py verify)" '"verified"'
# Absent objects are absent for both.
use_names nothere_ ""
pgqueuer_cli verify --expect absent
"$pgq" verify --expect absent
count[installs]=4

# The same catalog from both installs: PgQueuer's in interop_py, pgq's in interop_cmp.
use_names "" interop_cmp
"$pgq" install >/dev/null
catalog() { # catalog SCHEMA: every column, index, constraint, enum label, trigger, persistence
  sql "
    SELECT 'column', table_name, column_name, data_type, coalesce(column_default, ''), is_nullable
      FROM information_schema.columns WHERE table_schema = '$1'
    UNION ALL SELECT 'index', tablename, indexname, replace(indexdef, '$1.', 'S.'), '', ''
      FROM pg_indexes WHERE schemaname = '$1'
    UNION ALL SELECT 'constraint', c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), '', ''
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '$1'
    UNION ALL SELECT 'enum', t.typname, e.enumlabel, e.enumsortorder::text, '', ''
      FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = '$1'
    UNION ALL SELECT 'trigger', c.relname, g.tgname, g.tgtype::text, g.tgenabled::text, ''
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = '$1' AND NOT g.tgisinternal
    UNION ALL SELECT 'relation', c.relname, c.relkind::text, c.relpersistence::text, '', ''
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$1'
    UNION ALL SELECT 'function', p.proname, pg_get_function_result(p.oid), l.lanname::text, '', ''
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = '$1'
    ORDER BY 1, 2, 3, 4" | sed "s/\b$1\b/S/g"
}
catalog interop_py >"$work/catalog.pgqueuer"
catalog interop_cmp >"$work/catalog.pgq"
if ! diff -u "$work/catalog.pgqueuer" "$work/catalog.pgq"; then
  fail "the catalog of pgq's install differs from PgQueuer's (- PgQueuer, + pgq)"
fi
count[catalog]=$(wc -l <"$work/catalog.pgq")
echo "catalog rows identical between the two installs: ${count[catalog]}"
sql "DROP SCHEMA interop_cmp CASCADE" >/dev/null
