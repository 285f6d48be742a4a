#!/usr/bin/env bash
# Deploy checks, the Helm chart (helm/pgq-worker) on its own: the renderer's own checks,
# the chart's unit tests, every ci/*-values.yaml scenario, the defaults-only and negative
# scenarios (each must be refused with its message), values.yaml against values.schema.json,
# and yamllint over the deploy YAML. By hand:
#
#   source ci/lib/postgres.sh && pgq_pg_start && PGQ_BUILD_DIR=$PWD/build tests/scripts/deploy_chart.sh
#
# Helm is not packaged for Debian, so the chart is rendered by tests/deploy/render, a small Go
# program on Debian's Go toolchain and sprig library (see its main.go); when `helm` is
# installed, `helm lint --strict` and `helm template` run as well. Shared setup, caching and
# CI strictness: tests/deploy/lib.sh. Needs go, node + npm, yamllint.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
deploy_init chart
scenarios=()

section "chart renderer (tests/deploy/render, Go + sprig in GOPATH mode)"
if need "the chart renderer's checks" go gofmt; then
  unformatted=$(gofmt -l tests/deploy/render)
  if [[ -z $unformatted ]]; then ok "gofmt: renderer sources formatted"; else bad "gofmt: unformatted: $unformatted"; fi
  if run_logged go-vet "${go_env[@]}" go vet ./tests/deploy/render; then ok "go vet"; else bad "go vet"; fi
  if run_logged go-test "${go_env[@]}" go test ./tests/deploy/render; then
    ok "go test: renderer behaves like Helm (coalesce, --set, paths, include/tpl/required/fail, schema, partials, generate)"
  else
    bad "go test of the renderer"
  fi
fi
deploy_renderer || true

if deploy_renderer; then
  section "chart unit tests (helm-unittest style: $chart/unittests)"
  if run_logged unittest "$render" unittest "$chart"; then
    ok "$(tail -n 1 "$out/unittest.log")"
  else
    bad "chart unit tests"
  fi

  section "chart scenarios ($chart/ci/*-values.yaml)"
  deploy_chart_objects report
  # With the chart defaults alone, rendering must stop with a clear message.
  if "$render" template "$chart" --name pgq >"$out/defaults.log" 2>&1; then
    bad "rendering with the defaults only must fail (no credentials, no host)"
  elif grep -q "database credentials are required" "$out/defaults.log"; then
    ok "defaults only: refused with 'database credentials are required'"
  else
    bad "defaults only: unexpected error: $(tail -n 1 "$out/defaults.log")"
  fi

  # A Deployment's selector is immutable: an upgrade from the previous release that changed it
  # would be rejected by the API server, and the rollout would stall.
  source tests/scripts/lib/previous_release.sh
  section "immutable selectors: unchanged since pgq $previous_release_version's chart"
  previous=$out/previous-chart
  mkdir -p "$previous"
  if ! git cat-file -e "$previous_release_commit^{commit}" 2>/dev/null; then
    bad "commit $previous_release_commit (pgq $previous_release_version) is not in this clone"
  else
    git archive "$previous_release_commit" helm/pgq-worker | tar -x -C "$previous"
    compared=0
    for values in "$previous"/helm/pgq-worker/ci/*-values.yaml; do
      name=$(basename "$values")
      [[ -f $chart/ci/$name ]] || continue
      "$render" template "$previous/helm/pgq-worker" -f "$values" --name pgq --namespace jobs \
        "${crd_api_versions[@]}" >"$out/previous-$name" 2>&1 || { bad "the previous chart does not render $name"; continue; }
      "$render" template "$chart" -f "$chart/ci/$name" --name pgq --namespace jobs \
        "${crd_api_versions[@]}" >"$out/current-$name" 2>&1 || { bad "this chart does not render $name"; continue; }
      selectors() { # "KIND/NAME selector-json" per workload
        "$render" yaml2json "$1" | node -e '
          let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            for (const entry of JSON.parse(s)) {
              const o = entry && entry.object;
              if (o && ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind)) {
                const sel = o.spec.selector || {};
                const keys = Object.keys(sel.matchLabels || {}).sort();
                console.log(`${o.kind}/${o.metadata.name} ` +
                  JSON.stringify(keys.map(k => [k, sel.matchLabels[k]])) + JSON.stringify(sel.matchExpressions || []));
              }
            }
          });'
      }
      while read -r workload selector; do
        now=$(selectors "$out/current-$name" | awk -v w="$workload" '$1 == w {print $2}')
        [[ -z $now ]] && continue # gone in this release (renamed workloads are new objects)
        compared=$((compared + 1))
        [[ $now == "$selector" ]] || bad "$name: $workload's selector changed: $selector -> $now"
      done < <(selectors "$out/previous-$name")
    done
    ((compared > 0)) && ok "immutable selectors: $compared workloads of the ci scenarios keep pgq $previous_release_version's selector" ||
      bad "immutable selectors: no workload was compared"
  fi

  section "negative scenarios (tests/deploy/negative, each over ci/minimal-values.yaml)"
  mkdir -p "$out/negative"
  for values in tests/deploy/negative/*.yaml; do
    log=$out/negative/$(basename "$values").log
    expect=$(sed -nE 's/^# expect: (.*)$/\1/p' "$values" | head -n 1)
    if [[ -z $expect ]]; then
      bad "$values has no '# expect:' line"
    elif "$render" template "$chart" -f "$chart/ci/minimal-values.yaml" -f "$values" --strict "${crd_api_versions[@]}" \
      --name pgq --namespace jobs >"$log" 2>&1; then
      bad "$values rendered, but must fail with: $expect"
    elif grep -qF -- "$expect" "$log"; then
      ok "$(basename "$values"): refused with '$expect'"
    else
      bad "$(basename "$values"): failed, but not with '$expect': $(grep -m1 Error "$log")"
    fi
  done

  # helm is not a prerequisite (no Debian package): an extra check where it is installed.
  if have helm; then
    section "helm (installed): lint --strict and template"
    for values in "$chart"/ci/*-values.yaml; do
      if run_logged "helm-lint-$(basename "$values")" helm lint --strict "$chart" -f "$values" "${crd_api_versions[@]}" &&
        run_logged "helm-template-$(basename "$values")" helm template pgq "$chart" -n jobs -f "$values" "${crd_api_versions[@]}"; then
        ok "helm lint --strict and helm template: $values"
      else
        bad "helm: $values"
      fi
    done
  fi
fi

section "values.yaml documentation and values.schema.json (keys both ways, types of defaults, descriptions)"
if deploy_renderer && deploy_node; then
  "$render" yaml2json "$chart/values.yaml" >"$out/values.json"
  if node "$node_dir/checks.mjs" values "$out/values.json" "$chart/values.schema.json" "$chart/values.yaml" | tee "$out/values-check.log"; then
    ok "values: $(tail -n 1 "$out/values-check.log" | sed 's/^ *//')"
  else
    bad "values.yaml / values.schema.json (above)"
  fi
fi

section "yamllint (.yamllint; chart templates excluded)"
if need yamllint yamllint; then
  if run_logged yamllint yamllint --strict -c .yamllint .yamllint helm operator-manifests tests/deploy; then
    n=$(find helm operator-manifests tests/deploy -name '*.yaml' -not -path '*/templates/*' | wc -l)
    ok "yamllint --strict: $n YAML files"
  else
    bad "yamllint"
  fi
fi

echo
echo "chart scenarios rendered: ${#scenarios[@]} (${scenarios[*]:-none})"
deploy_finish
