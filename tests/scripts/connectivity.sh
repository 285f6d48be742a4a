#!/usr/bin/env bash
# Production connectivity with the real parts: a private PostgreSQL with ssl=on and a CA,
# server and client certificates made here with openssl, and Debian's pgbouncer in
# transaction mode in front of it.
#   TLS: verify-full connects; wrong CA, wrong host name and a missing client certificate are
#        refused with clear reasons; a key file others can read is a config error (exit 2);
#        a worker started with the wrong CA file picks up the rotated (right) one on reconnect.
#   PgBouncer: a worker drains jobs through pgbouncer (transaction mode, prepared statements
#        off) while LISTEN goes direct over TLS; wake-ups arrive through LISTEN; nothing lost.
#   Endpoints: a failing listener endpoint is named by /readyz and counted under
#        endpoint="listener" in the metrics while the pool endpoint stays fine.
#   Roles: the worker runs as the least-privilege role of docs/sql/roles.sql.
# Prints the drain rate direct vs through pgbouncer. Wall time about 40 s.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_build
require_tools openssl pgbouncer psql curl
jobs=${PGQ_CONNECTIVITY_JOBS:-10000}
pgbouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

# ---- certificates (readable by the postgres user: the directory is handed over) ----------
test_workdir /tmp
certs=$work
# shellcheck source=lib/worker.sh
source "$pgq_root/tests/scripts/lib/worker.sh"
AWAIT_INTERVAL=0.2
ossl() { openssl "$@" 2>/dev/null; }
make_ca() { # name
  ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pgq test $1" \
    -keyout "$certs/$1.key" -out "$certs/$1.crt"
}
sign() { # name ca subject san
  ossl req -newkey rsa:2048 -nodes -subj "$3" -keyout "$certs/$1.key" -out "$certs/$1.csr"
  printf 'subjectAltName=%s\n' "$4" >"$certs/$1.ext"
  ossl x509 -req -in "$certs/$1.csr" -CA "$certs/$2.crt" -CAkey "$certs/$2.key" \
    -CAcreateserial -days 2 -extfile "$certs/$1.ext" -out "$certs/$1.crt"
}
make_ca ca
make_ca other-ca
sign server ca "/CN=localhost" "DNS:localhost"
sign client ca "/CN=postgres" "DNS:client"
chmod 0600 "$certs"/*.key
if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$certs"; chmod 0755 "$certs"; fi
cp "$certs/client.key" "$certs/worker-client.key" # the worker's copy, owned by this user
chown "$(id -u)" "$certs/worker-client.key" && chmod 0600 "$certs/worker-client.key"

cat >"$certs/hba.conf" <<EOF
local all all trust
# TLS connections must show a client certificate signed by the CA.
hostssl all all 127.0.0.1/32 trust clientcert=verify-ca
# Plain connections: pgbouncer's server side and this script's setup statements.
hostnossl all all 127.0.0.1/32 trust
EOF
[[ $(id -u) -eq 0 ]] && chown postgres: "$certs/hba.conf"

PGQ_PG_EXTRA_CONF="ssl = on
ssl_cert_file = '$certs/server.crt'
ssl_key_file = '$certs/server.key'
ssl_ca_file = '$certs/ca.crt'
hba_file = '$certs/hba.conf'" pgq_pg_start
port=$PGQ_PG_PORT
plain="host=127.0.0.1 port=$port dbname=postgres user=postgres sslmode=disable"
SQL_DSN=$plain
tls_base="host=localhost port=$port dbname=postgres user=postgres sslmode=verify-full"
client="sslcert=$certs/client.crt sslkey=$certs/worker-client.key"

failures=0
expect_refused() { # label conninfo reason-substring
  local out
  if out=$("$pgq" --dsn "$2" verify 2>&1); then
    echo "FAIL $1: connected"
    failures=$((failures + 1))
  elif grep -qF "$3" <<<"$out"; then
    echo "ok   $1: $(grep -m1 -F "$3" <<<"$out" | cut -c1-220)"
  else
    echo "FAIL $1: reason lacks '$3': $out"
    failures=$((failures + 1))
  fi
}

# ---- TLS through the CLI (--dsn carries the same libpq keys) --------------------------------
"$pgq" --dsn "$plain" install >/dev/null
if "$pgq" --dsn "$tls_base sslrootcert=$certs/ca.crt $client" verify >/dev/null; then
  echo "ok   verify-full with the CA and a client certificate connects"
else
  echo "FAIL verify-full did not connect"
  failures=$((failures + 1))
fi
expect_refused "wrong CA" "$tls_base sslrootcert=$certs/other-ca.crt $client" \
  "does not verify against sslrootcert"
expect_refused "wrong host name" \
  "${tls_base/host=localhost/host=127.0.0.1} sslrootcert=$certs/ca.crt $client" \
  "not issued for the host name"
expect_refused "no client certificate" "$tls_base sslrootcert=$certs/ca.crt" \
  "requires a client certificate"

# ---- least-privilege roles -----------------------------------------------------------------
psql "$plain" -Xq -v ON_ERROR_STOP=1 -v schema=public -f "$pgq_root/docs/sql/roles.sql" >/dev/null

# ---- the worker: config error, rotated CA, pgbouncer -----------------------------------------
http_port=$(free_port)
write_config() { # file mode database-yaml
  cat >"$1" <<YAML
database:
$3
pool: {min_size: 1, max_size: 4, health_check_interval: 1s, acquire_timeout: 2s}
queue: {dequeue_timeout: $4, mode: $2, batch_size: 10}
entrypoints:
  conn.noop:
    handler: {type: noop}
http: {address: 127.0.0.1, port: $http_port}
logging: {format: text, level: warn}
shutdown: {grace_period: 5s}
YAML
}
tls_yaml="  host: localhost
  port: $port
  dbname: postgres
  user: pgq_worker
  sslmode: verify-full
  sslrootcert: $certs/worker-ca.crt
  sslcert: $certs/client.crt
  sslkey: $certs/worker-client.key"

# A private key that others can read: exit 2 before touching the database.
cp "$certs/ca.crt" "$certs/worker-ca.crt"
cp "$certs/worker-client.key" "$certs/loose.key" && chmod 0644 "$certs/loose.key"
write_config "$certs/loose.yaml" continuous "${tls_yaml/worker-client.key/loose.key}" 30s
rc=0
"$pgq" run --config "$certs/loose.yaml" >"$certs/loose.log" 2>&1 || rc=$?
if [[ $rc == 2 ]] && grep -q "database.sslkey: .*mode 0644" "$certs/loose.log"; then
  echo "ok   sslkey readable by others: exit 2, $(grep -m1 -o 'loose.yaml:[0-9]*:[0-9]*: database.sslkey' "$certs/loose.log")"
else
  echo "FAIL loose key: exit $rc: $(cat "$certs/loose.log")"
  failures=$((failures + 1))
fi

# await_ready CODE SECONDS: the running worker's /readyz answers CODE (body in $body), or
# status 1 after saying what it answered last.
body=$certs/worker.readyz
await_ready() {
  worker_poll worker "$1" "$2" && return 0
  echo "timed out waiting for readyz $1; last: $(cat "$body" 2>/dev/null)"
  return 1
}

# The wrong CA at start: not ready, with the reason; the right CA replaces the file (as a
# rotated ConfigMap does) and the next connection attempt uses it.
cp "$certs/other-ca.crt" "$certs/worker-ca.crt"
write_config "$certs/rotate.yaml" continuous "$tls_yaml" 30s
worker_start worker "$certs/rotate.yaml" "$http_port"
# Until the first connection attempt has failed, the reason is "starting".
wrong_ca_named() { worker_ready worker 503 && grep -q "does not verify against sslrootcert" "$body"; }
if poll 30 wrong_ca_named; then
  echo "ok   readyz names the wrong CA: $(grep -o 'cannot open the pool[^"]*' "$body" | cut -c1-160)"
else
  echo "FAIL readyz reason for the wrong CA: $(cat "$body" 2>/dev/null)"
  failures=$((failures + 1))
fi
cp "$certs/ca.crt" "$certs/worker-ca.crt.new" && mv "$certs/worker-ca.crt.new" "$certs/worker-ca.crt"
await_ready 200 60 && echo "ok   rotated CA file picked up on reconnect: ready" ||
  failures=$((failures + 1))
worker_stop worker any
if grep -q "BEGIN\|PRIVATE KEY" "$(worker_log worker)"; then
  echo "FAIL key or certificate material in the worker log"
  failures=$((failures + 1))
fi

# ---- pgbouncer, transaction mode ------------------------------------------------------------
bport=$(free_port)
cat >"$certs/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$port dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $certs/userlist.txt
pool_mode = transaction
default_pool_size = 8
max_client_conn = 100
logfile = $certs/pgbouncer.log
pidfile = $certs/pgbouncer.pid
EOF
printf '"postgres" ""\n"pgq_worker" ""\n' >"$certs/userlist.txt"
[[ $(id -u) -eq 0 ]] && chown postgres: "$certs/pgbouncer.ini" "$certs/userlist.txt"
if [[ $(id -u) -eq 0 ]]; then
  runuser -u postgres -- "$pgbouncer_bin" "$certs/pgbouncer.ini" >/dev/null 2>&1 &
else
  "$pgbouncer_bin" "$certs/pgbouncer.ini" >/dev/null 2>&1 &
fi
bouncer_pid=$!
at_exit 'kill -TERM "$bouncer_pid" 2>/dev/null'
bouncer_up() { psql "host=127.0.0.1 port=$bport dbname=postgres user=postgres" -XAtqc "SELECT 1" >/dev/null 2>&1; }
poll 20 bouncer_up || { cat "$certs/pgbouncer.log"; fail "pgbouncer did not start"; }
echo "pgbouncer $("$pgbouncer_bin" --version | head -1 | awk '{print $NF}') in transaction mode on port $bport"

enqueue() { sql "INSERT INTO pgqueuer (priority, entrypoint, payload, status) SELECT 0, 'conn.noop', NULL, 'queued' FROM generate_series(1, $1)" >/dev/null; }
done_count() { sql "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful' AND entrypoint = 'conn.noop'"; }
# Drains $jobs jobs with `pgq run` in drain mode; prints the rate (jobs/s, startup included).
drain() { # label database-yaml
  local before after start ms
  write_config "$certs/drain.yaml" drain "$2" 30s
  before=$(done_count)
  enqueue "$jobs"
  start=$(date +%s%N)
  "$pgq" run --config "$certs/drain.yaml" >"$certs/drain.log" 2>&1 || {
    echo "FAIL $1: worker exited $?"; cat "$certs/drain.log"; failures=$((failures + 1)); return; }
  ms=$((($(date +%s%N) - start) / 1000000))
  after=$(done_count)
  if [[ $((after - before)) == "$jobs" && $(sql "SELECT count(*) FROM pgqueuer") == 0 ]]; then
    echo "drain $1: $jobs jobs in ${ms} ms = $((jobs * 1000 / (ms > 0 ? ms : 1))) jobs/s"
  else
    echo "FAIL $1: $((after - before)) of $jobs done, $(sql "SELECT count(*) FROM pgqueuer") left"
    failures=$((failures + 1))
  fi
}
bouncer_yaml="  host: 127.0.0.1
  port: $bport
  dbname: postgres
  user: pgq_worker
  sslmode: disable
  prepared_statements: false
  listener:
    host: localhost
    port: $port
    sslmode: verify-full
    sslrootcert: $certs/listener-ca.crt
    sslcert: $certs/client.crt
    sslkey: $certs/worker-client.key"
cp "$certs/ca.crt" "$certs/listener-ca.crt"
direct_yaml=${tls_yaml/worker-ca.crt/ca.crt}

# pgq migrate holds a session-level advisory lock: with database.listener it connects there,
# not through the transaction-mode pgbouncer (where the lock could stay behind on a server
# connection and stall the next migration). Twice, then no advisory lock is left.
# (As postgres, the schema's owner here; docs/sql/roles.sql's pgq_migrator in production.)
write_config "$certs/migrate.yaml" continuous "${bouncer_yaml/user: pgq_worker/user: postgres}" 30s
migrated=0
for run in 1 2; do
  timeout 60 "$pgq" migrate --config "$certs/migrate.yaml" >"$certs/migrate.log" 2>&1 &&
    migrated=$((migrated + 1))
done
locks=$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
if [[ $migrated == 2 && $locks == 0 ]]; then
  echo "ok   pgq migrate twice with the pool behind pgbouncer: the lock went direct, none left"
else
  echo "FAIL pgq migrate behind pgbouncer: $migrated of 2 ran, $locks advisory locks left: $(cat "$certs/migrate.log")"
  failures=$((failures + 1))
fi
drain "direct TLS, prepared statements on " "$direct_yaml"
drain "direct TLS, prepared statements off" "$direct_yaml
  prepared_statements: false"
drain "pgbouncer (transaction), listener direct" "$bouncer_yaml"

# Wake-ups through LISTEN: a long dequeue_timeout, so only a notification can start the
# claim quickly; every job enqueued while the worker waits is done.
write_config "$certs/wake.yaml" continuous "$bouncer_yaml" 10m
worker_start_ready worker "$certs/wake.yaml" "$http_port" 30
before=$(done_count)
done_is() { [[ $(done_count) == "$1" ]]; }
for round in 1 2 3 4 5; do
  enqueue 1
  if ! AWAIT_INTERVAL=0.05 poll 5 done_is $((before + round)); then
    echo "FAIL wake-up $round did not arrive through LISTEN"
    failures=$((failures + 1))
    break
  fi
done
echo "ok   $round wake-ups through LISTEN (listener direct, statements through pgbouncer)"
backends=$(sql "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'pgq_worker' AND s.ssl AND a.query LIKE 'LISTEN%'")
if [[ $backends -ge 1 ]]; then
  echo "ok   the LISTEN connection is direct, over TLS, as pgq_worker ($backends)"
else
  echo "FAIL no direct TLS LISTEN connection as pgq_worker"
  failures=$((failures + 1))
fi

# The listener endpoint fails on its own: its CA file turns wrong and its LISTEN backend is
# ended, so the reconnect is refused. /readyz and the metrics name the listener endpoint,
# the pool endpoint (pgbouncer) stays fine; the right CA brings LISTEN back.
metric() { curl -s "http://127.0.0.1:$http_port/metrics" | awk -v s="$1" '$1 == s {print $2}'; }
listen_errors='pgq_driver_errors_total{endpoint="listener",kind="connect"}'
errors_before=$(metric "$listen_errors")
cp "$certs/other-ca.crt" "$certs/listener-ca.crt"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pgq_worker' AND query LIKE 'LISTEN%'" >/dev/null
if await_ready 503 30 && grep -q '"name":"listener","ok":false,"endpoint":"listener"' "$body" &&
  grep -q 'listener endpoint (database.listener)' "$body" &&
  grep -q '"name":"lease","ok":true,"endpoint":"pool"' "$body"; then
  echo "ok   readyz names the failed listener endpoint: $(grep -o 'listener endpoint[^"]*' "$body")"
else
  echo "FAIL readyz for a failed listener endpoint: $(cat "$body")"
  failures=$((failures + 1))
fi
listener_counted_down() {
  errors_after=$(metric "$listen_errors")
  up=$(metric 'pgq_listener_up{endpoint="listener"}')
  [[ $errors_after != "${errors_before:-}" && $up == 0 ]]
}
poll 30 listener_counted_down || true
if [[ -n $errors_after && $errors_after != "${errors_before:-}" && $up == 0 ]]; then
  echo "ok   metrics: $listen_errors $errors_before -> $errors_after, listener_up 0"
else
  echo "FAIL listener endpoint metrics: errors $errors_before -> $errors_after, listener_up $up"
  failures=$((failures + 1))
fi
cp "$certs/ca.crt" "$certs/listener-ca.crt.new" && mv "$certs/listener-ca.crt.new" "$certs/listener-ca.crt"
await_ready 200 60 && echo "ok   the right CA brings the listener endpoint back: ready" ||
  failures=$((failures + 1))
worker_stop worker any

if ((failures)); then
  echo "connectivity: $failures failure(s)"
  exit 1
fi
echo "connectivity: ok"
