# shellcheck shell=bash
# Part of tests/scripts/interop.sh, sourced by it in order: section 8, schedules registered, listed and run by both sides.
# Runs at source time with that script's state (lib/interop_env.sh helpers, use_names,
# count[], work, inner).

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
py_spawn py-sched scheduler.py py-sched "$inner/out/py-sched.jsonl" "interop.py_tick=* * * * * *" \
  "interop.shared=* * * * * *"
await_lines "$work/out/py-sched.jsonl" '"interop.py_tick"' 2 60
await_sql "SELECT count(*) >= 2 FROM public.interop_sched_seen WHERE name = 'pgq_tick'" 60 t
schedules_json=$(py inspect_queue.py schedules)
"$pgq" schedules >"$work/pgq-schedules.txt"
worker_stop sched-pgq
worker_stop py-sched
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
