#!/usr/bin/env bash
# Deploy checks, every documented combination: the chart rendered for each ci/*-values.yaml and
# for each combination of worker groups x autoscaler (none, HPA, KEDA, KEDA down to zero) x
# database TLS x credential (password straight, password through a PgBouncer split with
# LISTEN straight to PostgreSQL, a DSN) x NetworkPolicy egress (open, closed) x migration
# (hook, plain Job) x prune CronJob x schedules, with the monitoring (none, ServiceMonitor,
# PodMonitor, each with the alerts) and global.imageRegistry rotated over them; every
# kustomize overlay alone and with each component the docs say can be added. Every set is
# checked by tests/deploy/validate.mjs (Kubernetes, KEDA and Prometheus Operator schemas,
# references, secure defaults, worker contract) and tests/deploy/matrix.mjs (selectors match
# the worker pods and nothing else, NetworkPolicy ports of every endpoint, KEDA, prune,
# alerts, spread, groups), with marker secrets seeded in the values that must not appear
# outside a Secret. Combinations that cannot work must be refused at render time with their
# message. The documentation's commands carry no password. By hand:
#
#   PGQ_BUILD_DIR=$PWD/build tests/scripts/deploy_matrix.sh
#
# PGQ_MATRIX_ROOT=DIR checks the chart, kustomize tree and docs of another checkout (e.g. an
# older commit: `git worktree add /tmp/old COMMIT`), with this checkout's checks.
# Needs go, node + npm, kubectl; tests/deploy/lib.sh has the shared setup.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
deploy_init matrix

subject=${PGQ_MATRIX_ROOT:-$root}
subject=$(cd "$subject" && pwd)
mchart=$subject/helm/pgq-worker
[[ $subject == "$root" ]] || echo "checking the chart, kustomize tree and docs of $subject"
api_versions=("${crd_api_versions[@]}")
sets=$out/sets
notes=$out/notes
mkdir -p "$sets" "$notes" "$out/values"

# Marker secrets: seeded into the values, looked for everywhere but in Secrets.
marker_pw=pgq-marker-pw-5f1c9e
marker_dsn=pgq-marker-dsn-7b2d41
marker_token=pgq-marker-token-c3a880
printf '%s\n' "$marker_pw" "$marker_dsn" "$marker_token" >"$out/markers.txt"

# values_for G A T C N M R S X I: one combination's values (YAML on stdout).
values_for() {
  local g=$1 a=$2 t=$3 c=$4 n=$5 m=$6 r=$7 s=$8 x=$9 i=${10}
  echo "database:"
  echo "  secret:"
  echo "    create: true"
  if [[ $c == dsn ]]; then
    echo "    dsn: \"postgresql://pgq:$marker_dsn@pgbouncer.db.svc.cluster.local:6543/app\""
  else
    echo "    password: \"$marker_pw\""
    echo "    annotations: {note: kept}"
  fi
  [[ $i == mirror ]] && printf 'global:\n  imageRegistry: mirror.example.internal\n'
  echo "config:"
  echo "  database:"
  echo "    application_name: pgq-matrix"
  if [[ $c != dsn ]]; then
    echo "    host: postgres.db.svc.cluster.local"
    echo "    dbname: app"
    echo "    user: pgq"
  fi
  [[ $t == tls ]] && echo "    sslmode: verify-full"
  if [[ $c == split ]]; then
    echo "    port: 6432"
    echo "    prepared_statements: false"
    echo "    listener: {host: postgres-direct.db.svc.cluster.local, port: 5432}"
  fi
  local eps sched
  eps="{demo.noop: {handler: {type: noop}}}"
  sched="{nightly: {cron: \"0 3 * * *\", handler: {type: noop}}}"
  if [[ $g == single ]]; then
    echo "  entrypoints: $eps"
    [[ $s == sched ]] && echo "  schedules: $sched"
  fi
  if [[ $g == groups ]]; then
    echo "workers:"
    echo "  fast:"
    echo "    config:"
    echo "      entrypoints: {fast.job: {handler: {type: noop}}}"
    [[ $s == sched ]] && echo "      schedules: $sched"
    echo "  slow:"
    echo "    config:"
    echo "      entrypoints: {slow.job: {handler: {type: noop}}}"
  fi
  echo "autoscaling:"
  case $a in
    hpa) echo "  hpa: {enabled: true}" ;;
    keda) echo "  keda: {enabled: true, minReplicaCount: 1}" ;;
    keda0) echo "  keda: {enabled: true, minReplicaCount: 0}" ;;
    none) echo "  hpa: {enabled: false}" ;;
  esac
  echo "networkPolicy:"
  echo "  enabled: true"
  [[ $n == closed ]] && echo "  allowExternalEgress: false"
  echo "migrations:"
  echo "  mode: $m"
  if [[ $r == prune ]]; then
    echo "prune:"
    echo "  cronJob: {enabled: true}"
  fi
  if [[ $x != none ]]; then
    echo "metrics:"
    if [[ $x == servicemonitor ]]; then echo "  serviceMonitor: {enabled: true}"; else echo "  podMonitor: {enabled: true}"; fi
    echo "  prometheusRule: {enabled: true}"
  fi
}

# TLS settings live under database.tls (files) and autoscaling.keda.tls (the KEDA operator's
# own trust); a second values file keeps values_for readable.
tls_values() {
  local a=$1
  echo "database:"
  echo "  tls:"
  echo "    ca: {configMap: db-ca}"
  if [[ $a == keda* ]]; then
    echo "autoscaling:"
    echo "  keda:"
    echo "    tls: {caFile: /etc/keda-certs/pgq/ca.crt}"
  fi
}

render_set() {
  local name=$1
  shift
  "$render" template "$mchart" "$@" --strict --name pgq --namespace jobs "${api_versions[@]}" \
    --json "$sets/$name.json" --notes "$notes/$name.txt" >"$out/values/$name.log" 2>&1
}

combos=0
refused=0
if deploy_renderer && deploy_node; then
  section "chart: ci/*-values.yaml"
  for values in "$mchart"/ci/*-values.yaml; do
    name=ci-$(basename "$values" -values.yaml)
    if render_set "$name" -f "$values"; then
      ok "render $name"
    else
      bad "render $name: $(grep -m1 -i error "$out/values/$name.log")"
    fi
  done

  section "chart: every documented combination"
  k=0
  monitors=(none servicemonitor podmonitor)
  for g in single groups; do
    for a in none hpa keda keda0; do
      for t in plain tls; do
        for c in password split dsn; do
          for n in open closed; do
            for m in hook job; do
              for r in noprune prune; do
                for s in nosched sched; do
                  x=${monitors[$((k % 3))]}
                  i=$([[ $((k / 3 % 2)) -eq 0 ]] && echo docker || echo mirror)
                  k=$((k + 1))
                  name=$g-$a-$t-$c-$n-$m-$r-$s-$x-$i
                  values_for "$g" "$a" "$t" "$c" "$n" "$m" "$r" "$s" "$x" "$i" >"$out/values/$name.yaml"
                  files=(-f "$out/values/$name.yaml")
                  if [[ $t == tls ]]; then
                    tls_values "$a" >"$out/values/$name-tls.yaml"
                    files+=(-f "$out/values/$name-tls.yaml")
                  fi
                  combos=$((combos + 1))
                  expect=""
                  [[ $s == sched && $a == keda0 ]] && expect="scale to zero"
                  if render_set "$name" "${files[@]}"; then
                    if [[ -n $expect ]]; then
                      bad "$name rendered, but must be refused ($expect)"
                    elif [[ $i == mirror ]] && grep -q '"image": *"' "$sets/$name.json" &&
                      grep -o '"image": *"[^"]*"' "$sets/$name.json" | grep -vq 'mirror.example.internal/'; then
                      bad "$name: global.imageRegistry is not used by every image"
                    fi
                  elif [[ -n $expect ]] && grep -q "$expect" "$out/values/$name.log"; then
                    refused=$((refused + 1))
                    rm -f "$sets/$name.json" "$notes/$name.txt"
                  else
                    rm -f "$sets/$name.json" "$notes/$name.txt"
                    bad "render $name: $(grep -m1 -i error "$out/values/$name.log")"
                  fi
                done
              done
            done
          done
        done
      done
    done
  done
  ok "rendered $combos combinations ($refused refused as documented: schedules with scale to zero)"

  section "chart: refusals at render time"
  base=$out/values/refuse-base.yaml
  values_for single keda plain password open hook noprune nosched none docker >"$base"
  # refuse WHAT MESSAGE ARGS...: rendering over $base with ARGS (and the CRDs' API versions
  # unless $crds is "no") must stop with MESSAGE.
  crds=yes
  refuse() {
    local what=$1 expect=$2 caps=()
    shift 2
    [[ $crds == no ]] || caps=("${api_versions[@]}")
    if "$render" template "$mchart" -f "$base" "$@" --strict --name pgq --namespace jobs "${caps[@]}" >"$out/refuse.log" 2>&1; then
      bad "$what: rendered, but must be refused with '$expect'"
    elif grep -qF -- "$expect" "$out/refuse.log"; then
      ok "$what: refused with '$expect'"
    else
      bad "$what: refused, but not with '$expect': $(grep -m1 -i error "$out/refuse.log")"
    fi
  }
  refuse "KEDA with a private CA and no autoscaling.keda.tls" "autoscaling.keda.tls" \
    --set database.tls.ca.configMap=db-ca --set config.database.sslmode=verify-full
  refuse "KEDA with schedules only" "config.entrypoints" \
    --set-string 'config.schedules.nightly.cron=0 3 * * *' --set config.schedules.nightly.handler.type=noop \
    --set config.entrypoints=null --set autoscaling.keda.minReplicaCount=1
  crds=no
  refuse "ServiceMonitor without the Prometheus Operator's CRDs" "monitoring.coreos.com/v1" \
    --set autoscaling.keda.enabled=false --set metrics.serviceMonitor.enabled=true
  refuse "KEDA without KEDA's CRDs" "keda.sh/v1alpha1"
  crds=yes
fi

section "kustomize: every overlay, alone and with each component"
kustomize_sets=()
if ! have kubectl; then
  missing kubectl "kustomize overlays" "install kubectl, which has kustomize built in"
elif deploy_renderer; then
  mkdir -p "$out/k"
  for dir in "$subject"/operator-manifests/overlays/*/; do
    overlay=$(basename "$dir")
    present=$(sed -n '/^components:/,/^[a-z]/p' "$dir/kustomization.yaml")
    adds=(none)
    for comp in "$subject"/operator-manifests/components/*/; do
      comp=$(basename "$comp")
      grep -q "components/$comp\$" <<<"$present" && continue
      [[ $comp == migration-credentials ]] && continue
      # overlays/groups: fast/ and slow/ each bring their own replicas, autoscaling and
      # ConfigMap (pgq-worker-fast, -slow), so the hpa, keda and migration components, which
      # patch or name the base's pgq-worker, do not apply (docs/deployment.md, "Worker groups").
      [[ $overlay == groups && $comp =~ ^(hpa|keda|migration)$ ]] && continue
      [[ $comp == hpa ]] && grep -q "components/keda$" <<<"$present" && continue
      [[ $comp == keda ]] && grep -q "components/hpa$" <<<"$present" && continue
      adds+=("$comp")
    done
    grep -q "components/migration$" <<<"$present" && adds+=(migration-credentials)
    [[ $overlay == groups ]] || adds+=(migration+migration-credentials)
    for add in "${adds[@]}"; do
      name=k-$overlay-${add//+/-}
      [[ $add == migration+migration-credentials ]] && grep -q "components/migration$" <<<"$present" && continue
      d=$out/k/$name
      mkdir -p "$d"
      rel=$(realpath --relative-to="$d" "$subject/operator-manifests")
      {
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "resources:"
        echo "  - $rel/overlays/$overlay"
        if [[ $add != none ]]; then
          echo "components:"
          for comp in ${add//+/ }; do echo "  - $rel/components/$comp"; done
        fi
      } >"$d/kustomization.yaml"
      if ! kubectl kustomize "$d" >"$d/out.yaml" 2>"$d/err.log"; then
        bad "kubectl kustomize $overlay + $add: $(head -n 1 "$d/err.log")"
      elif "$render" yaml2json "$d/out.yaml" >"$sets/$name.json"; then
        kustomize_sets+=("$sets/$name.json")
      else
        bad "kustomize output of $overlay + $add is not valid YAML"
      fi
    done
  done
  ok "built ${#kustomize_sets[@]} kustomize sets"
  prod=$sets/k-production-none.json
  if [[ -f $prod ]]; then
    for kind in NetworkPolicy Job; do
      if node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1])).map(i=>i.object);process.exit(o.some(x=>x.kind===process.argv[2])?0:1)' "$prod" "$kind"; then
        ok "overlays/production has a $kind"
      else
        bad "overlays/production has no $kind"
      fi
    done
  fi
fi

section "validation of every set (schemas, references, security, worker contract; cross-object rules; no secrets)"
shopt -s nullglob
all_sets=("$sets"/*.json)
shopt -u nullglob
if ((${#all_sets[@]} > 0)) && deploy_node; then
  cp tests/deploy/matrix.mjs "$node_dir/"
  : >"$out/kinds.txt"
  if node "$node_dir/validate.mjs" --expect-command "$worker_entrypoint" --expect-port "$worker_port" \
    --expect-liveness "$live_path" --expect-readiness "$ready_path" --yaml2json "$render" \
    --summary "$out/kinds.txt" "${all_sets[@]}" >"$out/validate.log" 2>&1; then
    ok "validate.mjs: $(tail -n 1 "$out/validate.log" | sed 's/^ *//')"
  else
    grep -A 400 '^FAILED' "$out/validate.log" | head -n 80 || true
    bad "validate.mjs: $(grep -m1 '^FAILED' "$out/validate.log")"
  fi
  chart_sets=()
  for f in "${all_sets[@]}"; do [[ $(basename "$f") == k-* ]] || chart_sets+=("$f"); done
  # ci/existing-secret-values.yaml sets autoscaling.keda.filterEntrypoints: false on purpose.
  if node "$node_dir/matrix.mjs" --yaml2json "$render" --markers "$out/markers.txt" --notes-dir "$notes" \
    --unfiltered-sets ci-existing-secret \
    "${chart_sets[@]}" >"$out/matrix-chart.log" 2>&1; then
    ok "matrix.mjs (chart): $(tail -n 1 "$out/matrix-chart.log" | sed 's/^ *//')"
  else
    grep -A 400 '^FAILED' "$out/matrix-chart.log" | awk '!seen[$0]++' | head -n 80 || true
    bad "matrix.mjs (chart): $(grep -m1 '^FAILED' "$out/matrix-chart.log")"
  fi
  # The no-secrets check itself: a set leaking a marker (an annotation, an env value) must be
  # caught.
  values_for single none plain password open hook noprune nosched none docker >"$out/values/leak.yaml"
  printf 'podAnnotations: {leak: "%s"}\nextraEnvVars: [{name: API_TOKEN, value: "%s"}]\n' \
    "$marker_token" "$marker_token" >>"$out/values/leak.yaml"
  if render_set leak -f "$out/values/leak.yaml" &&
    ! node "$node_dir/matrix.mjs" --yaml2json "$render" --markers "$out/markers.txt" "$sets/leak.json" >"$out/leak.log" 2>&1 &&
    grep -q "annotations: holds the secret marker" "$out/leak.log" && grep -q "env: holds the secret marker" "$out/leak.log"; then
    ok "the no-secrets check catches a marker in an annotation and in an env value"
  else
    bad "the no-secrets check missed a planted marker: $(tail -n 3 "$out/leak.log" 2>/dev/null)"
  fi
  rm -f "$sets/leak.json" "$notes/leak.txt"
  if ((${#kustomize_sets[@]} > 0)); then
    # The KEDA alerts come with the keda component (a patch of the prometheus component's
    # PrometheusRule), so a kustomize set carries them only with KEDA, as the chart does.
    if node "$node_dir/matrix.mjs" --yaml2json "$render" --namespace-alerts \
      "${kustomize_sets[@]}" >"$out/matrix-k.log" 2>&1; then
      ok "matrix.mjs (kustomize): $(tail -n 1 "$out/matrix-k.log" | sed 's/^ *//')"
    else
      grep -A 400 '^FAILED' "$out/matrix-k.log" | head -n 60 || true
      bad "matrix.mjs (kustomize): $(grep -m1 '^FAILED' "$out/matrix-k.log")"
    fi
  fi
else
  bad "no rendered sets to validate"
fi

section "documentation: no password on a command line, runbooks without wget, every alert in the table"
docs=("$subject/helm/pgq-worker/README.md" "$subject/docs/deployment.md" "$subject/helm/pgq-worker/templates/NOTES.txt")
while IFS= read -r f; do docs+=("$f"); done < <(find "$subject/operator-manifests" -name '*.yaml')
if hits=$(grep -nE -- '--from-literal=password|--dsn[ =]"?postgres|://[A-Za-z_]+:[A-Za-z_]*PASSWORD' "${docs[@]}"); then
  bad "a password on a command line: ${hits//$subject\//}"
else
  ok "no --from-literal=password, no --dsn with a password in the chart README, NOTES.txt, docs/deployment.md, operator-manifests"
fi
if hits=$(grep -nw wget "$subject/docs/deployment.md" "$subject/helm/pgq-worker/templates/prometheusrule.yaml"); then
  bad "wget (not in the image) in a runbook: ${hits//$subject\//}"
else
  ok "runbooks use no wget"
fi
if grep -q 'pgq-db-ca' "$subject/docs/deployment.md"; then
  ok "docs/deployment.md's production recipe creates ConfigMap pgq-db-ca"
else
  bad "docs/deployment.md's production recipe does not create ConfigMap pgq-db-ca (a non-optional volume: pods hang in ContainerCreating)"
fi
if ((${#all_sets[@]} > 0)); then
  node -e '
    const fs = require("fs");
    const names = new Set();
    for (const f of process.argv.slice(1)) {
      for (const { object: o } of JSON.parse(fs.readFileSync(f))) {
        if (o.kind !== "PrometheusRule") continue;
        for (const g of o.spec.groups ?? []) for (const r of g.rules ?? []) if (r.alert) names.add(r.alert);
      }
    }
    console.log([...names].sort().join("\n"));' "${all_sets[@]}" >"$out/alerts.txt"
  undocumented=()
  while read -r alert; do
    grep -q "^| \[\`$alert\`\]" "$subject/docs/deployment.md" || undocumented+=("$alert")
  done <"$out/alerts.txt"
  if ((${#undocumented[@]} == 0)); then
    ok "docs/deployment.md's alerts table lists all $(wc -l <"$out/alerts.txt") alerts the sets render"
  else
    bad "docs/deployment.md's alerts table does not list: ${undocumented[*]}"
  fi
fi

echo
objects=$(awk '{s += $2} END {print s + 0}' "$out/kinds.txt" 2>/dev/null || echo 0)
echo "matrix: ${#all_sets[@]} rendered sets ($combos chart combinations, $refused refused as documented; ${#kustomize_sets[@]} kustomize), $objects objects"
deploy_finish
