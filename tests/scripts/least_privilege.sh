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
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/worker.sh"
require_tools psql curl
require_build
require_database
test_workdir
schema="lp_$RANDOM$RANDOM"
at_exit "sql 'DROP SCHEMA IF EXISTS $schema CASCADE' >/dev/null 2>&1"
as_worker() { SQL_DSN=$worker_dsn sql "$1"; }
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
http_port=$(free_port)
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
worker_start worker "$work/worker.yaml" "$http_port"
worker_await worker 200 60
((failures == 0)) && ok "pgq run as pgq_worker is ready"
for i in $(seq 1 20); do "$pgq" queue lp.ok "job $i" >/dev/null || bad "pgq queue as pgq_worker"; done
"$pgq" queue lp.bad "fails" >/dev/null || bad "pgq queue as pgq_worker"
ok "pgq queue as pgq_worker: 21 jobs"
poll 60 sql_prints "SELECT count(*) FROM $schema.pgqueuer_log WHERE status = 'successful'" 20 &&
  ok "the worker completed 20 jobs" || bad "the worker did not complete 20 jobs"
poll 60 sql_prints "SELECT count(*) FROM $schema.pgqueuer WHERE status = 'failed'" 1 &&
  ok "the failing job is held" || bad "the failing job was not held"
held=$("$pgq" failed 2>&1) && [[ $held == *lp.bad* ]] && ok "pgq failed lists it" || bad "pgq failed: $held"
id=$(sql "SELECT id FROM $schema.pgqueuer WHERE status = 'failed'")
if "$pgq" requeue "$id" >"$work/requeue.log" 2>&1; then ok "pgq requeue $id"; else bad "pgq requeue: $(cat "$work/requeue.log")"; fi
poll 60 sql_prints "SELECT count(*) >= 4 AND bool_and(j.status = 'failed') FROM $schema.pgqueuer_log l, $schema.pgqueuer j WHERE l.entrypoint = 'lp.bad' AND l.status = 'picked'" t &&
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
worker_stop worker
if grep -i "permission denied\|must be owner" "$work"/*.log; then bad "a pgq process hit a permission error"; else ok "no permission errors in any log"; fi

((failures == 0)) || { echo "least privilege: $failures failure(s)"; sed 's/^/  worker: /' "$work/worker.log" | tail -20; exit 1; }
echo "least privilege: ok"
