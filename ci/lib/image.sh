# shellcheck shell=bash
# Build the worker image without a container engine: buildah (vfs storage, chroot isolation)
# on a Debian bookworm base made locally with debootstrap, so no registry is ever pulled from.
#
# Source this file, then:
#
#   pgq_image_init DIR          private buildah storage under DIR (storage/, run/), so runs do
#                               not touch the machine's /var/lib/containers; sets PGQ_IMAGE_DIR
#   pgq_image_base CACHE NAME   make NAME (a local name passed as the Dockerfile's
#                               DEBIAN_IMAGE, e.g. localhost/debian:bookworm-slim) from a debootstrap
#                               minbase tarball cached at CACHE; debootstraps only when CACHE
#                               is missing, and writes it atomically (tmp file, then mv)
#   pgq_image_build TAG ARGS... buildah bud --pull-never -t TAG, extra ARGS (e.g. --build-arg)
#   pgq_image_size TAG          bytes of the image's root filesystem
#   pgq_image_buildah ARGS...   buildah with the storage above
#
# Needs root (debootstrap, buildah's chroot isolation and vfs mounts). PGQ_DEBIAN_MIRROR
# names another archive; unset, debootstrap uses its own default.

pgq_image_buildah() {
  STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot buildah \
    --root "$PGQ_IMAGE_DIR/storage" --runroot "$PGQ_IMAGE_DIR/run" --storage-driver vfs "$@"
}

pgq_image_init() {
  PGQ_IMAGE_DIR=$1
  mkdir -p "$PGQ_IMAGE_DIR/storage" "$PGQ_IMAGE_DIR/run"
  export PGQ_IMAGE_DIR
}

# pgq_image_base CACHE NAME
pgq_image_base() {
  local cache=$1 name=$2 tmp ctr mnt
  local -a mirror=()
  [[ -z ${PGQ_DEBIAN_MIRROR:-} ]] || mirror=("$PGQ_DEBIAN_MIRROR")
  if pgq_image_buildah inspect --type image "$name" >/dev/null 2>&1; then
    echo "base image $name: present in $PGQ_IMAGE_DIR/storage"
    return 0
  fi
  if [[ ! -s $cache ]]; then
    echo "base image: debootstrap --variant=minbase bookworm (cached afterwards as $cache)"
    mkdir -p "$(dirname "$cache")"
    tmp=$(mktemp -d "$(dirname "$cache")/.debootstrap.XXXXXX")
    if ! debootstrap --variant=minbase bookworm "$tmp/rootfs" "${mirror[@]}" \
      >"$tmp/debootstrap.log" 2>&1; then
      tail -n 20 "$tmp/debootstrap.log" >&2
      rm -rf "$tmp"
      return 1
    fi
    # What the slim image leaves out: apt lists and caches.
    rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin
    tar -C "$tmp/rootfs" --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* \
      --numeric-owner -cf "$tmp/base.tar" . &&
      mv -f "$tmp/base.tar" "$cache"
    rm -rf "$tmp"
    [[ -s $cache ]] || return 1
  else
    echo "base image: reusing $cache"
  fi
  ctr=$(pgq_image_buildah from scratch) || return 1
  mnt=$(pgq_image_buildah mount "$ctr") || return 1
  tar -C "$mnt" --numeric-owner -xf "$cache" || return 1
  pgq_image_buildah umount "$ctr" >/dev/null
  pgq_image_buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$ctr"
  pgq_image_buildah commit --quiet "$ctr" "$name" >/dev/null || return 1
  pgq_image_buildah rm "$ctr" >/dev/null
  echo "base image $name: committed from $cache"
}

# pgq_image_build TAG [bud arguments...]: the build context is the current directory.
pgq_image_build() {
  local tag=$1
  shift
  pgq_image_buildah bud --pull-never --isolation chroot --format oci -f Dockerfile -t "$tag" "$@" .
}

pgq_image_size() {
  local ctr mnt size
  ctr=$(pgq_image_buildah from "$1") || return 1
  mnt=$(pgq_image_buildah mount "$ctr") || return 1
  size=$(du -sb "$mnt" | cut -f1)
  pgq_image_buildah umount "$ctr" >/dev/null
  pgq_image_buildah rm "$ctr" >/dev/null
  echo "$size"
}
