# shellcheck shell=bash
# The previous pgq release, built once from git and cached, for tests that run it beside the
# current build (rolling updates: N-1 workers on the schema N migrates to). Source after
# lib/common.sh.
#
#   previous_release_commit   the commit of the previous release (pgq 0.1.0)
#   previous_release_build    build its `pgq` binary once under
#                             $PGQ_BUILD_DIR/fixtures/pgq-<commit> (reused by later runs and
#                             scripts) and set previous_pgq to it; needs the clone's history
#
# Moving to a new release: point previous_release_commit at the last commit of the release
# before it (CHANGELOG.md names the releases).

previous_release_version=0.1.0
previous_release_commit=fa0dacf8d4809bd4ed59303f5abf2e8df31b34b6

previous_release_build() {
  local dir=$build/fixtures/pgq-$previous_release_commit
  previous_pgq=$dir/build/worker/pgq
  if [[ -x $previous_pgq ]] &&
    [[ $("$previous_pgq" --version 2>&1) == *"$previous_release_version"* ]]; then
    return 0
  fi
  git -C "$pgq_root" cat-file -e "$previous_release_commit^{commit}" 2>/dev/null ||
    fail "commit $previous_release_commit (pgq $previous_release_version) is not in this clone's" \
      "history; fetch it (git fetch --unshallow) to run the previous release"
  echo "building pgq $previous_release_version (${previous_release_commit:0:10}) once, under $dir"
  rm -rf "$dir"
  mkdir -p "$dir/src"
  git -C "$pgq_root" archive "$previous_release_commit" | tar -x -C "$dir/src"
  # Only the binary: no tests, benchmarks or install rules.
  cmake -S "$dir/src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPGQ_BUILD_TESTS=OFF -DPGQ_BUILD_BENCH=OFF -DPGQ_INSTALL=OFF >"$dir/configure.log" 2>&1 ||
    fail "configuring pgq $previous_release_version failed: $(tail -n 5 "$dir/configure.log")"
  cmake --build "$dir/build" --target pgq --parallel "$(nproc)" >"$dir/build.log" 2>&1 ||
    fail "building pgq $previous_release_version failed: $(tail -n 5 "$dir/build.log")"
  rm -rf "$dir/src/.git"
  [[ $("$previous_pgq" --version 2>&1) == *"$previous_release_version"* ]] ||
    fail "the previous release's binary does not say $previous_release_version"
}
