#!/usr/bin/env bash
# Versions that must agree, and a chart version that must move with the chart:
#   1. the project version (CMakeLists.txt) = what `pgq --version` prints = the image's
#      PGQ_VERSION default (Dockerfile, its version label) = the chart's appVersion = the
#      kustomize image tags; CHANGELOG.md has a section for it; all are semver.
#   2. the chart's files match the digest recorded for its version in
#      tests/deploy/chart-version.lock (tests/deploy/chart-digest): a chart change without
#      a version bump fails here, in any clone, with or without git history.
#   3. where git knows a merge base with main (PGQ_BASE_REF, else origin/main or main), a
#      chart changed since then must carry a greater version than it had there.
#   4. the check itself: on a copy of the chart, an edited template without a bump is
#      caught, and recording refuses it until the version is bumped.
# By hand: PGQ_BUILD_DIR=$PWD/build bash tests/scripts/versions.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build=${PGQ_BUILD_DIR:-$root/build}
failures=0
ok() { echo "ok   $*"; }
bad() {
  echo "FAIL $*"
  failures=$((failures + 1))
}
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'

project=$(sed -n 's/^project(pgq VERSION \([^ ]*\).*/\1/p' CMakeLists.txt)
image=$(sed -n 's/^ARG PGQ_VERSION=\(.*\)/\1/p' Dockerfile)
app=$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' helm/pgq-worker/Chart.yaml)
chart=$(sed -n 's/^version:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}.*/\1/p' helm/pgq-worker/Chart.yaml)
for pair in "project:$project" "image:$image" "appVersion:$app" "chart version:$chart"; do
  if [[ ${pair#*:} =~ $semver ]]; then ok "$pair is semver"; else bad "${pair%%:*} '${pair#*:}' is not semver"; fi
done
[[ $image == "$project" ]] && ok "Dockerfile PGQ_VERSION $image = project version" ||
  bad "Dockerfile PGQ_VERSION $image != project version $project"
[[ $app == "$project" ]] && ok "chart appVersion $app = project version" ||
  bad "chart appVersion $app != project version $project"
for kustomization in operator-manifests/base/kustomization.yaml operator-manifests/overlays/production/kustomization.yaml; do
  tag=$(sed -n 's/^[[:space:]]*newTag:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' "$kustomization")
  [[ $tag == "$project" ]] && ok "$kustomization newTag $tag" || bad "$kustomization newTag '$tag' != $project"
done
grep -q "^## \[$project\]" CHANGELOG.md && ok "CHANGELOG.md has a [$project] section" ||
  bad "CHANGELOG.md has no '## [$project]' section"
grep -q "^## \[$project\].*chart $chart" CHANGELOG.md && ok "CHANGELOG.md's [$project] names chart $chart" ||
  bad "CHANGELOG.md's [$project] heading does not name chart $chart"

binary=$build/worker/pgq
if [[ -x $binary ]]; then
  printed=$("$binary" --version 2>&1 || true)
  [[ $printed == *"$project"* ]] && ok "pgq --version prints $project ($printed)" ||
    bad "pgq --version prints '$printed', not $project"
else
  bad "no pgq binary at $binary (build first: ci/build)"
fi

recorded=$(cat tests/deploy/chart-version.lock 2>/dev/null || true)
actual=$(tests/deploy/chart-digest)
if [[ $recorded == "$actual" ]]; then
  ok "chart files match the digest recorded for version $chart"
elif [[ ${recorded%% *} == "${actual%% *}" ]]; then
  bad "the chart's files changed but its version did not (still ${actual%% *}): bump version in" \
    "helm/pgq-worker/Chart.yaml, note it in CHANGELOG.md and run tests/deploy/chart-digest --record"
else
  bad "Chart.yaml says ${actual%% *} but tests/deploy/chart-version.lock records '${recorded%% *}':" \
    "run tests/deploy/chart-digest --record"
fi

base_ref=${PGQ_BASE_REF:-}
if [[ -z $base_ref ]]; then
  for candidate in origin/main main; do
    if git rev-parse -q --verify "$candidate^{commit}" >/dev/null 2>&1; then
      base_ref=$candidate
      break
    fi
  done
fi
if [[ -n $base_ref ]] && base=$(git merge-base HEAD "$base_ref" 2>/dev/null); then
  if git diff --quiet "$base" HEAD -- helm/pgq-worker; then
    ok "chart unchanged since the merge base with $base_ref"
  else
    base_version=$(git show "$base:helm/pgq-worker/Chart.yaml" | sed -n 's/^version:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}.*/\1/p')
    newest=$(printf '%s\n%s\n' "$base_version" "$chart" | sort -V | tail -1)
    if [[ $chart != "$base_version" && $newest == "$chart" ]]; then
      ok "chart changed since the merge base with $base_ref and its version moved $base_version -> $chart"
    else
      bad "chart changed since the merge base with $base_ref but its version did not move past $base_version"
    fi
  fi
else
  echo "note no merge base with main in this clone: the recorded digest (above) is the check"
fi

# The check catches what it is for: a copy of the chart edited without a bump.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r helm/pgq-worker "$scratch/chart"
cp tests/deploy/chart-version.lock "$scratch/lock"
export PGQ_CHART_DIR=$scratch/chart PGQ_CHART_LOCK=$scratch/lock
echo "# edited" >>"$scratch/chart/templates/NOTES.txt"
if [[ $(tests/deploy/chart-digest) != "$(cat "$scratch/lock")" ]]; then
  ok "self-test: an edited template changes the digest"
else
  bad "self-test: an edited template left the digest unchanged"
fi
if tests/deploy/chart-digest --record >/dev/null 2>&1; then
  bad "self-test: recording an edited chart without a version bump was accepted"
else
  ok "self-test: recording an edited chart without a version bump is refused"
fi
sed -i 's/^version:.*/version: 99.0.0/' "$scratch/chart/Chart.yaml"
if tests/deploy/chart-digest --record >/dev/null 2>&1 && [[ $(tests/deploy/chart-digest) == "$(cat "$scratch/lock")" ]]; then
  ok "self-test: after a bump the edit is recorded"
else
  bad "self-test: recording after a version bump failed"
fi
unset PGQ_CHART_DIR PGQ_CHART_LOCK

if ((failures > 0)); then
  echo "versions: $failures problem(s)"
  exit 1
fi
echo "versions: all agree (pgq $project, chart $chart)"
