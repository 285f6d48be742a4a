# shellcheck shell=bash
# Helpers of tests/scripts/interop.sh (after lib/common.sh, lib/worker.sh and
# ci/lib/trixie.sh): PgQueuer's programs in the chroot, pgq workers, and the names of the
# section's install. Needs work (inside the chroot) and inner (the same directory as seen
# from Python).

# PgQueuer's programs, inside the chroot, with the current names and DSN.
export PGQ_TRIXIE_PASS="PGQUEUER_DSN PGQUEUER_PREFIX PGQUEUER_SCHEMA"
py() { pgq_trixie_python "$inner/$1" "${@:2}"; }
# py_spawn NAME SCRIPT ARGS...: the same in the background, registered as NAME (its pid is
# the Python process itself; output in $work/NAME.log).
py_spawn() {
  local name=$1
  pgq_trixie_python_command
  worker_spawn "$name" "${PGQ_TRIXIE_PYTHON[@]}" "$inner/$2" "${@:3}"
}
pgqueuer_cli() { pgq_trixie_python -m pgqueuer "$@"; }

expect_eq() { # expect_eq WHAT ACTUAL EXPECTED
  [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
}
# await_lines FILE PATTERN COUNT SECONDS: poll until FILE has COUNT lines matching PATTERN.
_has_lines() { (($(grep -c -- "$2" "$1" 2>/dev/null || true) >= $3)); }
await_lines() {
  poll "$4" _has_lines "$1" "$2" "$3" ||
    fail "timed out after $4 s waiting for $3 lines '$2' in $1 (have $(grep -c -- "$2" "$1" 2>/dev/null || true))"
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
  port=$(free_port)
  worker_port[$name]=$port
  {
    cat <<YAML
database:
  dsn_file: $work/dsn
  application_name: interop-$name
pool: {min_size: 1, max_size: 4}
queue: {batch_size: ${batch_size:-10}, dequeue_timeout: 1s, mode: $mode}
http: {address: 127.0.0.1, port: $port}
logging: {level: warn, format: text}
shutdown: {grace_period: 5s}
YAML
    cat
  } >"$work/$name.yaml"
}
# start_pgq NAME: run a configured worker in the background until /readyz answers.
start_pgq() { worker_start_ready "$1" "$work/$1.yaml" "${worker_port[$1]}" 30; }
# run_pgq_drain NAME: run a configured drain-mode worker to its end.
run_pgq_drain() {
  timeout 120 "$pgq" run --config "$work/$1.yaml" >"$work/$1.log" 2>&1 ||
    { cat "$work/$1.log" >&2; fail "pgq worker $1 failed"; }
}
# start_py NAME ARGS...: a PgQueuer worker (worker.py) in the background, recording to
# out/NAME.jsonl; returns once its connection is open.
_py_started() {
  worker_alive "$1"
  [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'interop-$1'") -ge 1 ]] &&
    grep -q running "$work/$1.log"
}
start_py() {
  py_spawn "$1" worker.py "$1" "$inner/out/$1.jsonl" "${@:2}"
  await 60 "PgQueuer worker $1 to start" _py_started "$1"
}
# await_metric WORKER SERIES VALUE SECONDS: poll the pgq worker's /metrics for "SERIES VALUE".
_metric_is() {
  curl -fs "http://127.0.0.1:${worker_port[$1]}/metrics" 2>/dev/null | grep -qxF "$2 $3"
}
await_metric() { await "$4" "$2 $3 on $1" _metric_is "$1" "$2" "$3"; }
jq_py() { # jq_py EXPR: evaluate a Python expression over the JSON document on stdin (as d)
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
section() { echo; echo "---- interop: $* ----"; }
