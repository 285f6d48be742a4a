#!/usr/bin/env bash
# Installs the library from a build tree, builds tests/install (a consumer
# using find_package(pgq CONFIG)) against the installed tree only, runs it and
# checks what it prints.
#
#   tests/install/check.sh [BUILD_DIR]   (default: build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${1:-$root/build}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
prefix=$build_dir/install-tree
consumer_dir=$build_dir/install-consumer

fail() {
  echo "install check: $*" >&2
  exit 1
}

# The consumer is built like the library: same compiler, launcher and
# sanitizers (a sanitized static library needs the runtime at link time).
cache_value() {
  sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt"
}
[[ -f $build_dir/CMakeCache.txt ]] || fail "$build_dir is not a configured build tree"
args=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo
      -DCMAKE_CXX_COMPILER="$(cache_value CMAKE_CXX_COMPILER)")
launcher=$(cache_value CMAKE_CXX_COMPILER_LAUNCHER)
[[ -z $launcher ]] || args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
sanitize=$(cache_value PGQ_SANITIZE)
[[ -z $sanitize ]] || args+=(-DCMAKE_CXX_FLAGS="-fsanitize=${sanitize//;/,}")

rm -rf "$prefix" "$consumer_dir"
cmake --install "$build_dir" --prefix "$prefix" >/dev/null

# Only public headers are installed, and none of them reaches into src/.
[[ -f $prefix/include/pgq/driver.h && -f $prefix/include/pgq/version.h ]] ||
  fail "public headers missing under $prefix/include/pgq"
find "$prefix" -name pgqConfig.cmake | grep -q . || fail "pgqConfig.cmake not installed"
if grep -lE '#include "(driver|sql|queries|runtime)/' "$prefix"/include/pgq/*.h; then
  fail "installed headers include private src/ headers (above)"
fi

cmake -S "$root/tests/install" -B "$consumer_dir" -G Ninja "${args[@]}" >/dev/null ||
  fail "configuring the consumer failed"
cmake --build "$consumer_dir" || fail "building the consumer failed"
output=$("$consumer_dir/consumer") || fail "the consumer failed: $output"
echo "$output"

version=$(sed -n 's/^#define PGQ_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/pgq/version.h")
expect() {
  grep -qxF "$1" <<<"$output" || fail "expected the line '$1'"
}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "bad PGQ_VERSION_STRING '$version'"
expect "library version: $version"
expect "header version: $version (${version//./.})"
expect "queue table: consumer_pgqueuer"
expect "install sql names it: yes"
expect "status: queued"
grep -q '^redacted: .*\*\*\*\*' <<<"$output" || fail "the password was not redacted"
! grep -q secret <<<"$output" || fail "the password leaked"
echo "install check: ok ($version)"
