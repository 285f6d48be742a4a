#!/usr/bin/env bash
# Deploy checks, the worker contract across the chart and kustomize: every object rendered
# (chart scenarios, the worker's example configuration as values, kustomize overlays)
# validates against the Kubernetes, KEDA and Prometheus Operator schemas, with references,
# security defaults, command, port and probe paths checked (tests/deploy/validate.mjs); the
# worker serves the probed paths; `pgq run` loads every rendered configuration; and the
# migration Job's command line, as rendered, installs and then upgrades a schema on
# PostgreSQL. By hand:
#
#   source ci/lib/postgres.sh && pgq_pg_start && PGQ_BUILD_DIR=$PWD/build tests/scripts/deploy_contract.sh
#
# Needs go, node + npm, kubectl, psql, openssl, timeout, the built pgq binary and PGQ_TEST_DSN;
# tests/deploy/lib.sh has the shared setup.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
deploy_init contract

section "worker contract (command, port, probe paths, config keys)"
entrypoint=$(sed -nE 's/^ENTRYPOINT \[(.*)\]$/\1/p' Dockerfile | tr -d '"' | sed 's/, */ /g')
echo "image entrypoint: $entrypoint (checked by deploy_image_static.sh; the objects must run the same)"
for p in "$live_path" "$ready_path" /metrics; do
  if src=$(grep -rlF "\"$p\"" worker src include | head -n 1) && [[ -n $src ]]; then
    ok "worker sources serve $p ($src)"
  else
    bad "worker sources do not mention \"$p\", which the chart and kustomize probe or scrape"
  fi
done
if ! grep -q "port: $worker_port" operator-manifests/base/config.yaml; then
  bad "operator-manifests/base/config.yaml does not set http port $worker_port"
fi
config_keys=""
if [[ ! -f $example ]]; then
  bad "$example is missing: the rendered worker configs cannot be checked against it"
elif deploy_renderer && deploy_node; then
  "$render" yaml2json "$example" >"$out/example.json"
  example_port=$(node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1]))[0].object;console.log(o.http?.port ?? "")' "$out/example.json" 2>/dev/null || true)
  if [[ $example_port == "$worker_port" ]]; then
    ok "$example: http.port $example_port is the chart's port"
  else
    bad "$example: http.port is '$example_port', the chart and kustomize use $worker_port"
  fi
  node -e 'const fs=require("fs");const o=JSON.parse(fs.readFileSync(process.argv[1]))[0].object;fs.writeFileSync(process.argv[2],JSON.stringify(o))' \
    "$out/example.json" "$out/example-config.json"
  config_keys=$out/example-config.json
  # Every key of the example must be accepted by the chart: the example's config minus what
  # the chart owns (http, the credential file), as values.
  node -e '
    const fs = require("fs");
    const cfg = JSON.parse(fs.readFileSync(process.argv[1]));
    delete cfg.http;
    delete cfg.database.password_file;
    delete cfg.database.dsn_file;
    fs.writeFileSync(process.argv[2], JSON.stringify({
      database: { existingSecret: { name: "db" } },
      config: cfg,
    }, null, 1));' "$out/example-config.json" "$out/example-values.json"
  if run_logged example-render "$render" template "$chart" -f "$out/example-values.json" --strict \
    --name pgq --namespace jobs --json "$out/objects/chart-worker-example.json"; then
    ok "the chart accepts every setting of $example (schema and templates)"
  else
    bad "the chart refuses settings of $example (above)"
  fi
fi

section "object validation (Kubernetes, KEDA, Prometheus Operator schemas; references; security; worker contract)"
deploy_chart_objects quiet || true
deploy_kustomize_objects quiet || true
objects_total=0
shopt -s nullglob
object_files=("$out"/objects/*.json)
shopt -u nullglob
if deploy_node; then
  if ((${#object_files[@]} == 0)); then
    bad "no rendered objects to validate"
  else
    validate_args=(--expect-command "$worker_entrypoint" --expect-port "$worker_port"
      --expect-liveness "$live_path" --expect-readiness "$ready_path"
      --yaml2json "$render" --summary "$out/kinds.txt" --dump-configs "$out/configs")
    [[ -n $config_keys ]] && validate_args+=(--config-keys "$config_keys")
    : >"$out/kinds.txt"
    mkdir -p "$out/configs"
    if node "$node_dir/validate.mjs" "${validate_args[@]}" "${object_files[@]}" | tee "$out/validate.log"; then
      objects_total=$(awk '{s += $2} END {print s + 0}' "$out/kinds.txt")
      ok "validated $objects_total objects in ${#object_files[@]} sets: $(sort "$out/kinds.txt" | awk '{c[$1] += $2} END {for (k in c) printf "%s %d, ", k, c[k]}' | sed 's/, $//')"
    else
      bad "object validation (above)"
    fi
  fi
fi

section "the worker loads every rendered configuration (pgq run, stopped after 3s)"
shopt -s nullglob
configs=("$out"/configs/*.json)
shopt -u nullglob
if [[ ! -x $pgq ]]; then
  missing "$pgq" "worker configs" "build it with ci/build"
elif ! need "worker configs" timeout openssl; then
  :
elif ((${#configs[@]} == 0)); then
  bad "worker configs: none were extracted from the rendered objects"
elif ! grep -qE '^[[:space:]]+run[[:space:]]' <<<"$("$pgq" --help 2>/dev/null)"; then
  bad "worker configs: $pgq --help lists no 'run' command"
else
  # The credential files exist (the worker reads them at load time) but lead nowhere: the
  # database moves to 127.0.0.1:1, which refuses at once.
  # The files lie as the chart mounts them under /etc/pgq (secrets/, tls/ca/, tls/client/).
  mounted=$out/mounted
  mkdir -p "$mounted/secrets" "$mounted/tls/ca" "$mounted/tls/client"
  printf 'not-a-password\n' >"$mounted/secrets/password"
  printf 'postgresql://pgq@127.0.0.1:1/app\n' >"$mounted/secrets/dsn"
  chmod 0600 "$mounted/secrets/password" "$mounted/secrets/dsn"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=pgq deploy test CA" \
    -keyout "$mounted/tls/client/tls.key" -out "$mounted/tls/ca/ca.crt" >/dev/null 2>&1
  cp "$mounted/tls/ca/ca.crt" "$mounted/tls/client/tls.crt"
  chmod 0600 "$mounted/tls/client/tls.key"
  for cfg in "${configs[@]}"; do
    name=$(basename "$cfg" .json)
    run_cfg=$out/configs/$name.run.yaml
    node "$node_dir/checks.mjs" worker-config "$cfg" "$run_cfg" "$mounted" "$((20000 + RANDOM % 10000))"
    rc=0
    timeout -s TERM -k 5 3 "$pgq" run --config "$run_cfg" >"$out/configs/$name.log" 2>&1 || rc=$?
    if [[ $rc -eq 2 ]] || grep -q 'configuration error' "$out/configs/$name.log"; then
      bad "pgq run refuses the config rendered for $name: $(grep -m1 'configuration error' "$out/configs/$name.log")"
    else
      ok "pgq run loads the config rendered for $name (exit $rc: it got past configuration)"
    fi
  done
fi

section "the migration Job's command line as rendered, against PostgreSQL (install, then again: no DDL)"
if [[ ! -x $pgq ]]; then
  missing "$pgq" "migration Job" "build it with ci/build"
elif [[ -z $admin_dsn ]]; then
  missing PGQ_TEST_DSN "migration Job" "start PostgreSQL with ci/lib/postgres.sh"
elif need "migration Job" psql && deploy_renderer && deploy_node; then
  # A chart-made Secret holding the test server's DSN and a queue schema of its own; the
  # Job's mounts are laid out under $out/job (/etc/pgq/... -> $out/job/etc/pgq/...).
  mig_schema="migjob_$RANDOM$RANDOM"
  deploy_at_exit psql "$admin_dsn" -X -q -c "DROP SCHEMA IF EXISTS $mig_schema CASCADE"
  cat >"$out/migration-values.yaml" <<YAML
database:
  secret:
    create: true
    dsn: "$admin_dsn"
config:
  queue:
    schema: $mig_schema
  entrypoints:
    demo.noop:
      handler:
        type: noop
YAML
  mig_ok=true
  "$render" template "$chart" -f "$out/migration-values.yaml" --name pgq --namespace jobs \
    --json "$out/migration-objects.json" >/dev/null 2>"$out/migration-render.log" || {
    bad "migration Job: rendering failed: $(tail -n 2 "$out/migration-render.log")"
    mig_ok=false
  }
  for run in installed current; do
    expect="installed the pgq schema"
    [[ $run == current ]] && expect="schema is current"
    $mig_ok || break
    rm -rf "$out/job"
    mapfile -t argv < <(node "$node_dir/checks.mjs" job-layout "$out/migration-objects.json" "$out/job")
    if [[ ${argv[0]:-} != pgq ]]; then
      bad "migration Job: unexpected command '${argv[*]:-}'"
      mig_ok=false
      break
    fi
    argv[0]=$pgq
    rc=0
    "${argv[@]}" >"$out/migration-$run.log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
      bad "migration Job: pgq ${argv[*]:1} exited $rc: $(tail -n 2 "$out/migration-$run.log")"
      mig_ok=false
    elif ! grep -q "$expect" "$out/migration-$run.log"; then
      bad "migration Job: expected '$expect', got: $(tail -n 2 "$out/migration-$run.log")"
      mig_ok=false
    else
      ok "migration Job: pgq ${argv[*]:1} -> $(tail -n 1 "$out/migration-$run.log")"
    fi
  done
  if $mig_ok; then
    if "$pgq" --dsn "$admin_dsn" --schema "$mig_schema" verify >"$out/migration-verify.log" 2>&1; then
      ok "migration Job: pgq verify finds every object in schema $mig_schema"
    else
      bad "migration Job: pgq verify: $(cat "$out/migration-verify.log")"
    fi
  fi
fi

echo
echo "objects validated: $objects_total"
deploy_finish
