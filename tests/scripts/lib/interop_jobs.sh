# shellcheck shell=bash
# Part of tests/scripts/interop.sh, sourced by it in order: sections 2 to 5, jobs enqueued by one side and run by the other, a mixed fleet, statistics.
# Runs at source time with that script's state (lib/interop_env.sh helpers, use_names,
# count[], work, inner).

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
await_sql "SELECT count(*) FROM $log_table WHERE status = 'successful' AND entrypoint = 'interop.fleet'" 180 "$fleet_jobs"
await_sql "SELECT count(*) FROM $queue_table" 30 0
fleet_seconds=$((SECONDS - fleet_start))
for w in pgq-1 pgq-2 py-1 py-2; do worker_stop "$w"; done
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
