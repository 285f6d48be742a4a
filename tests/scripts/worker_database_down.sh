#!/usr/bin/env bash
# /readyz turns 503 when the database is stopped, /livez stays 200, and the
# worker is ready again once the database is back; then SIGTERM exits 0.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR and the PGQ_PG_* variables set).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../ci/lib/postgres.sh
source "$root/ci/lib/postgres.sh"
# shellcheck source=../../ci/lib/ports.sh
source "$root/ci/lib/ports.sh"

build=${PGQ_BUILD_DIR:?run through ci/test}
schema="dbdown_$RANDOM$RANDOM"
marker="Db-Down-Secret-Marker"
work=$(mktemp -d)
worker=""
cleanup() {
  [[ -n $worker ]] && kill -KILL "$worker" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A loopback port nobody answers on.
port=$(pgq_free_port)
printf '%s\n' "${PGQ_TEST_DSN/@/:$marker@}" >"$work/dsn"
cat >"$work/config.yaml" <<YAML
database:
  dsn_file: $work/dsn
pool: {min_size: 1, max_size: 3, health_check_interval: 1s, acquire_timeout: 1s}
queue: {schema: $schema, dequeue_timeout: 2s}
entrypoints:
  db.noop:
    handler: {type: noop}
http: {address: 127.0.0.1, port: $port}
logging: {format: text}
shutdown: {grace_period: 5s}
YAML

"$build/worker/pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" install >/dev/null
"$build/worker/pgq" run --config "$work/config.yaml" >"$work/out.log" 2>&1 &
worker=$!

status() { curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$port$1" || true; }
await() { # path code seconds
  local deadline=$((SECONDS + $3))
  until [[ $(status "$1") == "$2" ]]; do
    if ((SECONDS >= deadline)); then
      echo "timed out waiting for $1 = $2; last body: $(cat "$work/body" 2>/dev/null)"
      cat "$work/out.log"
      return 1
    fi
    sleep 0.2
  done
}

await /readyz 200 30
echo "ready; stopping PostgreSQL"
pgq_pg_halt
await /readyz 503 30
echo "readyz while the database is down: $(cat "$work/body")"
grep -q '"ok":false' "$work/body"
[[ $(status /livez) == 200 ]] || { echo "livez failed while the database was down"; exit 1; }
pgq_pg_resume
await /readyz 200 60
echo "ready again after the database came back"

kill -TERM "$worker"
wait "$worker" && rc=0 || rc=$?
worker=""
[[ $rc == 0 ]] || { echo "worker exited with $rc"; cat "$work/out.log"; exit 1; }
if grep -q "$marker" "$work/out.log"; then
  echo "the password leaked into the worker's output"
  exit 1
fi
PGOPTIONS="-c client_min_messages=warning" psql "$PGQ_TEST_DSN" -XAtqc "DROP SCHEMA $schema CASCADE"
echo "worker database down: ok"
