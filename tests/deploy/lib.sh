# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables below are for the scripts that source this file
# Shared setup of the deploy checks, tests/scripts/deploy_*.sh (each run by ci/test from the
# repository root with PGQ_BUILD_DIR and PGQ_TEST_DSN). A script does:
#
#   set -euo pipefail
#   source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
#   deploy_init NAME          cd to the repository, make $out, set the EXIT trap
#   ...checks...
#   deploy_finish             print the summary; exit status 1 when a check failed
#
# Helpers: section TITLE; ok/bad/skip MESSAGE; missing TOOL WHAT [HOW] (a required tool is
# absent: a failure under CI=true, a skip otherwise); need WHAT TOOL... (0 when every tool is there,
# else `missing` and 1); have TOOL; is_ci; run_logged NAME CMD... (output kept in
# $out/NAME.log, its tail shown on failure); deploy_at_exit CMD... (run on exit).
#
# Expensive things are built once and cached under $work, shared by the scripts of a run
# and by later runs: deploy_renderer (the chart renderer $render, keyed by a hash of its
# sources and the Go version), deploy_node (the npm packages of tests/deploy/package-lock.json
# in $node_dir, keyed by the lockfile's hash). deploy_chart_objects and
# deploy_kustomize_objects render the chart's ci/*-values.yaml scenarios and build the
# kustomize overlays into $out/objects/{chart,kustomize}-NAME.json.
#
# Environment: PGQ_BUILD_DIR (default build; the built worker is $PGQ_BUILD_DIR/worker/pgq),
# PGQ_DEPLOY_CACHE (default $PGQ_BUILD_DIR/deploy: renderer, npm packages, Go and npm caches,
# and the outputs of failed runs), PGQ_TEST_DSN (a throwaway server, ci/lib/postgres.sh),
# CI=true (strict: a missing prerequisite fails, never skips).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${PGQ_BUILD_DIR:-$root/build}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
work=${PGQ_DEPLOY_CACHE:-$build_dir/deploy}
[[ $work == /* ]] || work=$root/$work
chart=helm/pgq-worker
render=$work/bin/pgq-render
node_dir=$work/node
pgq=$build_dir/worker/pgq
admin_dsn=${PGQ_TEST_DSN:-}
go_env=(env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/go-cache" GOFLAGS=)

# The worker's contract, shared by the chart, kustomize and the image.
# The CRDs a cluster serves for the chart's optional objects (the chart refuses a
# ServiceMonitor, PodMonitor, PrometheusRule or ScaledObject without them), as
# `helm template --api-versions` passes them.
crd_api_versions=(--api-versions monitoring.coreos.com/v1 --api-versions keda.sh/v1alpha1)

worker_entrypoint="pgq run --config /etc/pgq/config.yaml"
worker_port=9090
live_path=/livez
ready_path=/readyz
example=config/worker.example.yaml

passed=0
failed=0
skipped=0
failures=()
skips=()
at_exit=()
started=$SECONDS

is_ci() {
  case ${CI:-} in
    true | TRUE | True | 1 | yes) return 0 ;;
  esac
  return 1
}
have() { command -v "$1" >/dev/null 2>&1; }

section() {
  echo
  echo "== $* =="
}
ok() {
  passed=$((passed + 1))
  echo "ok    $*"
}
bad() {
  failed=$((failed + 1))
  failures+=("$*")
  echo "FAIL  $*"
}
skip() {
  skipped=$((skipped + 1))
  skips+=("$*")
  echo "SKIP  $*"
}
# missing TOOL WHAT [HOW]: a required tool (or input) is absent; HOW says how to get it.
missing() {
  local how=${3:-run ci/deps}
  if is_ci; then
    bad "$2: $1 is not available ($how)"
  else
    skip "$2: $1 is not available ($how; under CI=true this fails)"
  fi
}
# need WHAT TOOL...: every TOOL is installed, or report the first absent one for WHAT.
need() {
  local what=$1 tool
  shift
  for tool in "$@"; do
    if ! have "$tool"; then
      missing "$tool" "$what"
      return 1
    fi
  done
}
# run_logged NAME CMD...: run a command, keep its output in $out/NAME.log, show it on failure.
run_logged() {
  local name=$1
  shift
  if "$@" >"$out/$name.log" 2>&1; then
    return 0
  fi
  sed 's/^/      /' "$out/$name.log" | tail -n 60
  return 1
}
deploy_at_exit() { at_exit+=("$(printf '%q ' "$@")"); }

_deploy_on_exit() {
  local rc=$? cmd
  for cmd in "${at_exit[@]}"; do
    eval "$cmd" >/dev/null 2>&1 || true
  done
  if [[ $rc -eq 0 ]]; then
    rm -rf "$out"
    [[ $(readlink "$work/last-$deploy_name" 2>/dev/null) != "$out" ]] || rm -f "$work/last-$deploy_name"
  else
    echo "outputs kept in $out"
  fi
}

# deploy_init NAME: one output directory per run ($out, kept as $work/last-NAME when
# something fails, removed otherwise), so runs sharing a cache do not trample each other.
deploy_init() {
  deploy_name=$1
  cd "$root" || exit 1
  mkdir -p "$work/bin" "$node_dir"
  out=$(mktemp -d "$work/out-$deploy_name.XXXXXX")
  ln -sfn "$out" "$work/last-$deploy_name"
  mkdir -p "$out/objects"
  trap _deploy_on_exit EXIT
  echo "deploy checks: $deploy_name (cache $work)"
}

deploy_finish() {
  section "summary: $deploy_name ($((SECONDS - started))s)"
  local s f
  for s in "${skips[@]}"; do echo "SKIPPED $s"; done
  for f in "${failures[@]}"; do echo "FAILED  $f"; done
  echo "deploy checks ($deploy_name): $passed passed, $failed failed, $skipped skipped"
  [[ $failed -eq 0 ]]
}

# deploy_renderer: $render is built from the current sources (once; later calls, and later
# scripts, reuse it while the sources are unchanged). Returns 1 when it cannot be built.
deploy_renderer() {
  [[ ${_deploy_render_ok:-} == yes ]] && return 0
  [[ ${_deploy_render_ok:-} == no ]] && return 1
  _deploy_render_ok=no
  need "chart rendering (and every check built on it)" go || return 1
  local key
  key=$( (go version && cat tests/deploy/render/*.go) | sha256sum | cut -d' ' -f1)
  # flock: another script or run sharing this cache may be building too.
  # shellcheck disable=SC2016  # the inner script's own arguments, expanded there
  if flock "$work/.render.lock" bash -c '
      [[ -x $1 && -f $1.sha256 && $(cat "$1.sha256") == "$2" ]] && exit 0
      rm -f "$1.sha256"
      "${@:3}" go build -o "$1.tmp" ./tests/deploy/render && mv "$1.tmp" "$1" && echo "$2" >"$1.sha256" && echo built
    ' _ "$render" "$key" "${go_env[@]}" >"$out/go-build.log" 2>&1; then
    if grep -q '^built$' "$out/go-build.log"; then
      ok "built the chart renderer (tests/deploy/render) into $render"
    else
      echo "chart renderer: $render (cached; sources unchanged)"
    fi
    _deploy_render_ok=yes
    return 0
  fi
  sed 's/^/      /' "$out/go-build.log" | tail -n 40
  bad "go build of the chart renderer (tests/deploy/render)"
  return 1
}

# deploy_node: node, npm and the pinned validator packages in $node_dir/node_modules (npm ci
# once per lockfile), with tests/deploy/*.mjs beside them (they import from node_modules).
deploy_node() {
  [[ ${_deploy_node_ok:-} == yes ]] && return 0
  [[ ${_deploy_node_ok:-} == no ]] && return 1
  _deploy_node_ok=no
  need "object validation and the node checks" node npm || return 1
  local lock_sum
  lock_sum=$(sha256sum tests/deploy/package-lock.json | cut -d' ' -f1)
  if [[ -f $node_dir/.lock-sha256 && $(cat "$node_dir/.lock-sha256") == "$lock_sum" &&
    -d $node_dir/node_modules ]]; then
    echo "npm packages: $node_dir (cached; lockfile unchanged)"
  else
    cp tests/deploy/package.json tests/deploy/package-lock.json "$node_dir/"
    if run_logged npm-ci flock "$work/.npm.lock" env npm_config_cache="$work/npm-cache" bash -c \
      "cd '$node_dir' && npm ci --no-audit --no-fund --prefer-offline --loglevel=error"; then
      echo "$lock_sum" >"$node_dir/.lock-sha256"
      ok "npm ci (node $(node --version)): kubernetes-models, @kubernetes-models/keda, @kubernetes-models/prometheus-operator"
    else
      bad "npm ci in $node_dir"
      return 1
    fi
  fi
  cp tests/deploy/validate.mjs tests/deploy/checks.mjs "$node_dir/"
  _deploy_node_ok=yes
}

# deploy_chart_objects quiet|report: render every ci/*-values.yaml scenario as release pgq in
# namespace jobs into $out/objects/chart-NAME.json (NOTES.txt into $out/NAME-NOTES.txt).
# Failures are always reported; successes only with report. Sets scenarios=(NAME...).
deploy_chart_objects() {
  local report=${1#quiet} values name n
  scenarios=()
  deploy_renderer || return 1
  for values in "$chart"/ci/*-values.yaml; do
    name=$(basename "$values" -values.yaml)
    scenarios+=("$name")
    if run_logged "render-$name" "$render" template "$chart" -f "$values" --strict "${crd_api_versions[@]}" \
      --name pgq --namespace jobs --json "$out/objects/chart-$name.json" --notes "$out/$name-NOTES.txt"; then
      n=$(grep -c '^# Source:' "$out/render-$name.log")
      [[ -z $report ]] || ok "render $values ($n objects, NOTES.txt rendered)"
    else
      bad "render $values"
    fi
  done
}

# deploy_kustomize_objects quiet|report: `kubectl kustomize` operator-manifests/base, every
# overlay, and the hpa and migration-credentials components (in no overlay: production uses
# KEDA; separate roles are the reader's choice) over dev; the overlays'
# objects go to $out/objects/kustomize-NAME.json.
deploy_kustomize_objects() {
  local report=${1#quiet} dir name rel overlays=()
  if ! have kubectl; then
    missing kubectl "kustomize overlays (operator-manifests/)" \
      "not a Debian package and not in ci/deps: install kubectl, which has kustomize built in"
    return 1
  fi
  deploy_renderer || return 1
  for dir in operator-manifests/overlays/*/; do
    overlays+=("${dir%/}")
  done
  # kustomize wants relative paths.
  mkdir -p "$out/kustomize-hpa"
  rel=$(realpath --relative-to="$out/kustomize-hpa" "$root/operator-manifests")
  cat >"$out/kustomize-hpa/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel/overlays/dev
components:
  - $rel/components/hpa
  - $rel/components/migration-credentials
EOF
  overlays+=("$out/kustomize-hpa")
  [[ -z $report ]] || echo "kubectl $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
  for dir in operator-manifests/base "${overlays[@]}"; do
    name=$(basename "$dir")
    [[ $dir == "$out/kustomize-hpa" ]] && name=dev-with-hpa-component
    if ! run_logged "kustomize-$name" kubectl kustomize "$dir"; then
      bad "kubectl kustomize ${dir#"$root"/}"
    elif [[ $name == base ]]; then
      [[ -z $report ]] || ok "kubectl kustomize operator-manifests/base (builds; deploy an overlay)"
    elif "$render" yaml2json "$out/kustomize-$name.log" >"$out/objects/kustomize-$name.json"; then
      [[ -z $report ]] || ok "kubectl kustomize ${dir#"$root"/} ($(grep -c '^kind:' "$out/kustomize-$name.log") objects)"
    else
      bad "kustomize output of $dir is not valid YAML"
    fi
  done
}
