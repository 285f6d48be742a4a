# shellcheck shell=bash
# Throwaway PostgreSQL server for tests and demos.
#
# Source this file from a bash script, then:
#
#   pgq_pg_start    create a temporary cluster, start it on a free 127.0.0.1 port and export
#                   PGQ_TEST_DSN and PGQUEUER_DSN (postgresql://postgres@127.0.0.1:PORT/postgres),
#                   PGQ_PG_PORT, PGQ_PG_DIR (temp dir: data/, server.log, unix socket) and
#                   PGQ_PG_BINDIR. Installs an EXIT trap (plus INT/TERM/HUP in scripts) that
#                   stops the server and deletes the directory. Returns non-zero on failure
#                   after printing the tail of the server log.
#   pgq_pg_stop     stop the server, delete the directory, remove the traps, unset the variables.
#   pgq_pg_restart  stop and start again with the same data directory and port. Also works in
#                   a child script that sourced this file and inherited the variables above.
#
# Call pgq_pg_start from the main shell, not from $( ) or a pipeline: the trap belongs to the
# shell that runs it. One server per shell; run several shells for several servers. A child
# script may start its own server; pgq_pg_stop only stops the server its own shell started.
#
# Optional settings: PGQ_PG_BINDIR (directory with initdb/pg_ctl/postgres), PGQ_PG_WANT_PORT
# (fixed port instead of a random free one), PGQ_PG_TMPDIR (parent of the temp dir),
# PGQ_PG_EXTRA_CONF (postgresql.conf lines appended after the test settings, so they win).
#
# PostgreSQL refuses to run as root: under root the cluster belongs to the `postgres` user
# and the server commands run through runuser.

# Find the directory holding initdb and pg_ctl.
_pgq_pg_find_bindir() {
  local d
  if [[ -n ${PGQ_PG_BINDIR:-} ]]; then
    printf '%s\n' "$PGQ_PG_BINDIR"
    return 0
  fi
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    printf '%s\n' /usr/lib/postgresql/15/bin
    return 0
  fi
  # Newest other Debian-style installation.
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4 -rn); do
    if [[ -x $d/initdb ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  if d=$(command -v initdb 2>/dev/null); then
    dirname "$d"
    return 0
  fi
  return 1
}

# Run a server command as the cluster owner.
_pgq_pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A random port in 20000-31999 that nothing is listening on (PostgreSQL's own bind is the real
# check; pgq_pg_start retries with another port when that fails).
_pgq_pg_pick_port() {
  local port i
  for i in $(seq 1 50); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
    : "$i"
  done
  return 1
}

_pgq_pg_log_tail() {
  local log=$1
  if [[ -s $PGQ_PG_DIR/pg_ctl.err ]]; then
    cat "$PGQ_PG_DIR/pg_ctl.err" >&2
  fi
  echo "---- last lines of $log ----" >&2
  if [[ -r $log ]]; then
    tail -n 30 "$log" >&2
  else
    echo "(no log file)" >&2
  fi
  echo "---- end of log ----" >&2
}

# Start the server in $PGQ_PG_DIR/data on port $1. Returns 0, or 1 on failure,
# or 2 when the port was taken (caller may retry with another port).
_pgq_pg_ctl_start() {
  local port=$1 log=$PGQ_PG_DIR/server.log offset=0
  [[ -f $log ]] && offset=$(wc -c <"$log")
  # Later lines of postgresql.conf win, so appending is enough to change the port.
  # shellcheck disable=SC2016  # $1/$2 belong to the inner sh
  if ! _pgq_pg_as_owner sh -c 'printf "port = %s\n" "$1" >>"$2"' sh "$port" \
    "$PGQ_PG_DIR/data/postgresql.conf"; then
    echo "pgq_pg: cannot write $PGQ_PG_DIR/data/postgresql.conf" >&2
    return 1
  fi
  if (cd "$PGQ_PG_DIR" && _pgq_pg_as_owner "$PGQ_PG_BINDIR/pg_ctl" -D "$PGQ_PG_DIR/data" \
    -l "$log" -w -t 60 start) >/dev/null 2>"$PGQ_PG_DIR/pg_ctl.err"; then
    PGQ_PG_PORT=$port
    return 0
  fi
  # Look only at what this attempt wrote to the log.
  if tail -c +"$((offset + 1))" "$log" 2>/dev/null |
    grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets'; then
    return 2
  fi
  return 1
}

# Stop the server if it runs; keep the directory. $1: shutdown mode (default fast).
_pgq_pg_ctl_stop() {
  [[ -n ${PGQ_PG_DIR:-} && -f $PGQ_PG_DIR/data/postmaster.pid ]] || return 0
  (cd "$PGQ_PG_DIR" && _pgq_pg_as_owner "$PGQ_PG_BINDIR/pg_ctl" -D "$PGQ_PG_DIR/data" \
    -m "${1:-fast}" -w -t 60 stop) >/dev/null 2>&1 ||
    (cd "$PGQ_PG_DIR" && _pgq_pg_as_owner "$PGQ_PG_BINDIR/pg_ctl" -D "$PGQ_PG_DIR/data" \
      -m immediate -w -t 30 stop) >/dev/null 2>&1 || true
}

_pgq_pg_on_exit() {
  local prev=${_PGQ_PG_PREV_EXIT_CMD:-}
  pgq_pg_stop
  if [[ -n $prev ]]; then
    eval "$prev"
  fi
}

pgq_pg_start() {
  local base bindir port attempt rc
  if [[ -n ${_PGQ_PG_OWNED:-} ]]; then
    echo "pgq_pg_start: a server from this shell is already running in $PGQ_PG_DIR" >&2
    return 1
  fi
  if ! bindir=$(_pgq_pg_find_bindir); then
    echo "pgq_pg_start: PostgreSQL server binaries (initdb, pg_ctl) not found;" \
      "install postgresql-15 (ci/deps) or set PGQ_PG_BINDIR" >&2
    return 1
  fi
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    echo "pgq_pg_start: running as root but there is no 'postgres' user to own the server" >&2
    return 1
  fi

  # As root the postgres user must reach the directory, so default to /tmp there.
  if [[ $(id -u) -eq 0 ]]; then
    base=${PGQ_PG_TMPDIR:-/tmp}
  else
    base=${PGQ_PG_TMPDIR:-${TMPDIR:-/tmp}}
  fi
  if ! PGQ_PG_DIR=$(mktemp -d "$base/pgq-pg.XXXXXX"); then
    echo "pgq_pg_start: cannot create a temporary directory in $base" >&2
    return 1
  fi
  _PGQ_PG_OWNED=1
  PGQ_PG_BINDIR=$bindir
  unset PGQ_PG_PORT
  export PGQ_PG_DIR PGQ_PG_BINDIR

  # Clean up on every way out of the script from here on.
  _PGQ_PG_PREV_EXIT_CMD=
  local prev
  prev=$(trap -p EXIT)
  if [[ -n $prev ]]; then
    local -a parts
    eval "parts=( $prev )"
    _PGQ_PG_PREV_EXIT_CMD=${parts[2]:-}
  fi
  trap _pgq_pg_on_exit EXIT
  if [[ $- != *i* ]]; then
    # Scripts: turn signals into a normal exit so the EXIT trap runs.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
  fi

  if [[ $(id -u) -eq 0 ]] && ! chown postgres: "$PGQ_PG_DIR"; then
    echo "pgq_pg_start: cannot hand $PGQ_PG_DIR to the postgres user" >&2
    pgq_pg_stop
    return 1
  fi

  if ! (cd "$PGQ_PG_DIR" && _pgq_pg_as_owner "$PGQ_PG_BINDIR/initdb" -D "$PGQ_PG_DIR/data" \
    -A trust -U postgres --no-sync -E UTF8 --locale=C) >"$PGQ_PG_DIR/initdb.log" 2>&1; then
    echo "pgq_pg_start: initdb failed" >&2
    _pgq_pg_log_tail "$PGQ_PG_DIR/initdb.log"
    pgq_pg_stop
    return 1
  fi

  # Settings for a disposable test server: speed over durability.
  # shellcheck disable=SC2016  # $1 belongs to the inner sh
  if ! _pgq_pg_as_owner sh -c 'cat >>"$1"' sh "$PGQ_PG_DIR/data/postgresql.conf" <<EOF

# ---- pgq test server (ci/lib/postgres.sh) ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGQ_PG_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
lc_messages = 'C'
EOF
  then
    echo "pgq_pg_start: cannot write postgresql.conf" >&2
    pgq_pg_stop
    return 1
  fi
  # Caller's settings last, so they win (ci/bench restores durable defaults this way).
  # shellcheck disable=SC2016  # $1 belongs to the inner sh
  if [[ -n ${PGQ_PG_EXTRA_CONF:-} ]] &&
    ! printf '%s\n' "$PGQ_PG_EXTRA_CONF" |
    _pgq_pg_as_owner sh -c 'cat >>"$1"' sh "$PGQ_PG_DIR/data/postgresql.conf"; then
    echo "pgq_pg_start: cannot write PGQ_PG_EXTRA_CONF to postgresql.conf" >&2
    pgq_pg_stop
    return 1
  fi

  rc=1
  for attempt in 1 2 3 4 5; do
    if [[ -n ${PGQ_PG_WANT_PORT:-} ]]; then
      port=$PGQ_PG_WANT_PORT
    elif ! port=$(_pgq_pg_pick_port); then
      echo "pgq_pg_start: no free port found" >&2
      break
    fi
    rc=0
    _pgq_pg_ctl_start "$port" || rc=$?
    if [[ $rc -ne 2 || -n ${PGQ_PG_WANT_PORT:-} ]]; then
      break
    fi
    echo "pgq_pg_start: port $port is taken, trying another (attempt $attempt)" >&2
  done
  if [[ $rc -ne 0 ]]; then
    echo "pgq_pg_start: PostgreSQL did not start" >&2
    _pgq_pg_log_tail "$PGQ_PG_DIR/server.log"
    pgq_pg_stop
    return 1
  fi

  export PGQ_PG_PORT
  export PGQ_TEST_DSN="postgresql://postgres@127.0.0.1:$PGQ_PG_PORT/postgres"
  export PGQUEUER_DSN=$PGQ_TEST_DSN
  echo "pgq_pg_start: PostgreSQL running at $PGQ_TEST_DSN (data in $PGQ_PG_DIR)" >&2
}

_pgq_pg_require_started() {
  if [[ -z ${PGQ_PG_DIR:-} || ! -d $PGQ_PG_DIR/data || -z ${PGQ_PG_PORT:-} ||
    -z ${PGQ_PG_BINDIR:-} ]]; then
    echo "$1: no server started by pgq_pg_start (PGQ_PG_DIR/PGQ_PG_PORT unset)" >&2
    return 1
  fi
}

# Stops the server but keeps its data directory and port (see pgq_pg_resume).
# Works in the starting shell and in child scripts, which inherit the exported variables.
# $1: pg_ctl shutdown mode, fast (default) or immediate.
pgq_pg_halt() {
  _pgq_pg_require_started pgq_pg_halt || return 1
  _pgq_pg_ctl_stop "${1:-fast}"
  echo "pgq_pg_halt: PostgreSQL stopped (data kept)" >&2
}

# Starts a server stopped by pgq_pg_halt again, on the same port.
pgq_pg_resume() {
  _pgq_pg_require_started pgq_pg_resume || return 1
  local rc=0 attempt
  # The port was just released; retry briefly in case the kernel has not let go of it yet.
  for attempt in 1 2 3 4 5; do
    rc=0
    _pgq_pg_ctl_start "$PGQ_PG_PORT" || rc=$?
    [[ $rc -eq 2 ]] || break
    sleep "$attempt"
  done
  if [[ $rc -ne 0 ]]; then
    echo "pgq_pg_resume: PostgreSQL did not start again on port $PGQ_PG_PORT" >&2
    _pgq_pg_log_tail "$PGQ_PG_DIR/server.log"
    return 1
  fi
  echo "pgq_pg_resume: PostgreSQL running again at $PGQ_TEST_DSN" >&2
}

# $1: shutdown mode, as for pgq_pg_halt.
pgq_pg_restart() {
  pgq_pg_halt "${1:-fast}" && pgq_pg_resume
}

pgq_pg_stop() {
  # Only the shell that started the server stops it; elsewhere this is a no-op.
  [[ -n ${_PGQ_PG_OWNED:-} ]] || return 0
  if [[ -n ${PGQ_PG_DIR:-} ]]; then
    _pgq_pg_ctl_stop
    rm -rf -- "$PGQ_PG_DIR"
  fi
  if [[ -n ${PGQ_PG_PORT:-} ]]; then
    unset PGQ_TEST_DSN PGQUEUER_DSN
  fi
  unset PGQ_PG_DIR PGQ_PG_PORT _PGQ_PG_OWNED
  # Put back the caller's traps.
  if [[ -n ${_PGQ_PG_PREV_EXIT_CMD:-} ]]; then
    # shellcheck disable=SC2064  # the saved command is meant to be fixed now
    trap "$_PGQ_PG_PREV_EXIT_CMD" EXIT
  else
    trap - EXIT
  fi
  unset _PGQ_PG_PREV_EXIT_CMD
  if [[ $- != *i* ]]; then
    trap - INT TERM HUP
  fi
  return 0
}
