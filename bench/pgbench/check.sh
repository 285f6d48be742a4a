#!/usr/bin/env bash
# Runs the pgbench scripts that script.sh makes from `pgq sql statements` against a real
# PostgreSQL (PGQ_TEST_DSN, a superuser) and checks what they did: claim_complete drains
# exactly the jobs fill.sql queued, each with a 'successful' log row; enqueue and
# enqueue_raise queue one job per array element and transaction. ci/bench relies on them.
#   check.sh PATH/TO/pgq          (ctest runs it with the label postgres)
set -euo pipefail

pgq=${1:?usage: check.sh PATH/TO/pgq}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
admin_dsn=${PGQ_TEST_DSN:?PGQ_TEST_DSN must name a PostgreSQL server}
pgbench=${PGQ_PG_BINDIR:+$PGQ_PG_BINDIR/pgbench}
if [[ -z $pgbench || ! -x $pgbench ]]; then
  pgbench=$(command -v pgbench || ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1)
fi
[[ -x $pgbench ]] || { echo "check.sh: pgbench not found (postgresql package)" >&2; exit 1; }

db=pgq_pgbench_check_$$
work=$(mktemp -d)
cleanup() {
  psql "$admin_dsn" -Xq -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$admin_dsn" -Xq -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
# The admin DSN may be a URI or key=value.
dsn="$admin_dsn"
case $dsn in
  postgres://* | postgresql://*) dsn=$(sed -E "s|^(postgres(ql)?://[^/?]*)(/[^?]*)?|\\1/$db|" <<<"$dsn") ;;
  *) dsn="$dsn dbname=$db" ;;
esac
sql() { psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
env -u PGQUEUER_PREFIX -u PGQUEUER_SCHEMA "$pgq" --dsn "$dsn" install >/dev/null

failed=0
expect() { # expect WHAT WANT HAVE
  if [[ $2 == "$3" ]]; then
    echo "ok    $1: $3"
  else
    echo "FAIL  $1: expected $2, got $3" >&2
    failed=1
  fi
}

# claim_complete: 100 jobs, 2 clients x 5 transactions x batch 10.
psql "$dsn" -Xq -v ON_ERROR_STOP=1 -v jobs=100 -f "$here/fill.sql" >/dev/null
bash "$here/script.sh" "$pgq" claim_complete 10 >"$work/claim_complete.sql"
"$pgbench" -n -M prepared -c 2 -j 2 -t 5 -f "$work/claim_complete.sql" "$dsn" >"$work/claim.log" 2>&1 ||
  { cat "$work/claim.log" >&2; exit 1; }
expect "claim_complete: jobs left" 0 "$(sql "SELECT count(*) FROM pgqueuer")"
expect "claim_complete: successful log rows" 100 \
  "$(sql "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")"
expect "claim_complete: picked log rows" 100 \
  "$(sql "SELECT count(*) FROM pgqueuer_log WHERE status = 'picked'")"

# enqueue (skip) and enqueue_raise: 3 jobs a transaction, 4 transactions each.
for kind in enqueue enqueue_raise; do
  bash "$here/script.sh" "$pgq" "$kind" >"$work/$kind.sql"
  "$pgbench" -n -M prepared -c 1 -t 4 -D priorities='{0,1,2}' -D entrypoints='{bench,bench,bench}' \
    -D payloads='{"\\x6a6f62",NULL,NULL}' -D delays='{NULL,NULL,NULL}' -D keys='{NULL,NULL,NULL}' \
    -D headers='{NULL,NULL,NULL}' -f "$work/$kind.sql" "$dsn" >"$work/$kind.log" 2>&1 ||
    { cat "$work/$kind.log" >&2; exit 1; }
done
expect "enqueue + enqueue_raise: queued jobs" 24 \
  "$(sql "SELECT count(*) FROM pgqueuer WHERE status = 'queued' AND entrypoint = 'bench'")"
expect "enqueue + enqueue_raise: payloads" 8 \
  "$(sql "SELECT count(*) FROM pgqueuer WHERE payload = 'job'::bytea")"

# A kRaise enqueue of a live dedupe key fails; the kSkip one skips it.
keys='{k1,NULL,NULL}'
for kind in enqueue enqueue_raise; do
  rc=0
  "$pgbench" -n -M prepared -c 1 -t 1 -D priorities='{0,0,0}' -D entrypoints='{bench,bench,bench}' \
    -D payloads='{NULL,NULL,NULL}' -D delays='{NULL,NULL,NULL}' -D keys="$keys" \
    -D headers='{NULL,NULL,NULL}' -f "$work/$kind.sql" "$dsn" >"$work/$kind-dedupe.log" 2>&1 || rc=$?
  [[ $kind == enqueue ]] && expect "$kind with a new dedupe key: pgbench exit" 0 "$rc"
done
expect "enqueue_raise with a live dedupe key: rows with that key" 1 \
  "$(sql "SELECT count(*) FROM pgqueuer WHERE dedupe_key = 'k1'")"
if ! grep -q 'duplicate key value' "$work/enqueue_raise-dedupe.log"; then
  echo "FAIL  enqueue_raise with a live dedupe key did not fail with a unique violation" >&2
  failed=1
fi
exit "$failed"
