# shellcheck shell=bash
# Part of tests/scripts/interop.sh, sourced by it in order: sections 6 and 7, failures, retries, held jobs and cancellation across languages.
# Runs at source time with that script's state (lib/interop_env.sh helpers, use_names,
# count[], work, inner).

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
await_sql "SELECT count(*) FROM $queue_table WHERE status = 'picked' AND entrypoint = 'interop.cancel_cpp'" 30 2
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
worker_stop cancel-run
worker_stop py-wait
expect_eq "log of cancelled running jobs (one canceled row each, nothing after it)" "$(sql "
  SELECT string_agg(status::text, ',' ORDER BY status::text) FROM $log_table
   WHERE entrypoint IN ('interop.cancel_cpp', 'interop.cancel_py') AND status NOT IN ('queued', 'picked')")" \
  "canceled,canceled,canceled,canceled"
expect_eq "PgQueuer jobs that missed the cancel" "$(grep -c '"not-cancelled"' "$work/out/py-wait.jsonl" || true)" 0
count[cancelled]=10
echo "cancelled: 6 queued (3 each way), 4 running (2 each way), running ones stopped within ${cancel_seconds}s"
