#!/usr/bin/env bash
# Deploy checks, the container image without building it (tests/scripts/image.sh builds and
# runs it): the Dockerfile's stages (build on Debian bookworm, rootfs, a FROM scratch runtime
# with no RUN), numeric non-root user, port and ENTRYPOINT (the worker contract the chart and
# kustomize also follow), the .dockerignore allow-list against the COPY lines and CMake's
# subdirectories, and that the build stage's packages provide every shared library the built
# pgq binary needs (the rootfs stage copies what ldd finds there). By hand:
#
#   PGQ_BUILD_DIR=$PWD/build tests/scripts/deploy_image_static.sh
#
# Needs the built binary ($PGQ_BUILD_DIR/worker/pgq), readelf, dpkg-query and ldconfig;
# tests/deploy/lib.sh has the shared setup.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
deploy_init image-static

section "Dockerfile ENTRYPOINT (the worker contract)"
entrypoint=$(sed -nE 's/^ENTRYPOINT \[(.*)\]$/\1/p' Dockerfile | tr -d '"' | sed 's/, */ /g')
if [[ $entrypoint == "$worker_entrypoint" ]]; then
  ok "Dockerfile ENTRYPOINT is $worker_entrypoint"
else
  bad "Dockerfile ENTRYPOINT is '$entrypoint', expected $worker_entrypoint"
fi

section "Dockerfile and .dockerignore (no Docker engine here: static checks)"
docker_ok=true
dfail() {
  bad "Dockerfile: $*"
  docker_ok=false
}
stages=$(grep -cE '^FROM ' Dockerfile)
[[ $stages -ge 2 ]] || dfail "expected a multi-stage build, found $stages FROM lines"
grep -qE '^ARG DEBIAN_IMAGE=debian:bookworm' Dockerfile || dfail "base image is not Debian bookworm"
[[ $(grep -E '^FROM ' Dockerfile | head -n 1) == 'FROM ${DEBIAN_IMAGE} AS build' ]] ||
  dfail "the first stage must be 'FROM \${DEBIAN_IMAGE} AS build'"
while read -r line; do
  [[ $line =~ ^FROM\ (\$\{DEBIAN_IMAGE\}|build|scratch)\ AS\ [a-z]+$ ]] || dfail "unexpected FROM line: $line"
done < <(grep -E '^FROM ' Dockerfile)
runtime_stage=$(awk '/^FROM .* AS runtime$/{f=1} f' Dockerfile)
[[ -n $runtime_stage ]] || dfail "no stage named runtime"
last_stage=$(grep -E '^FROM ' Dockerfile | tail -n 1)
[[ $last_stage == "FROM scratch AS runtime" ]] ||
  dfail "the last stage must be 'FROM scratch AS runtime' (no shell, no package manager)"
if grep -qE '^RUN ' <<<"$runtime_stage"; then dfail "the runtime stage has no shell: no RUN there"; fi
grep -qE '^COPY --from=rootfs /rootfs/ /$' <<<"$runtime_stage" ||
  dfail "the runtime stage must be the rootfs stage's tree (COPY --from=rootfs /rootfs/ /)"
user=$(sed -nE 's/^USER (.*)$/\1/p' <<<"$runtime_stage")
[[ $user =~ ^([1-9][0-9]*)(:[1-9][0-9]*)?$ ]] || dfail "runtime USER must be a numeric non-root uid[:gid], got '$user'"
[[ ${user%%:*} == 65532 ]] || dfail "runtime USER must be 65532 (the chart's runAsUser), got '$user'"
grep -qE "^EXPOSE $worker_port$" <<<"$runtime_stage" || dfail "runtime stage does not EXPOSE $worker_port"
if grep -E 'apt-get install' Dockerfile | grep -v -- '--no-install-recommends' >/dev/null; then
  dfail "every apt-get install needs --no-install-recommends"
fi
[[ $(grep -c 'apt-get update' Dockerfile) -eq $(grep -c 'rm -rf /var/lib/apt/lists/\*' Dockerfile) ]] ||
  dfail "every apt-get update must be followed by rm -rf /var/lib/apt/lists/* in the same RUN"
if grep -qE '^ADD ' Dockerfile; then dfail "use COPY, not ADD"; fi
if grep -qE ':latest' Dockerfile; then dfail "no :latest images"; fi
# Package names on the build stage's apt-get install line(s): the rootfs stage takes the
# binary's libraries from them.
# shellcheck disable=SC1003  # ' \\' is a space and a backslash, not an escaped quote
build_stage_pkgs=$(awk '/^FROM .* AS build$/{f=1} /^FROM .* AS rootfs$/{f=0} f && /apt-get install/{g=1} f && g{print} f && g && !/\\$/{g=0}' Dockerfile |
  tr -s ' \\' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|mkdir|-y)$' || true)
grep -qx ca-certificates <<<"$build_stage_pkgs" || dfail "the build stage must install ca-certificates (the image's CA bundle)"
# COPY sources: exist in the repository and are let through by .dockerignore.
allowed=$(sed -nE 's#^!([^*]+)$#\1#p' .dockerignore | sed 's#/$##')
[[ $(grep -vE '^[[:space:]]*(#|$)' .dockerignore | head -n 1) == '*' ]] || dfail ".dockerignore must start from '*' (allow-list)"
while read -r src; do
  src=${src%/}
  [[ -e $src ]] || dfail "COPY source $src does not exist"
  grep -qxF "$src" <<<"$allowed" || dfail "COPY source $src is excluded by .dockerignore"
done < <(grep -E '^COPY ' Dockerfile | grep -v -- '--from=' | awk '{for (i = 2; i < NF; i++) print $i}')
while read -r entry; do
  [[ -e $entry ]] || dfail ".dockerignore allows $entry, which does not exist"
  grep -qE "^COPY ${entry}/? " Dockerfile || dfail ".dockerignore allows $entry, which no COPY uses"
done <<<"$allowed"
# Every subdirectory CMake adds must be in the image's build context.
while read -r sub; do
  grep -qE "^COPY ${sub}/ " Dockerfile || dfail "CMakeLists.txt adds $sub/, which the Dockerfile does not COPY"
done < <(sed -nE 's/^[[:space:]]*add_subdirectory\(([a-zA-Z0-9_]+)\)/\1/p' CMakeLists.txt |
  grep -vxE 'tests|bench') # both optional and switched off in the image
$docker_ok && ok "Dockerfile: bookworm build, rootfs, FROM scratch runtime without RUN, USER $user, EXPOSE $worker_port, COPY sources agree with .dockerignore and CMake"

section "the build stage's packages provide every library of the built binary"
if [[ ! -x $pgq ]]; then
  missing "$pgq" "runtime libraries" "build it with ci/build"
elif need "runtime libraries" readelf dpkg-query ldconfig; then
  # Closure of the runtime packages over Depends (as installed on this Debian machine).
  declare -A closure=()
  read -r -a queue <<<"$(tr '\n' ' ' <<<"$build_stage_pkgs")"
  while ((${#queue[@]})); do
    pkg=${queue[0]}
    queue=("${queue[@]:1}")
    [[ -n ${closure[$pkg]:-} ]] && continue
    closure[$pkg]=1
    deps=$(dpkg-query -W -f='${Depends},${Pre-Depends}' "$pkg" 2>/dev/null || true)
    for d in $(tr -s ',|' '\n' <<<"$deps" | sed -E 's/\(.*\)//; s/:any//; s/^ +//; s/ +$//' | grep -v '^$'); do
      [[ -z ${closure[$d]:-} ]] && queue+=("$d")
    done
  done
  libs_ok=true
  # Sanitizer runtimes belong to test builds (PGQ_SANITIZE), never to the image.
  for lib in $(readelf -d "$pgq" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' |
    grep -vE '^lib(a|ub|t)san\.so'); do
    # (awk reads all of ldconfig's output: an early exit would SIGPIPE it under pipefail)
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|aarch64/ && !found {print $NF; found = 1}')
    [[ -n $path ]] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found {print $NF; found = 1}')
    owner=$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null || dpkg-query -S "$path" 2>/dev/null || true)
    owner=${owner%%:*}
    if [[ -z $owner || -z ${closure[$owner]:-} ]]; then
      bad "build stage: $lib (package ${owner:-unknown}) is not installed by the build stage's apt-get line"
      libs_ok=false
    fi
  done
  $libs_ok && ok "the build stage installs every library $(basename "$pgq") links against ($(readelf -d "$pgq" | grep -c NEEDED) NEEDED entries), so rootfs copies them all"
fi

deploy_finish
