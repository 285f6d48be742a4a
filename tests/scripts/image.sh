#!/usr/bin/env bash
# Builds the Dockerfile and runs the image's pgq against the throwaway PostgreSQL. Run by
# ci/test from the repository root with PGQ_BUILD_DIR (absolute) and PGQ_TEST_DSN; by hand:
#
#   source ci/lib/postgres.sh && pgq_pg_start && PGQ_BUILD_DIR=$PWD/build bash tests/scripts/image.sh
#
# No container engine: buildah (vfs storage kept under $PGQ_BUILD_DIR/image, chroot
# isolation) on a Debian bookworm base made with debootstrap and committed under the
# Dockerfile's FROM name, so nothing is pulled from a registry (ci/lib/image.sh). The base's
# tarball is cached in $PGQ_BUILD_DIR/fixtures/ and reused. Then:
#   1. the image's labels and user: OCI source/version/revision, USER 65532:65532;
#   2. what it holds: no shell and no package manager, at most 60 MiB, and exactly the shared
#      libraries the binary loads (its NEEDED entries, followed through the image's own
#      libraries: every one present, none extra), the loader and the CA bundle;
#   3. `buildah run --user 65532:65532 … pgq install` creates the schema in a fresh database;
#   4. `pgq run` as uid 65532 with the config and the password file mounted read-only, in a
#      chroot of the image whose root is a read-only bind mount (buildah run has no
#      --read-only; the chart sets readOnlyRootFilesystem), /tmp a tmpfs, as in the pod;
#      /readyz must answer 200 within 60 s, and SIGTERM must end it with status 0;
#   5. a write to / fails there (read-only), a write to /tmp works (checked with the host's
#      tools as uid 65532: the image has none).
# Prints the image size and the wall time of each step.
#
# Needs root, buildah, debootstrap, curl, psql, unshare. Under CI=true a missing tool or a
# failed build is a failure; otherwise the script says what it skipped and exits 0.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
root=$pgq_root
cd "$root"
# shellcheck source=../../ci/lib/image.sh
source "$root/ci/lib/image.sh"

build_dir=${PGQ_BUILD_DIR:-$root/build}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
# The base is a local name, passed as the Dockerfile's DEBIAN_IMAGE: nothing names a registry.
base_name=localhost/debian:bookworm-slim
base_cache=$build_dir/fixtures/debian-bookworm-minbase.tar
tag=localhost/pgq:test-$$
started=$SECONDS
step_started=$SECONDS

step() {
  echo "ok    $* ($((SECONDS - step_started))s)"
  step_started=$SECONDS
}

[[ $(id -u) -eq 0 ]] || skip_or_fail "image build: needs root (debootstrap, buildah chroot isolation)"
require_tools buildah debootstrap curl psql unshare chroot setpriv readelf
require_database

pgq_image_init "$build_dir/image"
test_workdir "$build_dir/image" keep-on-failure
# One image build at a time per build directory: they share the storage.
exec 9>"$build_dir/image/.lock"
flock 9

ctr="" db=""
at_exit '[[ -z $db ]] || sql "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1'
at_exit 'pgq_image_buildah rmi -f "$tag" >/dev/null 2>&1'
at_exit '[[ -z $ctr ]] || { pgq_image_buildah umount "$ctr"; pgq_image_buildah rm "$ctr"; } >/dev/null 2>&1'
# shellcheck source=lib/worker.sh
source "$pgq_root/tests/scripts/lib/worker.sh"

# ---- 1. base and build ---------------------------------------------------------------------
echo "== base image ($base_name, debootstrap minbase, no registry) =="
if ! pgq_image_base "$base_cache" "$base_name"; then
  skip_or_fail "image base: debootstrap or buildah commit failed (above)"
fi
step "base image $base_name"

echo "== buildah bud --pull-never (vfs, chroot isolation) =="
version=$(sed -nE 's/^appVersion: "?([^"]*)"?$/\1/p' helm/pgq-worker/Chart.yaml)
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
source_url=$(git -C "$root" remote get-url origin 2>/dev/null || echo "file://$root")
if ! pgq_image_build "$tag" --build-arg DEBIAN_IMAGE="$base_name" --build-arg PGQ_VERSION="$version" \
  --build-arg PGQ_REVISION="$revision" --build-arg PGQ_SOURCE="$source_url" \
  >"$work/bud.log" 2>&1; then
  tail -n 40 "$work/bud.log"
  skip_or_fail "buildah bud failed (log above)"
fi
step "buildah bud -t $tag"

# ---- 2. what the image says about itself ---------------------------------------------------
# (buildah 1.28's --format has no json function: one key=value per line)
labels=$(pgq_image_buildah inspect --type image \
  --format '{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$tag")
user=$(pgq_image_buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
sed 's/^/label: /' <<<"$labels"
for want in "org.opencontainers.image.version=$version" \
  "org.opencontainers.image.revision=$revision" \
  "org.opencontainers.image.source=$source_url"; do
  grep -qxF "$want" <<<"$labels" || fail "image label $want is missing"
done
[[ $user == 65532:65532 ]] || fail "image USER is '$user', expected 65532:65532"
size=$(pgq_image_size "$tag")
echo "image size: $((size / 1024 / 1024)) MiB ($size bytes, root filesystem as unpacked)"
step "labels (source, version $version, revision ${revision:0:12}), USER $user"

# ---- 2. what the image holds ------------------------------------------------------------------
((size <= 60 * 1024 * 1024)) || fail "the image is $((size / 1024 / 1024)) MiB, more than 60 MiB"
ctr=$(pgq_image_buildah from "$tag")
mnt=$(pgq_image_buildah mount "$ctr")
for path in bin/sh usr/bin/sh bin/bash usr/bin/bash bin/busybox usr/bin/apt usr/bin/apt-get \
  usr/bin/dpkg var/lib/dpkg; do
  [[ ! -e $mnt/$path && ! -L $mnt/$path ]] || fail "the image holds /$path"
done
[[ -s $mnt/etc/ssl/certs/ca-certificates.crt ]] || fail "the image has no CA bundle"
interpreter=$(readelf -l "$mnt/usr/local/bin/pgq" | sed -nE 's/.*program interpreter: (.*)\]$/\1/p')
[[ -n $interpreter && -f $mnt$interpreter ]] || fail "the binary's loader '$interpreter' is not in the image"
lib_dirs=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib64 lib usr/lib)
declare -A loaded=(["${interpreter#/}"]=1)
pending=(usr/local/bin/pgq)
while ((${#pending[@]})); do
  file=${pending[0]}
  pending=("${pending[@]:1}")
  for needed in $(readelf -d "$mnt/$file" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p'); do
    found=""
    for dir in "${lib_dirs[@]}"; do
      if [[ -e $mnt/$dir/$needed ]]; then found=$dir/$needed && break; fi
    done
    [[ -n $found ]] || fail "$needed, which /$file needs, is not in the image"
    if [[ -z ${loaded[$found]:-} ]]; then
      loaded[$found]=1
      pending+=("$found")
    fi
  done
done
extra=$(cd "$mnt" && find . -name '*.so*' \( -type f -o -type l \) | sed 's#^\./##' |
  while read -r object; do [[ -n ${loaded[$object]:-} ]] || echo "/$object"; done)
[[ -z $extra ]] || fail "the image holds shared objects the binary does not load: $(tr '\n' ' ' <<<"$extra")"
step "no shell, no package manager, $((size / 1024 / 1024)) MiB <= 60 MiB, exactly the ${#loaded[@]} shared objects pgq loads (loader included)"

# ---- 3. pgq install through buildah run ----------------------------------------------------
db=pgq_image_$$_$RANDOM
sql "CREATE DATABASE $db" >/dev/null
dsn=$(sed -E "s#/[^/?]*(\?|$)#/$db\1#" <<<"${PGQ_TEST_DSN%/}")
[[ $dsn == *"/$db"* ]] || dsn="${PGQ_TEST_DSN%/}/$db"
if ! pgq_image_buildah run --user 65532:65532 --network host "$ctr" -- \
  pgq --dsn "$dsn" install >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  fail "buildah run --user 65532:65532 $tag pgq install"
fi
tables=$(SQL_DSN=$dsn sql_value "SELECT count(*) FROM pg_tables WHERE tablename IN ('pgqueuer', 'pgqueuer_log', 'pgqueuer_statistics', 'pgqueuer_schedules')")
[[ $tables == 4 ]] || fail "pgq install from the image created $tables of the 4 tables"
step "buildah run --user 65532:65532: pgq install created the schema"

# ---- 4. pgq run on a read-only root --------------------------------------------------------
port=$(free_port)
pg_port=$(sed -nE 's#.*@[^:/]+:([0-9]+)/.*#\1#p' <<<"$PGQ_TEST_DSN")
pg_user=$(sed -nE 's#^postgresql://([^@:]+)[@:].*#\1#p' <<<"$PGQ_TEST_DSN")
mkdir -p "$work/etc-pgq/secrets"
# The image's root is mounted here, where uid 65532 may reach it (the probes below run the
# host's tools as that user, the image has none).
rootfs_dir=$(mktemp -d /tmp/pgq-image-root.XXXXXX)
chmod 0755 "$rootfs_dir"
at_exit 'rmdir "$rootfs_dir" 2>/dev/null'
printf 'unused-trust-auth\n' >"$work/etc-pgq/secrets/password"
chown 65532:65532 "$work/etc-pgq/secrets/password"
chmod 0400 "$work/etc-pgq/secrets/password"
cat >"$work/etc-pgq/config.yaml" <<EOF
database:
  host: 127.0.0.1
  port: ${pg_port:-5432}
  dbname: $db
  user: ${pg_user:-postgres}
  password_file: /etc/pgq/secrets/password
http:
  address: 127.0.0.1
  port: $port
entrypoints:
  image.noop:
    handler: {type: noop}
logging:
  format: text
shutdown:
  grace_period: 5s
EOF
# A private mount namespace: the read-only root, the config, /tmp, /proc and /dev exist only
# for the worker. unshare and chroot exec, so the process "run" is the worker itself.
worker_port[run]=$port
# shellcheck disable=SC2016  # expanded by the inner shell
worker_spawn run unshare --mount --propagation private bash -c '
  set -e
  mount --bind "$1" "$2"
  mount -o remount,bind,ro "$2"
  mount --bind "$3" "$2/etc/pgq"
  mount -o remount,bind,ro "$2/etc/pgq"
  mount -t tmpfs -o size=64m,mode=1777 tmpfs "$2/tmp"
  mount -t proc proc "$2/proc"
  mount --rbind /dev "$2/dev"
  if touch "$2/probe" 2>/dev/null; then echo "root filesystem is writable"; exit 3; fi
  as_nonroot() { setpriv --reuid 65532 --regid 65532 --clear-groups "$@"; }
  as_nonroot touch "$2/tmp/probe" && ! as_nonroot touch "$2/probe" 2>/dev/null ||
    { echo "uid 65532: /tmp not writable or / writable"; exit 3; }
  exec chroot --userspec=65532:65532 "$2" pgq run --config /etc/pgq/config.yaml
' sh "$mnt" "$rootfs_dir" "$work/etc-pgq"
if ! AWAIT_INTERVAL=0.5 worker_poll run 200 60; then
  cat "$work/run.readyz" 2>/dev/null || true
  fail "pgq run from the image did not reach /readyz 200 within 60 s"
fi
echo "readyz: $(cat "$work/run.readyz")"
step "pgq run as uid 65532, read-only root (writes to / refused, /tmp writable): /readyz 200"
worker_stop run
step "SIGTERM: pgq run drained and exited 0"

echo "image checks passed: $tag, $((size / 1024 / 1024)) MiB, $((SECONDS - started))s in all"
