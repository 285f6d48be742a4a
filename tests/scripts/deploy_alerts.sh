#!/usr/bin/env bash
# Deploy checks, monitoring: the chart's Prometheus rules and the kustomize component's
# (generated from them by tests/deploy/generate) pass `promtool check rules` and
# `promtool test rules` (tests/deploy/alerts_test.yaml), every alert has a firing and a quiet
# test case; the Grafana dashboard is well formed, its queries parse, and dashboard plus
# alerts use exactly the worker's metrics (tests/deploy/metrics.txt), every one of which the
# worker's sources register. By hand:
#
#   PGQ_BUILD_DIR=$PWD/build tests/scripts/deploy_alerts.sh
#
# Needs go, node + npm and promtool (prometheus); tests/deploy/lib.sh has the shared setup.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
deploy_init alerts

alert_tests=0
alert_count=0
section "Prometheus alerts (promtool check rules, promtool test rules)"
if deploy_renderer && deploy_node; then
  mkdir -p "$out/alerts/chart" "$out/alerts/kustomize"
  # The chart's rules as release pgq-worker in namespace pgq: alerts select
  # job="pgq-worker", namespace="pgq", as the test series do.
  "$render" template "$chart" -f "$chart/ci/minimal-values.yaml" --name pgq-worker --namespace pgq \
    --set metrics.prometheusRule.enabled=true --set autoscaling.keda.enabled=true \
    --set prune.cronJob.enabled=true "${crd_api_versions[@]}" \
    --json "$out/rules-chart-objects.json" >/dev/null
  "$render" yaml2json operator-manifests/components/prometheus/prometheusrule.yaml >"$out/rules-kustomize-objects.json"
  extract='const fs=require("fs");const a=JSON.parse(fs.readFileSync(process.argv[1]));const r=a.find(x=>x.object.kind==="PrometheusRule");fs.writeFileSync(process.argv[2],JSON.stringify({groups:r.object.spec.groups},null,1))'
  node -e "$extract" "$out/rules-chart-objects.json" "$out/alerts/chart/rules.yaml"
  # The kustomize rules as an overlay with prometheus and keda has them: the component's
  # groups plus the group the keda component's patch appends.
  # (the patch is a YAML list: wrapped in a mapping for yaml2json)
  { echo "ops:"; sed 's/^/  /' operator-manifests/components/keda/prometheusrule-patch.yaml; } |
    "$render" yaml2json >"$out/rules-keda-patch.json"
  node -e 'const fs=require("fs");const a=JSON.parse(fs.readFileSync(process.argv[1]));const p=JSON.parse(fs.readFileSync(process.argv[2]));const r=a.find(x=>x.object.kind==="PrometheusRule");const groups=r.object.spec.groups.concat(p[0].object.ops.filter(op=>op.op==="add"&&op.path==="/spec/groups/-").map(op=>op.value));fs.writeFileSync(process.argv[3],JSON.stringify({groups},null,1))' \
    "$out/rules-kustomize-objects.json" "$out/rules-keda-patch.json" "$out/alerts/kustomize/rules.yaml"
  # The prune CronJob's alert has its own test file (the kustomize tree has no CronJob); the
  # coverage check reads both.
  "$render" yaml2json tests/deploy/alerts_test.yaml tests/deploy/alerts_cronjob_test.yaml |
    node -e 'const a=JSON.parse(require("fs").readFileSync(0));a[0].object.tests.push(...a[1].object.tests);console.log(JSON.stringify([a[0]]))' \
      >"$out/alerts-test.json"
  if node "$node_dir/checks.mjs" alert-tests "$out/alerts/chart/rules.yaml" "$out/alerts-test.json" | tee "$out/alert-coverage.log"; then
    ok "alert tests: $(tail -n 1 "$out/alert-coverage.log" | sed 's/^ *//')"
    alert_count=$(sed -nE 's/.*every one of ([0-9]+) alerts.*/\1/p' "$out/alert-coverage.log")
    alert_tests=$(sed -nE 's/.*\(([0-9]+) alert evaluations.*/\1/p' "$out/alert-coverage.log")
  else
    bad "alert test coverage (above)"
  fi
  if need "promtool check/test rules" promtool; then
    for variant in chart kustomize; do
      cp tests/deploy/alerts_test.yaml "$out/alerts/$variant/alerts_test.yaml"
      if run_logged "promtool-check-$variant" promtool check rules "$out/alerts/$variant/rules.yaml"; then
        ok "promtool check rules ($variant): $(grep -oE '[0-9]+ rules found' "$out/promtool-check-$variant.log")"
      else
        bad "promtool check rules ($variant)"
      fi
      tests=(alerts_test.yaml)
      if [[ $variant == chart ]]; then
        cp tests/deploy/alerts_cronjob_test.yaml "$out/alerts/$variant/"
        tests+=(alerts_cronjob_test.yaml)
      fi
      if run_logged "promtool-test-$variant" bash -c "cd '$out/alerts/$variant' && promtool test rules ${tests[*]}"; then
        ok "promtool test rules ($variant): $alert_tests alert evaluations, every alert firing and quiet"
      else
        bad "promtool test rules ($variant)"
      fi
    done
  fi
fi

section "Grafana dashboard"
dash=$chart/dashboards/pgq-worker.json
if deploy_node && [[ -f $out/alerts/chart/rules.yaml ]]; then
  if node "$node_dir/checks.mjs" dashboard "$dash" tests/deploy/metrics.txt "$out/alerts/chart/rules.yaml" \
    "$out/dashboard-queries.json" | tee "$out/dashboard.log"; then
    ok "dashboard: $(tail -n 1 "$out/dashboard.log" | sed 's/^ *//')"
    if need "dashboard PromQL" promtool; then
      if run_logged promtool-dashboard promtool check rules "$out/dashboard-queries.json"; then
        ok "promtool parses every dashboard query ($(grep -oE '[0-9]+ rules found' "$out/promtool-dashboard.log"))"
      else
        bad "dashboard queries are not valid PromQL"
      fi
    fi
  else
    bad "dashboard checks (above)"
  fi
elif deploy_node; then
  bad "dashboard: the chart's rules were not rendered (above)"
fi

section "the worker's sources register every metric of tests/deploy/metrics.txt"
miss=()
while read -r metric _; do
  grep -rqF "\"$metric\"" worker src || miss+=("$metric")
done < <(grep -vE '^\s*(#|$)' tests/deploy/metrics.txt)
if ((${#miss[@]})); then
  bad "metrics in tests/deploy/metrics.txt not found in the worker sources: ${miss[*]}"
else
  ok "every metric of tests/deploy/metrics.txt ($(grep -cvE '^\s*(#|$)' tests/deploy/metrics.txt)) is registered in the worker sources"
fi

echo
echo "alerts: ${alert_count:-0}, promtool alert evaluations: ${alert_tests:-0} (chart and kustomize rules)"
deploy_finish
