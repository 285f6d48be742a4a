#!/usr/bin/env bash
# Deploy checks, the kustomize tree (operator-manifests): base, every overlay and the hpa
# component over dev build with `kubectl kustomize` and give valid YAML; the files generated
# from the chart (the Grafana dashboard and the PrometheusRule of the components) are what
# tests/deploy/generate writes. The objects themselves are validated by deploy_contract.sh,
# the rules by deploy_alerts.sh. By hand:
#
#   PGQ_BUILD_DIR=$PWD/build tests/scripts/deploy_kustomize.sh
#
# Needs kubectl (with its built-in kustomize) and go; tests/deploy/lib.sh has the shared setup.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
deploy_init kustomize

section "kustomize (operator-manifests)"
deploy_kustomize_objects report || true

section "generated files (tests/deploy/generate --check: one source in the chart, copies in operator-manifests)"
if deploy_renderer; then
  if "$render" generate --check "$root" >"$out/generate.log" 2>&1; then
    while read -r line; do ok "generated file up to date: $line"; done < <(sed -n 's/^up to date: //p' "$out/generate.log")
  else
    sed 's/^/      /' "$out/generate.log"
    bad "generated files are out of date: run tests/deploy/generate and commit the result"
  fi
fi

deploy_finish
