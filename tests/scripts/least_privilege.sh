#!/usr/bin/env bash
# Two roles, as docs/sql/roles.sql sets them up: pgq_migrator owns the queue schema and runs
# `pgq migrate` (with the workers' configuration file and `--user`, as the chart's migration
# Job does with migrations.credentials), pgq_worker only reads and writes rows. As
# pgq_worker: a worker consumes (retries, holds a failing job, prunes), `pgq queue` enqueues,
# `pgq failed` lists and `pgq requeue` retries held jobs, `pgq prune` prunes, and `pgq
# migrate` on the current schema succeeds (it runs no DDL). The worker role is shown to hold
# no DDL, ownership or TRUNCATE rights, and no pgq process it ran logged a permission error.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR set; the server trusts local connections, so
# the roles need no passwords here).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../ci/lib/postgres.sh
source "$root/ci/lib/postgres.sh"
# shellcheck source=../../ci/lib/ports.sh
source "$root/ci/lib/ports.sh"

build=${PGQ_BUILD_DIR:?run through ci/test}
pgq=$build/worker/pgq
schema="lp_$RANDOM$RANDOM"
work=$(mktemp -d)
worker_pid=
cleanup() {
  [[ -z $worker_pid ]] || kill "$worker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  sql "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$PGQ_TEST_DSN" -XAtqc "$1"; }
as_worker() { PGOPTIONS="-c client_min_messages=warning" psql "$worker_dsn" -XAtqc "$1"; }
await() { # query, seconds, expected
  local deadline=$((SECONDS + $2))
  until [[ $(sql "$1" 2>/dev/null || true) == "$3" ]]; do
    ((SECONDS < deadline)) || { echo "timed out waiting for: $1 = $3 (now: $(sql "$1" 2>&1 || true))"; return 1; }
    sleep 0.2
  done
}
failures=0
ok() { echo "ok   $*"; }
bad() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

# --- the roles ------------------------------------------------------------------------
port=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$PGQ_TEST_DSN")
dbname=${PGQ_TEST_DSN##*/}
worker_dsn="postgresql://pgq_worker@127.0.0.1:$port/$dbname"
sql "CREATE SCHEMA $schema"
PGOPTIONS="-c client_min_messages=warning" psql "$PGQ_TEST_DSN" -Xq -v ON_ERROR_STOP=1 \
  -v schema="$schema" -v DBNAME="$dbname" -f docs/sql/roles.sql >/dev/null
ok "docs/sql/roles.sql applied to schema $schema"

# --- the worker's configuration: connects as pgq_worker --------------------------------
echo unused >"$work/password" # trust authentication ignores it; the file must not be empty
chmod 600 "$work/password"
http_port=$(pgq_free_port)
cat >"$work/worker.yaml" <<YAML
database:
  host: 127.0.0.1
  port: $port
  dbname: $dbname
  user: pgq_worker
  password_file: $work/password
queue:
  schema: $schema
entrypoints:
  lp.ok:
    handler: {type: noop}
  lp.bad:
    handler: {type: fail}
    on_failure: hold
    retry: {max_attempts: 2, initial_delay: 0s}
http:
  address: 127.0.0.1
  port: $http_port
logging:
  level: info
  format: text
retention:
  log_older_than: 1s
  statistics_older_than: 1s
  interval: 1s
YAML

# --- install as the migrator ------------------------------------------------------------
if "$pgq" migrate --config "$work/worker.yaml" --user pgq_migrator >"$work/migrate.log" 2>&1; then
  ok "pgq migrate --user pgq_migrator installed the schema"
else
  bad "pgq migrate as pgq_migrator: $(cat "$work/migrate.log")"
  exit 1
fi
owner=$(sql "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class WHERE relnamespace = '$schema'::regnamespace")
[[ $owner == pgq_migrator ]] && ok "every object is owned by pgq_migrator" || bad "objects owned by '$owner'"

# --- what pgq_worker cannot do -----------------------------------------------------------
for statement in "CREATE TABLE $schema.intruder (id int)" "TRUNCATE $schema.pgqueuer" \
  "ALTER TABLE $schema.pgqueuer ADD COLUMN x int" "DROP INDEX $schema.pgqueuer_ep_ea_idx" \
  "CREATE OR REPLACE FUNCTION $schema.fn_pgqueuer_changed() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NULL; END \$f\$"; do
  if as_worker "$statement" >/dev/null 2>&1; then bad "pgq_worker may: $statement"; else ok "pgq_worker may not: ${statement%% (*}"; fi
done

# --- everything else as pgq_worker -------------------------------------------------------
export PGQUEUER_DSN=$worker_dsn PGQUEUER_SCHEMA=$schema
"$pgq" run --config "$work/worker.yaml" >"$work/worker.log" 2>&1 &
worker_pid=$!
deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { bad "worker (pgq_worker) not ready: $(curl -sS "http://127.0.0.1:$http_port/readyz" 2>&1) $(tail -5 "$work/worker.log")"; exit 1; }
  sleep 0.2
done
((failures == 0)) && ok "pgq run as pgq_worker is ready"
for i in $(seq 1 20); do "$pgq" queue lp.ok "job $i" >/dev/null || bad "pgq queue as pgq_worker"; done
"$pgq" queue lp.bad "fails" >/dev/null || bad "pgq queue as pgq_worker"
ok "pgq queue as pgq_worker: 21 jobs"
await "SELECT count(*) FROM $schema.pgqueuer_log WHERE status = 'successful'" 60 20 &&
  ok "the worker completed 20 jobs" || bad "the worker did not complete 20 jobs"
await "SELECT count(*) FROM $schema.pgqueuer WHERE status = 'failed'" 60 1 &&
  ok "the failing job is held" || bad "the failing job was not held"
held=$("$pgq" failed 2>&1) && [[ $held == *lp.bad* ]] && ok "pgq failed lists it" || bad "pgq failed: $held"
id=$(sql "SELECT id FROM $schema.pgqueuer WHERE status = 'failed'")
if "$pgq" requeue "$id" >"$work/requeue.log" 2>&1; then ok "pgq requeue $id"; else bad "pgq requeue: $(cat "$work/requeue.log")"; fi
await "SELECT count(*) >= 4 AND bool_and(j.status = 'failed') FROM $schema.pgqueuer_log l, $schema.pgqueuer j WHERE l.entrypoint = 'lp.bad' AND l.status = 'picked'" 60 t &&
  ok "the requeued job ran again (two more attempts) and is held again" || bad "the requeued job did not run again"
# The worker prunes every second: a run that ends without error sets this gauge.
metric() { curl -fsS "http://127.0.0.1:$http_port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
deadline=$((SECONDS + 60))
until [[ $(metric pgq_prune_last_success_timestamp_seconds) != 0 && -n $(metric pgq_prune_last_success_timestamp_seconds) ]]; do
  ((SECONDS < deadline)) || break
  sleep 0.5
done
last=$(metric pgq_prune_last_success_timestamp_seconds)
errors=$(metric pgq_prune_errors_total)
[[ -n $last && $last != 0 && ${errors:-0} == 0 ]] && ok "the worker's prune runs succeed as pgq_worker (errors ${errors:-0})" ||
  bad "the worker's prune runs: last success '$last', errors '$errors'"
if "$pgq" prune --log-older-than 1s --statistics-older-than 1s >"$work/prune.log" 2>&1; then
  ok "pgq prune as pgq_worker"
else
  bad "pgq prune as pgq_worker: $(cat "$work/prune.log")"
fi
if "$pgq" migrate --config "$work/worker.yaml" >"$work/migrate2.log" 2>&1 && grep -q "schema is current" "$work/migrate2.log"; then
  ok "pgq migrate as pgq_worker on the current schema: no DDL needed"
else
  bad "pgq migrate as pgq_worker: $(cat "$work/migrate2.log")"
fi
kill -TERM "$worker_pid"
wait "$worker_pid" || bad "the worker exited with $?"
worker_pid=
if grep -i "permission denied\|must be owner" "$work"/*.log; then bad "a pgq process hit a permission error"; else ok "no permission errors in any log"; fi

((failures == 0)) || { echo "least privilege: $failures failure(s)"; sed 's/^/  worker: /' "$work/worker.log" | tail -20; exit 1; }
echo "least privilege: ok"
