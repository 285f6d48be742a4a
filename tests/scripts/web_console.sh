#!/usr/bin/env bash
# `pgq web` in a real browser: Debian's chromium, driven by puppeteer-core
# (tests/web/browser.mjs), loads every screen of a console over a queue that a
# real worker filled, sees a `<script>` payload as text, requeues a held job
# with the page's button, and the worker runs it; PNGs of the screens go to
# $PGQ_BUILD_DIR/web-screens/. Also over plain HTTP: a wrong password gets
# 401 and a cross-origin POST 403.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR set). Needs chromium, node and
# npm (the lockfile's packages are installed into $PGQ_BUILD_DIR/web-node).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_build
require_database
require_tools psql curl node npm chromium
test_workdir "" keep-on-failure
# shellcheck source=lib/worker.sh
source "$pgq_root/tests/scripts/lib/worker.sh"

schema="web_$RANDOM$RANDOM"
password="Web-Secret-$RANDOM$RANDOM"
screens="$build/web-screens"
node_dir="$build/web-node"
mkdir -p "$screens" "$node_dir"

# puppeteer-core at the version the lockfile pins; no browser download.
cp "$pgq_root/tests/web/package.json" "$pgq_root/tests/web/package-lock.json" "$node_dir/"
if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.package-lock.json.copy" 2>/dev/null; then
  (cd "$node_dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) ||
    skip_or_fail "npm ci of tests/web failed (puppeteer-core)"
  cp "$node_dir/package-lock.json" "$node_dir/node_modules/.package-lock.json.copy"
fi
cp "$pgq_root/tests/web/browser.mjs" "$node_dir/"

printf '%s\n' "$PGQ_TEST_DSN" >"$work/dsn"
printf 'admin\n' >"$work/user"
printf '%s' "$password" >"$work/password"
worker_port=$(free_port)
web_port=$(free_port)
cat >"$work/config.yaml" <<YAML
database: {dsn_file: $work/dsn}
pool: {min_size: 1, max_size: 3}
queue: {schema: $schema, dequeue_timeout: 1s}
entrypoints:
  web.flaky:
    # Fails (and is held) until the test creates the file.
    handler: {type: exec, command: [sh, -c, "test -f $work/go"]}
    on_failure: hold
http: {address: 127.0.0.1, port: $worker_port}
logging: {format: text}
shutdown: {grace_period: 5s}
web:
  address: 127.0.0.1
  port: $web_port
  username_file: $work/user
  password_file: $work/password
YAML

"$pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" install >/dev/null
held=$("$pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" queue web.flaky 'first try' | grep -Eo '[0-9]+' | tail -1)
worker_start_ready worker "$work/config.yaml" "$worker_port" 30
await_sql "SELECT status FROM $schema.pgqueuer WHERE id = $held" 30 failed
worker_stop worker
# Shown, never run: the worker has no web.show entrypoint.
xss=$("$pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" queue web.show '<script>alert(1)</script>' | grep -Eo '[0-9]+' | tail -1)

worker_spawn web "$pgq" web --config "$work/config.yaml"
await 30 "the console to answer" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$web_port/) == 401 ]]"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:wrong" "http://127.0.0.1:$web_port/")
[[ $code == 401 ]] || fail "a wrong password got $code, not 401"
token=$(printf 'a%.0s' {1..64})
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$password" -H "Origin: http://evil.example" \
  -H "Cookie: pgq_csrf=$token" --data "csrf=$token" "http://127.0.0.1:$web_port/jobs/$held/requeue")
[[ $code == 403 ]] || fail "a cross-origin POST got $code, not 403"
[[ $(sql_value "SELECT status FROM $schema.pgqueuer WHERE id = $held") == failed ]] ||
  fail "the refused POST changed the job"

touch "$work/go"
worker_start_ready worker "$work/config.yaml" "$worker_port" 30
WEB_URL="http://127.0.0.1:$web_port" WEB_USER=admin WEB_PASSWORD="$password" HELD_JOB="$held" \
  XSS_JOB="$xss" OUT_DIR="$screens" CHROMIUM="$(command -v chromium)" \
  node "$node_dir/browser.mjs" || fail "the browser checks failed"
await_sql "SELECT count(*) FROM $schema.pgqueuer_log WHERE job_id = $held AND status = 'successful'" 30 1
echo "the requeued job ran"
grep -q "web audit: user=admin action=requeue job=$held requeued=1" "$(worker_log web)" ||
  fail "no audit line for the requeue"
if grep -q "$password" "$(worker_log web)" "$(worker_log worker)"; then
  fail "the password leaked into a log"
fi
worker_stop worker
kill -TERM "${worker_pid[web]}"
wait "${worker_pid[web]}" || fail "pgq web did not exit 0 on SIGTERM"
unset 'worker_pid[web]'
ls "$screens"/web-*.png
sql "DROP SCHEMA $schema CASCADE"
echo "web console: ok"
