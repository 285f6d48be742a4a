# shellcheck shell=bash
# Helpers shared by tests/scripts/*.sh (this directory is not globbed by ci/test). Source it
# right after `set -euo pipefail`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# It also sources ci/lib/ports.sh and ci/lib/postgres.sh (functions only), and installs one
# EXIT trap (plus INT/TERM/HUP -> exit) that runs what at_exit registered, newest first;
# pgq_pg_start keeps that trap and runs it after stopping its server.
#
# Environment and strictness
#   pgq_root               the repository root
#   is_ci                  CI is true/1/yes: a missing prerequisite is a failure
#   skip_or_fail REASON    under CI: "FAIL: REASON", exit 1; else "SKIP: REASON", exit 0
#   require_tools TOOL...  each on PATH (or in /usr/sbin, /sbin), else skip_or_fail
#   require_build          sets build (PGQ_BUILD_DIR) and pgq (its worker binary), else
#                          skip_or_fail
#   require_database       PGQ_TEST_DSN is set (ci/test or pgq_pg_start), else skip_or_fail
#   fail MESSAGE...        "FAIL: MESSAGE", the last log lines of every worker still
#                          registered (lib/worker.sh), exit 1
#   at_exit COMMAND        eval COMMAND at exit (status of the script in $exit_status)
#   test_workdir [PARENT] [keep-on-failure]
#                          sets work to a new temporary directory, removed at exit (kept, and
#                          named, when the script fails and keep-on-failure is given)
# Database
#   sql SQL                psql -XAtq with ON_ERROR_STOP on SQL_DSN (default PGQ_TEST_DSN),
#                          notices off; prints the rows
#   sql_value SQL          the first line SQL prints; non-zero (error on stderr) when the
#                          statement fails or prints nothing
# Waiting (never a bare sleep as an assertion)
#   AWAIT_INTERVAL         seconds between polls (default 0.1)
#   poll SECONDS CMD...    run CMD until it succeeds (status 0) or SECONDS pass (status 1)
#   await SECONDS WHAT CMD...
#                          poll, and fail "timed out after SECONDS s waiting for WHAT"
#   sql_prints SQL EXPECTED
#                          SQL prints EXPECTED (status 0) or not (1), errors ignored: for poll
#   await_sql SQL SECONDS EXPECTED
#                          poll until SQL prints EXPECTED; fail with the last value
# Ports and HTTP
#   free_port              a loopback port nothing listens on, not handed out before in this
#                          run (ci/lib/ports.sh; remembered in $work/ports)
#   http_code PORT PATH [BODY_FILE]
#                          the HTTP status of http://127.0.0.1:PORT/PATH (000: no answer)
#   pg_proxy_start         a TCP proxy (socat, in a process group of its own) in front of the
#                          test server on a free port: sets proxy (its pid and group) and
#                          proxy_dsn (PGQ_TEST_DSN through it); SIGSTOP/SIGCONT of "-$proxy"
#                          freeze and heal every connection, open or new
#   pg_proxy_stop          end it (also done at exit)

pgq_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=../../../ci/lib/ports.sh
source "$pgq_root/ci/lib/ports.sh"
# shellcheck source=../../../ci/lib/postgres.sh
source "$pgq_root/ci/lib/postgres.sh"

_tests_name=$(basename "$0" .sh)
_tests_exit_cmds=()
AWAIT_INTERVAL=${AWAIT_INTERVAL:-0.1}

# ---- exit -----------------------------------------------------------------------------------
_tests_on_exit() {
  exit_status=$?
  local i
  for ((i = ${#_tests_exit_cmds[@]} - 1; i >= 0; i--)); do
    eval "${_tests_exit_cmds[i]}" || true
  done
}
trap _tests_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

at_exit() { _tests_exit_cmds+=("$1"); }

test_workdir() {
  work=$(mktemp -d "${1:-${TMPDIR:-/tmp}}/pgq-$_tests_name.XXXXXX")
  if [[ ${2:-} == keep-on-failure ]]; then
    at_exit 'if [[ $exit_status == 0 ]]; then rm -rf "$work"; else echo "outputs kept in $work"; fi'
  else
    at_exit 'rm -rf "$work"'
  fi
}

# ---- strictness -----------------------------------------------------------------------------
is_ci() {
  case ${CI:-} in
    true | TRUE | True | 1 | yes) return 0 ;;
  esac
  return 1
}

skip_or_fail() {
  if is_ci; then
    echo "FAIL: $_tests_name: $1"
    exit 1
  fi
  echo "SKIP: $_tests_name: $1 (under CI=true this fails)"
  exit 0
}

require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool || -x /sbin/$tool ]] ||
      missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || skip_or_fail "missing ${missing[*]} (ci/deps installs them)"
}

require_build() {
  [[ -n ${PGQ_BUILD_DIR:-} ]] || skip_or_fail "PGQ_BUILD_DIR is not set (run through ci/test)"
  build=$PGQ_BUILD_DIR
  [[ $build == /* ]] || build=$pgq_root/$build
  pgq=$build/worker/pgq
  [[ -x $pgq ]] || skip_or_fail "$pgq is not built"
}

require_database() {
  [[ -n ${PGQ_TEST_DSN:-} ]] ||
    skip_or_fail "PGQ_TEST_DSN is not set (run through ci/test, or start PostgreSQL with ci/lib/postgres.sh)"
}

fail() {
  echo "FAIL: $_tests_name: $*"
  if declare -F _worker_logs_tail >/dev/null; then _worker_logs_tail; fi
  exit 1
}

# ---- database -------------------------------------------------------------------------------
sql() {
  PGOPTIONS="-c client_min_messages=warning" psql "${SQL_DSN:-$PGQ_TEST_DSN}" -XAtq \
    -v ON_ERROR_STOP=1 -c "$1"
}

sql_value() {
  local out
  out=$(sql "$1") || return 1
  [[ -n $out ]] || { echo "sql_value: no row from: $1" >&2; return 1; }
  printf '%s\n' "${out%%$'\n'*}"
}

# ---- waiting --------------------------------------------------------------------------------
poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep "$AWAIT_INTERVAL"
  done
}

await() {
  local seconds=$1 what=$2
  shift 2
  poll "$seconds" "$@" || fail "timed out after $seconds s waiting for $what"
}

sql_prints() { [[ $(sql "$1" 2>/dev/null || true) == "$2" ]]; }

await_sql() {
  poll "$2" sql_prints "$1" "$3" ||
    fail "timed out after $2 s waiting for: $1 = $3 (now: $(sql "$1" 2>&1 || true))"
}

# ---- ports and HTTP -------------------------------------------------------------------------
free_port() {
  if [[ -n ${work:-} ]]; then
    PGQ_PORTS_FILE="$work/ports" pgq_free_port
  else
    pgq_free_port
  fi
}

http_code() {
  curl -s -m 5 -o "${3:-/dev/null}" -w '%{http_code}' "http://127.0.0.1:$1$2" || true
}

proxy=""
pg_proxy_start() {
  local port pg_port=${PGQ_PG_PORT:?no PGQ_PG_PORT (run through ci/test)}
  port=$(free_port)
  setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$pg_port" &
  proxy=$!
  proxy_dsn=${PGQ_TEST_DSN/:$pg_port\//:$port/}
  [[ $proxy_dsn != "$PGQ_TEST_DSN" ]] || fail "cannot find port $pg_port in PGQ_TEST_DSN"
}
pg_proxy_stop() {
  [[ -n $proxy ]] || return 0
  kill -CONT -- "-$proxy" 2>/dev/null || true
  kill -KILL -- "-$proxy" 2>/dev/null || true
  wait "$proxy" 2>/dev/null || true
  proxy=""
}
at_exit pg_proxy_stop
