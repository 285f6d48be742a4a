# shellcheck shell=bash
# Background processes of a test script, `pgq run` workers above all. Source after
# lib/common.sh and test_workdir (logs go to $work) and, for worker_start, require_build.
# Every process still registered is killed (SIGKILL) at exit, and fail prints the last lines
# of its log.
#
#   worker_spawn NAME CMD...     run CMD in the background, output in $work/NAME.log;
#                                worker_pid[NAME] is its pid ($! of CMD itself)
#   worker_start NAME CONFIG PORT
#                                worker_spawn NAME pgq run --config CONFIG; /readyz on PORT
#   worker_start_ready NAME CONFIG PORT [SECONDS]
#                                worker_start, then worker_await NAME 200 SECONDS (default 30)
#   worker_ready NAME CODE       one /readyz probe answers CODE (body in $work/NAME.readyz)
#   worker_poll NAME CODE SECONDS
#                                poll /readyz until CODE; status 1 on timeout or when the
#                                process is gone (then no code can come)
#   worker_await NAME CODE SECONDS
#                                worker_poll, or fail with the last /readyz body
#   worker_alive NAME            fail unless the process runs
#   worker_stop NAME [any]       SIGTERM and wait; fail unless it exits 0 (any: whatever status)
#   worker_kill NAME             SIGKILL and wait
#   worker_log NAME              the log file's path
#   noop_worker_config FILE DSN_FILE SCHEMA ENTRYPOINT PORT [DATABASE_KEY...]
#                                a small worker configuration: one noop entrypoint, a pool of
#                                1 to 3 checked every second, 2 s dequeue timeout; each extra
#                                "key: value" goes under database

declare -A worker_pid=() worker_port=()

worker_log() { printf '%s\n' "$work/$1.log"; }

worker_spawn() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  worker_pid[$name]=$!
}

worker_start() {
  worker_port[$1]=$3
  worker_spawn "$1" "$pgq" run --config "$2"
}

worker_start_ready() {
  worker_start "$1" "$2" "$3"
  worker_await "$1" 200 "${4:-30}"
}

worker_ready() {
  [[ $(http_code "${worker_port[$1]}" /readyz "$work/$1.readyz") == "$2" ]]
}

_worker_ready_or_gone() {
  worker_ready "$1" "$2" && return 0
  kill -0 "${worker_pid[$1]}" 2>/dev/null || return 2
  return 1
}

worker_poll() {
  local deadline=$((SECONDS + $3)) rc
  while :; do
    rc=0
    _worker_ready_or_gone "$1" "$2" || rc=$?
    ((rc != 1)) && return $((rc == 0 ? 0 : 1))
    ((SECONDS < deadline)) || return 1
    sleep "$AWAIT_INTERVAL"
  done
}

worker_await() {
  worker_poll "$1" "$2" "$3" && return 0
  kill -0 "${worker_pid[$1]}" 2>/dev/null ||
    fail "worker $1 exited while waiting for /readyz $2"
  fail "worker $1: /readyz not $2 after $3 s (last: $(cat "$work/$1.readyz" 2>/dev/null || true))"
}

worker_alive() {
  kill -0 "${worker_pid[$1]}" 2>/dev/null || fail "worker $1 exited"
}

worker_stop() {
  local name=$1 rc=0
  kill -TERM "${worker_pid[$name]}" 2>/dev/null || true
  wait "${worker_pid[$name]}" || rc=$?
  if [[ $rc != 0 && ${2:-} != any ]]; then
    fail "worker $name exited with status $rc after SIGTERM"
  fi
  unset "worker_pid[$name]"
}

worker_kill() {
  kill -KILL "${worker_pid[$1]}" 2>/dev/null || true
  wait "${worker_pid[$1]}" 2>/dev/null || true
  unset "worker_pid[$1]"
}

_worker_logs_tail() {
  local name
  for name in "${!worker_pid[@]}"; do
    echo "---- $name: last lines of $work/$name.log ----"
    tail -n 20 "$work/$name.log" 2>/dev/null || true
  done
}

_workers_kill_all() {
  local name
  for name in "${!worker_pid[@]}"; do kill -KILL "${worker_pid[$name]}" 2>/dev/null || true; done
  for name in "${!worker_pid[@]}"; do wait "${worker_pid[$name]}" 2>/dev/null || true; done
}
at_exit _workers_kill_all

noop_worker_config() {
  local file=$1 dsn_file=$2 schema=$3 entrypoint=$4 port=$5 key
  shift 5
  {
    printf 'database:\n  dsn_file: %s\n' "$dsn_file"
    for key in "$@"; do printf '  %s\n' "$key"; done
    cat <<YAML
pool: {min_size: 1, max_size: 3, health_check_interval: 1s, acquire_timeout: 1s}
queue: {schema: $schema, dequeue_timeout: 2s}
entrypoints:
  $entrypoint:
    handler: {type: noop}
http: {address: 127.0.0.1, port: $port}
logging: {format: text}
shutdown: {grace_period: 5s}
YAML
  } >"$file"
}
