#!/usr/bin/env bash
# Interop suite: pgq against the real PgQueuer 1.3.2 (Python), sharing one database.
# Each direction and each shared table is exercised by PgQueuer's own code, run from
# tests/interop/*.py inside a Debian 13 chroot (ci/lib/trixie.sh) over TCP:
#   1. schema installed by either side (defaults, a prefix, a schema) and verified by the other;
#      the catalogs the two installs create are compared
#   2. Python-enqueued jobs with every option consumed by `pgq run` (payload bytes, headers)
#   3. `pgq queue` jobs consumed by a PgQueuer QueueManager; dedupe keys across languages
#   4. a mixed fleet (2 PgQueuer + 2 pgq workers) drains one queue: every job run and logged once
#   5. statistics aggregated by both sides without double counting
#   6. failures, retries and held jobs written by one side, read, validated and requeued by the other
#   7. cancellation across languages of queued and running jobs
#   8. schedules registered, listed and run by both sides
# Each section uses its own names in a database of its own. Waits are bounded polls.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR); under CI=true a chroot that cannot be built
# fails the suite, elsewhere the suite is skipped with a warning.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../ci/lib/postgres.sh
source "$root/ci/lib/postgres.sh"
# shellcheck source=../../ci/lib/trixie.sh
source "$root/ci/lib/trixie.sh"

build=${PGQ_BUILD_DIR:?run through ci/test}
pgq=$build/worker/pgq
cancel_tool=$build/tests/interop_cancel
suite_start=$SECONDS

case ${CI:-} in
  true | TRUE | True | 1 | yes) ci=1 ;;
  *) ci=0 ;;
esac
if ! pgq_trixie_chroot; then
  if ((ci)); then
    echo "interop: FAIL: the Debian 13 chroot with PgQueuer could not be built (CI=true)" >&2
    exit 1
  fi
  echo "interop: WARNING: SKIPPED, the Debian 13 chroot could not be built (see above)" >&2
  exit 0
fi
echo "interop: PgQueuer $PGQ_PGQUEUER_VERSION in $PGQ_TRIXIE_DIR"

# The programs and everything they write live inside the chroot: $inner as seen from
# Python, $work from here.
work=$(mktemp -d "$PGQ_TRIXIE_DIR/opt/interop.XXXXXX")
inner=/opt/${work##*/}
cp "$root"/tests/interop/*.py "$work/"
mkdir -p "$work/out"
chmod -R a+rwX "$work"

db="interop_$RANDOM$RANDOM"
admin_dsn=$PGQ_TEST_DSN
export PGQUEUER_DSN=${PGQ_TEST_DSN%/*}/$db
printf '%s\n' "$PGQUEUER_DSN" >"$work/dsn"
unset PGQUEUER_PREFIX PGQUEUER_SCHEMA

pids=()
declare -A worker_pid=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  PGOPTIONS="-c client_min_messages=warning" psql "$admin_dsn" -XAtqc \
    "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

sql() { PGOPTIONS="-c client_min_messages=warning" psql "$PGQUEUER_DSN" -XAtqc "$1"; }
sql "SELECT 1" >/dev/null 2>&1 || psql "$admin_dsn" -XAtqc "CREATE DATABASE $db" >/dev/null

# PgQueuer's programs, inside the chroot, with the current names and DSN.
export PGQ_TRIXIE_PASS="PGQUEUER_DSN PGQUEUER_PREFIX PGQUEUER_SCHEMA"
py() { pgq_trixie_python "$inner/$1" "${@:2}"; }
# py_bg SCRIPT ARGS...: the same in the background; $! is the Python process itself.
py_bg() {
  pgq_trixie_python_command
  "${PGQ_TRIXIE_PYTHON[@]}" "$inner/$1" "${@:2}" &
}
pgqueuer_cli() { pgq_trixie_python -m pgqueuer "$@"; }

fail() {
  echo "interop: FAIL: $*" >&2
  exit 1
}
expect_eq() { # expect_eq WHAT ACTUAL EXPECTED
  [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
}
# await QUERY SECONDS EXPECTED: poll until the query prints EXPECTED.
await() {
  local deadline=$((SECONDS + $2))
  until [[ $(sql "$1" 2>/dev/null || true) == "$3" ]]; do
    ((SECONDS < deadline)) || fail "timed out after $2 s waiting for: $1 = $3 (now: $(sql "$1" 2>&1 || true))"
    sleep 0.2
  done
}
# await_lines FILE PATTERN COUNT SECONDS: poll until FILE has COUNT lines matching PATTERN.
await_lines() {
  local deadline=$((SECONDS + $4)) n
  while true; do
    n=$(grep -c -- "$2" "$1" 2>/dev/null || true)
    ((n >= $3)) && return 0
    ((SECONDS < deadline)) || fail "timed out after $4 s waiting for $3 lines '$2' in $1 (have $n)"
    sleep 0.2
  done
}

# Schema-qualified names of the current section (PGQUEUER_PREFIX / PGQUEUER_SCHEMA).
use_names() { # use_names PREFIX SCHEMA
  if [[ -n $1 ]]; then export PGQUEUER_PREFIX=$1; else unset PGQUEUER_PREFIX; fi
  if [[ -n $2 ]]; then export PGQUEUER_SCHEMA=$2; else unset PGQUEUER_SCHEMA; fi
  local qual=${2:+$2.}
  queue_table=$qual${1}pgqueuer
  log_table=$qual${1}pgqueuer_log
  stats_table=$qual${1}pgqueuer_statistics
  schedules_table=$qual${1}pgqueuer_schedules
}

# pgq worker: write_config NAME MODE, then the entrypoints/schedules YAML on stdin.
write_config() {
  local name=$1 mode=$2 port
  port=$(_pgq_pg_pick_port)
  {
    cat <<EOF
database:
  dsn_file: $work/dsn
  application_name: interop-$name
pool: {min_size: 1, max_size: 4}
queue: {batch_size: ${batch_size:-10}, dequeue_timeout: 1s, mode: $mode}
http: {address: 127.0.0.1, port: $port}
logging: {level: warn, format: text}
shutdown: {grace_period: 5s}
EOF
    cat
  } >"$work/$name.yaml"
  echo "$port" >"$work/$name.port"
}
# start_pgq NAME: run a configured worker in the background until /readyz answers.
start_pgq() {
  local name=$1 deadline=$((SECONDS + 30))
  "$pgq" run --config "$work/$name.yaml" >"$work/$name.log" 2>&1 &
  pids+=($!)
  worker_pid[$name]=$!
  until curl -fs "http://127.0.0.1:$(cat "$work/$name.port")/readyz" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! kill -0 "$!" 2>/dev/null; then
      cat "$work/$name.log" >&2
      fail "pgq worker $name did not become ready"
    fi
    sleep 0.1
  done
}
stop_pid() { # stop_pid PID NAME: SIGTERM and wait; a non-zero exit fails the suite
  local rc=0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" || rc=$?
  ((rc == 0)) || { cat "$work/$2.log" >&2 2>/dev/null || true; fail "$2 exited with status $rc"; }
}
# run_pgq_drain NAME: run a configured drain-mode worker to its end.
run_pgq_drain() {
  timeout 120 "$pgq" run --config "$work/$1.yaml" >"$work/$1.log" 2>&1 ||
    { cat "$work/$1.log" >&2; fail "pgq worker $1 failed"; }
}
# start_py NAME ARGS...: a PgQueuer worker (worker.py) in the background, recording to
# out/NAME.jsonl; returns once its connection is open.
start_py() {
  local name=$1 deadline=$((SECONDS + 60))
  py_bg worker.py "$name" "$inner/out/$name.jsonl" "${@:2}" >"$work/$name.log" 2>&1
  pids+=($!)
  worker_pid[$name]=$!
  until [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'interop-$name'") -ge 1 ]] &&
    grep -q running "$work/$name.log"; do
    if ((SECONDS >= deadline)) || ! kill -0 "$!" 2>/dev/null; then
      cat "$work/$name.log" >&2
      fail "PgQueuer worker $name did not start"
    fi
    sleep 0.1
  done
}
# await_metric WORKER SERIES VALUE SECONDS: poll the pgq worker's /metrics for "SERIES VALUE".
await_metric() {
  local deadline=$((SECONDS + $4)) port
  port=$(cat "$work/$1.port")
  until curl -fs "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -qxF "$2 $3"; do
    ((SECONDS < deadline)) || fail "timed out after $4 s waiting for $2 $3 on $1"
    sleep 0.2
  done
}
jq_py() { # jq_py EXPR: evaluate a Python expression over the JSON document on stdin (as d)
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
section() { echo; echo "---- interop: $* ----"; }

declare -A count=()

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

# ---- 2. Python producer -> pgq worker -------------------------------------------------
section "2. PgQueuer enqueues every option, pgq runs the jobs"
use_names "" "" # PgQueuer's default install
py enqueue.py options interop.options "$inner/expected-options.json"
# Dedupe keys across languages: a live Python key refuses `pgq queue` (raise), or skips.
rc=0
"$pgq" queue interop.options dup --dedupe-key py-raise-key >/dev/null 2>&1 || rc=$?
expect_eq "pgq queue with a key held by a Python job (raise) exit status" "$rc" 1
"$pgq" queue interop.options dup --dedupe-key py-raise-key --on-conflict skip >/dev/null
expect_eq "rows holding py-raise-key" "$(sql "SELECT count(*) FROM $queue_table WHERE dedupe_key = 'py-raise-key'")" 1
mkdir -p "$work/out/options"
batch_size=1 write_config options drain <<EOF
entrypoints:
  interop.options:
    handler:
      type: exec
      command: ["/bin/sh", "-c", "cat >$work/out/options/\$PGQ_JOB_ID.tmp && printf %s \"\$PGQ_HEADERS\" >$work/out/options/\$PGQ_JOB_ID.headers && mv $work/out/options/\$PGQ_JOB_ID.tmp $work/out/options/\$PGQ_JOB_ID.payload"]
EOF
run_pgq_drain options
py check_seen.py "$inner/expected-options.json" --dir "$inner/out/options"
ran=("$work"/out/options/*.payload)
count[py_to_pgq]=${#ran[@]}
# Claim order of the jobs eligible at once (all but the deferred ones, priority 9):
# priority DESC, then id ASC (one job per claim).
order_check="
  WITH picked AS (
    SELECT l.id AS log_id, l.job_id, l.priority FROM $log_table l
     WHERE l.status = 'picked' AND l.entrypoint = 'interop.options' AND l.priority <> 9)
  SELECT count(*) FILTER (WHERE by_claim <> by_priority) || ' ' || count(*) FROM (
    SELECT row_number() OVER (ORDER BY log_id) AS by_claim,
           row_number() OVER (ORDER BY priority DESC, job_id) AS by_priority FROM picked) r"
read -r out_of_order ordered <<<"$(sql "$order_check")" || true
expect_eq "jobs claimed out of priority order" "$out_of_order" 0
# Deferred jobs ran no earlier than execute_after.
early=$(sql "SELECT count(*) FROM $log_table q JOIN $log_table p USING (job_id)
              WHERE q.status = 'queued' AND p.status = 'picked' AND q.entrypoint = 'interop.options'
                AND p.job_id IN (SELECT job_id FROM $log_table WHERE status = 'queued'
                                   AND entrypoint = 'interop.options' AND priority = 9)
                AND p.created < q.created + interval '1.5 seconds'")
expect_eq "deferred jobs picked before execute_after" "$early" 0
echo "pgq ran ${count[py_to_pgq]} PgQueuer-enqueued jobs; $ordered claimed in priority order; 2 deferred on time"

# ---- 3. pgq producer -> Python worker -------------------------------------------------
section "3. pgq queue enqueues, a PgQueuer QueueManager runs the jobs"
use_names ipx_ "" # pgq's prefixed install
payloads=("plain" "h\u00e9llo \u2603" "quote\" and \\\\ backslash" "" "multi word payload")
headers=('{"tenant":"acme"}' '{"nested":{"k":[1,2,{"x":null}]},"\u00fc":"\u2603"}' '' '{}')
{
  echo "{"
  sep=""
  for i in $(seq 0 19); do
    payload=$(printf '%b' "${payloads[i % 5]}")-$i
    header=$(printf '%b' "${headers[i % 4]}")
    priority=$(((i * 5) % 7 - 3))
    args=(queue interop.fromcpp "$payload" --priority "$priority")
    [[ -n $header ]] && args+=(--headers "$header")
    ((i % 6 == 0)) && args+=(--dedupe-key "cpp-key-$i")
    id=$("$pgq" "${args[@]}")
    printf '%s"%s": {"payload": "%s", "headers": %s, "priority": %d}' "$sep" "$id" \
      "$(printf %s "$payload" | od -An -tx1 | tr -d ' \n')" "${header:-null}" "$priority"
    sep=,
  done
  echo "}"
} >"$work/expected-fromcpp.json"
# A key held by a pgq job refuses PgQueuer's enqueue (raise) and yields None (skip).
expect_eq "PgQueuer enqueue of a key held by a pgq job (raise)" \
  "$(py enqueue.py one interop.fromcpp dup --dedupe-key cpp-key-0)" duplicate
expect_eq "PgQueuer enqueue of a key held by a pgq job (skip)" \
  "$(py enqueue.py one interop.fromcpp dup --dedupe-key cpp-key-0 --on-conflict skip)" null
py worker.py py-fromcpp "$inner/out/fromcpp.jsonl" --mode drain --ok interop.fromcpp >"$work/py-fromcpp.log" 2>&1 ||
  { cat "$work/py-fromcpp.log" >&2; fail "PgQueuer worker failed"; }
py check_seen.py "$inner/expected-fromcpp.json" --jsonl "$inner/out/fromcpp.jsonl"
count[pgq_to_py]=$(grep -c '"ran"' "$work/out/fromcpp.jsonl")
echo "PgQueuer ran ${count[pgq_to_py]} pgq-enqueued jobs"

# ---- 4. mixed fleet -------------------------------------------------------------------
section "4. mixed fleet: 2 PgQueuer + 2 pgq workers drain one queue"
use_names "" interop_py # PgQueuer's install in a schema
fleet_jobs=2000
sql "CREATE TABLE public.interop_fleet_seen (worker text NOT NULL, payload bytea NOT NULL)"
for w in pgq-1 pgq-2; do
  write_config "$w" continuous <<EOF
entrypoints:
  interop.fleet:
    handler:
      type: sql
      statement: "INSERT INTO public.interop_fleet_seen SELECT '$w', \$1 FROM pg_sleep(0.002)"
EOF
  start_pgq "$w"
done
start_py py-1 --ok interop.fleet --delay-ms 2
start_py py-2 --ok interop.fleet --delay-ms 2
fleet_start=$SECONDS
py enqueue.py bulk interop.fleet "$fleet_jobs" fleet >/dev/null
await "SELECT count(*) FROM $log_table WHERE status = 'successful' AND entrypoint = 'interop.fleet'" 180 "$fleet_jobs"
await "SELECT count(*) FROM $queue_table" 30 0
fleet_seconds=$((SECONDS - fleet_start))
for w in pgq-1 pgq-2 py-1 py-2; do stop_pid "${worker_pid[$w]}" "$w"; done
pids=()
# Every job picked once and finished once, by the log.
expect_eq "jobs not picked and finished exactly once" "$(sql "
  SELECT count(*) FROM (SELECT job_id FROM $log_table WHERE entrypoint = 'interop.fleet'
    GROUP BY job_id HAVING count(*) FILTER (WHERE status = 'picked') <> 1
        OR count(*) FILTER (WHERE status = 'successful') <> 1
        OR count(*) FILTER (WHERE status NOT IN ('queued', 'picked', 'successful')) <> 0) d")" 0
expect_eq "distinct jobs in the log" "$(sql "SELECT count(DISTINCT job_id) FROM $log_table WHERE entrypoint = 'interop.fleet'")" "$fleet_jobs"
# Every job run once by a handler: pgq's rows plus PgQueuer's records.
for w in py-1 py-2; do
  python3 -c "
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r['worker'] + '\t' + bytes.fromhex(r['payload']).decode())" "$work/out/$w.jsonl"
done >"$work/fleet-runs.tsv"
sql "SELECT worker, convert_from(payload, 'UTF8') FROM public.interop_fleet_seen" | tr '|' '\t' >>"$work/fleet-runs.tsv"
expect_eq "handler runs" "$(wc -l <"$work/fleet-runs.tsv")" "$fleet_jobs"
expect_eq "distinct payloads run" "$(cut -f2 "$work/fleet-runs.tsv" | sort -u | wc -l)" "$fleet_jobs"
split=""
for w in py-1 py-2 pgq-1 pgq-2; do
  n=$(grep -c "^$w	" "$work/fleet-runs.tsv" || true)
  ((n > 0)) || fail "worker $w ran no job of the mixed fleet"
  split+="$w=$n "
done
count[fleet]=$fleet_jobs
count[fleet_split]=${split% }
echo "mixed fleet: $fleet_jobs jobs in ${fleet_seconds}s, each run and logged once; split: ${split% }"

# ---- 5. statistics ----------------------------------------------------------------------
section "5. statistics: both sides aggregate the log without double counting"
py inspect_queue.py aggregate >/dev/null
"$pgq" dashboard -i 0 -n 1000 >"$work/dashboard.txt"
stats=$(py inspect_queue.py stats interop.fleet)
expect_eq "PgQueuer log_statistics: successful" "$(jq_py "d.get('successful')" <<<"$stats")" "$fleet_jobs"
expect_eq "PgQueuer log_statistics: picked" "$(jq_py "d.get('picked')" <<<"$stats")" "$fleet_jobs"
dash_successful=$(awk '$4 == "interop.fleet" && $5 == "successful" { s += $3 } END { print s + 0 }' "$work/dashboard.txt")
expect_eq "pgq dashboard: successful" "$dash_successful" "$fleet_jobs"
expect_eq "statistics rows summed" "$(sql "SELECT sum(count) FROM $stats_table WHERE entrypoint = 'interop.fleet' AND status = 'successful'")" "$fleet_jobs"
expect_eq "log rows left unaggregated" "$(sql "SELECT count(*) FROM $log_table WHERE NOT aggregated")" 0
count[stats_rows]=$(sql "SELECT count(*) FROM $stats_table")
echo "statistics: ${count[stats_rows]} rows; successful=$fleet_jobs seen alike by PgQueuer and pgq dashboard"

# ---- 6. failures, retries, held jobs ----------------------------------------------------
section "6. failures, retries and held jobs across languages"
use_names sx_ interop_pgq # pgq's install with a schema and a prefix
# 6a. PgQueuer fails and holds pgq's jobs; pgq lists and requeues them.
for i in 1 2 3; do "$pgq" queue interop.py_hold "hold-$i" >/dev/null; done
for i in 1 2; do "$pgq" queue interop.py_retry "retry-$i" >/dev/null; done
py worker.py py-fail "$inner/out/py-fail.jsonl" --mode drain --hold interop.py_hold \
  --retry interop.py_retry >"$work/py-fail.log" 2>&1 || { cat "$work/py-fail.log" >&2; fail "PgQueuer worker failed"; }
"$pgq" failed -n 100 >"$work/failed-by-py.txt"
held=$(awk 'NR > 1 && $2 ~ /^interop\.py_/ { print $1 }' "$work/failed-by-py.txt" | sort -n | xargs)
expect_eq "held jobs pgq lists" "$(wc -w <<<"$held")" 5
expect_eq "attempts of held retry jobs (pgq failed)" \
  "$(awk 'NR > 1 && $2 == "interop.py_retry" { print $3 }' "$work/failed-by-py.txt" | xargs)" "2 2"
expect_eq "PgQueuer runs of failing jobs" "$(grep -c '"failing"' "$work/out/py-fail.jsonl")" 9
expect_eq "retry log rows with a traceback" \
  "$(sql "SELECT count(*) FROM $log_table WHERE status = 'queued' AND traceback ? 'exception_type'
            AND traceback->'additional_context' ? 'attempt' AND entrypoint = 'interop.py_retry'")" 4
expect_eq "failed log rows with a traceback" \
  "$(sql "SELECT count(*) FROM $log_table WHERE status = 'failed' AND traceback->>'exception_type' = 'ValueError'")" 5
# shellcheck disable=SC2086
"$pgq" requeue $held >/dev/null
mkdir -p "$work/out/requeued-by-pgq"
write_config requeue-pgq drain <<EOF
entrypoints:
  interop.py_hold: &record
    handler:
      type: exec
      command: ["/bin/sh", "-c", "cat >/dev/null; echo \$PGQ_ATTEMPTS >$work/out/requeued-by-pgq/\$PGQ_JOB_ID"]
  interop.py_retry: *record
EOF
run_pgq_drain requeue-pgq
expect_eq "held jobs pgq ran after requeue" "$(ls "$work/out/requeued-by-pgq" | sort -n | xargs)" "$held"
expect_eq "attempts after requeue" "$(cat "$work/out/requeued-by-pgq"/* | sort -u | xargs)" 0
expect_eq "jobs left" "$(sql "SELECT count(*) FROM $queue_table")" 0

# 6b. pgq fails and holds PgQueuer's jobs; PgQueuer lists (validating), and requeues them.
hold_ids=$(py enqueue.py bulk interop.cpp_hold 3 hold | jq_py "' '.join(map(str, d))")
retry_ids=$(py enqueue.py bulk interop.cpp_retry 2 retry | jq_py "' '.join(map(str, d))")
write_config fail-pgq drain <<EOF
entrypoints:
  interop.cpp_hold:
    handler: {type: fail, message: "held by pgq"}
    on_failure: hold
  interop.cpp_retry:
    handler: {type: fail, message: "retried by pgq"}
    on_failure: hold
    retry: {max_attempts: 2, initial_delay: 100ms}
EOF
run_pgq_drain fail-pgq
failed_json=$(py inspect_queue.py failed)
expect_eq "held jobs PgQueuer lists" \
  "$(jq_py "' '.join(str(j['id']) for j in sorted(d, key=lambda j: j['id']))" <<<"$failed_json")" "$hold_ids $retry_ids"
expect_eq "held jobs: status and owner" \
  "$(jq_py "sorted({(j['status'], j['owner']) for j in d})" <<<"$failed_json")" "[('failed', None)]"
expect_eq "held jobs: attempts" \
  "$(jq_py "' '.join(str(j['attempts']) for j in sorted(d, key=lambda j: j['id']))" <<<"$failed_json")" "0 0 0 2 2"
# shellcheck disable=SC2086
log_json=$(py inspect_queue.py log $hold_ids $retry_ids)
expect_eq "log rows pgq wrote, validated as PgQueuer Log models" \
  "$(jq_py "' '.join(f\"{s}={n}\" for s, n in sorted(__import__('collections').Counter(r['status'] for r in d).items()))" <<<"$log_json")" \
  "failed=5 picked=9 queued=9"
expect_eq "tracebacks (TracebackRecord) with pgq's message and context" \
  "$(jq_py "sum(1 for r in d if r['traceback'] and r['traceback']['exception_message'] in ('held by pgq', 'retried by pgq') and r['traceback']['additional_context']['entrypoint'].startswith('interop.cpp_'))" <<<"$log_json")" 9
count[log_validated]=$(jq_py "len(d)" <<<"$log_json")
# shellcheck disable=SC2086
py inspect_queue.py requeue $hold_ids $retry_ids >/dev/null
py worker.py py-requeued "$inner/out/py-requeued.jsonl" --mode drain --ok interop.cpp_hold \
  --ok interop.cpp_retry >"$work/py-requeued.log" 2>&1 || { cat "$work/py-requeued.log" >&2; fail "PgQueuer worker failed"; }
expect_eq "held jobs PgQueuer ran after requeue (id:attempts)" \
  "$(python3 -c "
import json, sys
print(' '.join(sorted((f\"{r['id']}:{r['attempts']}\" for r in map(json.loads, open(sys.argv[1]))), key=lambda s: int(s.split(':')[0]))))" "$work/out/py-requeued.jsonl")" \
  "$(for id in $hold_ids $retry_ids; do printf '%s:0 ' "$id"; done | sed 's/ $//')"
count[held]=10
echo "held/retried: 5 by PgQueuer requeued and run by pgq, 5 by pgq requeued and run by PgQueuer;" \
  "${count[log_validated]} log rows validated"

# ---- 7. cancellation --------------------------------------------------------------------
section "7. cancellation across languages, queued and running"
# 7a. queued: each side cancels jobs the other enqueued; the other side's worker skips them.
read -r -a py_ids <<<"$(py enqueue.py bulk interop.cancel_q 4 pyq | jq_py "' '.join(map(str, d))")"
"$cancel_tool" "${py_ids[@]:0:3}" >/dev/null
cpp_ids=()
for i in 1 2 3 4; do cpp_ids+=("$("$pgq" queue interop.cancel_q "cppq-$i")"); done
py inspect_queue.py cancel "${cpp_ids[@]:0:3}" >/dev/null
expect_eq "canceled log rows of queued jobs" \
  "$(sql "SELECT count(*) FROM $log_table WHERE status = 'canceled' AND entrypoint = 'interop.cancel_q'")" 6
mkdir -p "$work/out/cancel_q"
write_config cancel-q drain <<EOF
entrypoints:
  interop.cancel_q:
    handler:
      type: exec
      command: ["/bin/sh", "-c", "cat >/dev/null; touch $work/out/cancel_q/\$PGQ_JOB_ID"]
EOF
run_pgq_drain cancel-q
expect_eq "jobs that ran after the cancel" "$(ls "$work/out/cancel_q" | sort -n | xargs)" "${py_ids[3]} ${cpp_ids[3]}"

# 7b. running: PgQueuer cancels jobs running on pgq, pgq cancels jobs running on PgQueuer.
write_config cancel-run continuous <<EOF
entrypoints:
  interop.cancel_cpp:
    handler: {type: sleep, duration: 120s}
EOF
start_pgq cancel-run
read -r -a run_cpp <<<"$(py enqueue.py bulk interop.cancel_cpp 2 run | jq_py "' '.join(map(str, d))")"
await "SELECT count(*) FROM $queue_table WHERE status = 'picked' AND entrypoint = 'interop.cancel_cpp'" 30 2
cancel_start=$SECONDS
py inspect_queue.py cancel "${run_cpp[@]}" >/dev/null
# The handlers (2-minute sleeps) end on the cancellation event, not at their time.
await_metric cancel-run 'pgq_jobs_total{entrypoint="interop.cancel_cpp",outcome="canceled"}' 2 20
await_metric cancel-run 'pgq_jobs_in_flight{entrypoint="interop.cancel_cpp"}' 0 20
start_py py-wait --wait interop.cancel_py
run_py=()
for i in 1 2; do run_py+=("$("$pgq" queue interop.cancel_py "run-$i")"); done
await_lines "$work/out/py-wait.jsonl" '"started"' 2 30
"$cancel_tool" "${run_py[@]}" >/dev/null
await_lines "$work/out/py-wait.jsonl" '"cancelled"' 2 20
cancel_seconds=$((SECONDS - cancel_start))
stop_pid "${worker_pid[cancel-run]}" cancel-run
stop_pid "${worker_pid[py-wait]}" py-wait
pids=()
expect_eq "log of cancelled running jobs (one canceled row each, nothing after it)" "$(sql "
  SELECT string_agg(status::text, ',' ORDER BY status::text) FROM $log_table
   WHERE entrypoint IN ('interop.cancel_cpp', 'interop.cancel_py') AND status NOT IN ('queued', 'picked')")" \
  "canceled,canceled,canceled,canceled"
expect_eq "PgQueuer jobs that missed the cancel" "$(grep -c '"not-cancelled"' "$work/out/py-wait.jsonl" || true)" 0
count[cancelled]=10
echo "cancelled: 6 queued (3 each way), 4 running (2 each way), running ones stopped within ${cancel_seconds}s"

# ---- 8. schedules -----------------------------------------------------------------------
section "8. schedules: registered, listed and run by both sides"
use_names "" "" # PgQueuer's default install
sql "CREATE TABLE public.interop_sched_seen (name text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"
write_config sched-pgq continuous <<EOF
entrypoints:
  interop.unused: {handler: {type: noop}}
schedules:
  interop.pgq_tick:
    cron: "* * * * * *"
    handler: {type: sql, statement: "INSERT INTO public.interop_sched_seen (name) VALUES ('pgq_tick')"}
  interop.shared:
    cron: "* * * * * *"
    handler: {type: sql, statement: "INSERT INTO public.interop_sched_seen (name) VALUES ('shared-pgq')"}
EOF
sched_start=$SECONDS
start_pgq sched-pgq
py_bg scheduler.py py-sched "$inner/out/py-sched.jsonl" "interop.py_tick=* * * * * *" \
  "interop.shared=* * * * * *" >"$work/py-sched.log" 2>&1
pids+=($!)
worker_pid[py-sched]=$!
await_lines "$work/out/py-sched.jsonl" '"interop.py_tick"' 2 60
await "SELECT count(*) >= 2 FROM public.interop_sched_seen WHERE name = 'pgq_tick'" 60 t
schedules_json=$(py inspect_queue.py schedules)
"$pgq" schedules >"$work/pgq-schedules.txt"
stop_pid "${worker_pid[sched-pgq]}" sched-pgq
stop_pid "${worker_pid[py-sched]}" py-sched
pids=()
sched_seconds=$((SECONDS - sched_start))
expect_eq "schedule rows (the shared one once)" \
  "$(sql "SELECT string_agg(entrypoint || '=' || expression, ';' ORDER BY entrypoint) FROM $schedules_table")" \
  "interop.pgq_tick=* * * * * *;interop.py_tick=* * * * * *;interop.shared=* * * * * *"
expect_eq "schedules PgQueuer reads (peek_schedule)" \
  "$(jq_py "';'.join(sorted(s['entrypoint'] + '=' + s['expression'] for s in d))" <<<"$schedules_json")" \
  "interop.pgq_tick=* * * * * *;interop.py_tick=* * * * * *;interop.shared=* * * * * *"
grep -q 'interop.py_tick' "$work/pgq-schedules.txt" || fail "pgq schedules does not list PgQueuer's schedule"
shared_py=$(grep -c '"interop.shared"' "$work/out/py-sched.jsonl" || true)
shared_pgq=$(sql "SELECT count(*) FROM public.interop_sched_seen WHERE name = 'shared-pgq'")
# One run per due time across both schedulers: at most one a second over the window.
((shared_py + shared_pgq <= sched_seconds + 2)) ||
  fail "the shared schedule ran $((shared_py + shared_pgq)) times in ${sched_seconds}s"
count[schedule_runs]=$(($(grep -c scheduled "$work/out/py-sched.jsonl") + $(sql "SELECT count(*) FROM public.interop_sched_seen")))
echo "schedules: 3 rows shared; py_tick=$(grep -c '"interop.py_tick"' "$work/out/py-sched.jsonl")" \
  "pgq_tick=$(sql "SELECT count(*) FROM public.interop_sched_seen WHERE name = 'pgq_tick'")" \
  "shared: PgQueuer=$shared_py pgq=$shared_pgq in ${sched_seconds}s"

# ---- summary ----------------------------------------------------------------------------
echo
echo "interop summary (PgQueuer $PGQ_PGQUEUER_VERSION):"
echo "  installs verified across: ${count[installs]} (+ ${count[catalog]} catalog rows identical)"
echo "  jobs PgQueuer -> pgq: ${count[py_to_pgq]}; pgq -> PgQueuer: ${count[pgq_to_py]}"
echo "  mixed fleet: ${count[fleet]} jobs, split ${count[fleet_split]}"
echo "  held/retried and requeued across: ${count[held]}; log rows validated by PgQueuer: ${count[log_validated]}"
echo "  cancelled across: ${count[cancelled]}; statistics rows: ${count[stats_rows]}; schedule runs: ${count[schedule_runs]}"
echo "interop: ok, wall time $((SECONDS - suite_start)) s"
