# shellcheck shell=bash
# A Debian 13 (trixie) chroot with the real Python PgQueuer, for the interop suite and
# ci/bench. Debian 12 has no pydantic 2, which PgQueuer 1.3.2 needs; trixie packages all of
# its dependencies, so the chroot is built from Debian's archive with debootstrap (no PyPI).
#
# Source this file from a bash script (as root: debootstrap and chroot need it), then:
#
#   pgq_trixie_chroot   build the chroot once, or reuse it, and export
#                       PGQ_TRIXIE_DIR      the chroot's root directory
#                       PGQ_PGQUEUER_DIR    PgQueuer's source tree inside it (/opt/pgqueuer-X)
#                       PGQ_PGQUEUER_VERSION
#                       Returns non-zero (after saying why) when it cannot be built.
#   pgq_trixie_python_command
#                       set the array PGQ_TRIXIE_PYTHON to that command without running it, for
#                       background processes: chroot and env exec, so "$!" is python itself
#                       and a signal sent to it reaches PgQueuer.
#   pgq_trixie_python ARGS...
#                       run python3 ARGS inside the chroot with PgQueuer on PYTHONPATH and
#                       those environment variables named in PGQ_TRIXIE_PASS (space separated)
#                       that are set (an empty PGQUEUER_SCHEMA is not the same as none).
#
# Settings: PGQ_TRIXIE_CACHE (default: $BUILD_DIR/fixtures/trixie, else build/fixtures/trixie
# under the repository), PGQ_TRIXIE_MIRROR (another archive; unset, debootstrap's default),
# PGQ_PGQUEUER_TARBALL (default: ../shared/vendor/pgqueuer-1.3.2.tar.gz next to the repo).
#
# The chroot is built in a temporary directory and renamed into place only when complete,
# with a stamp file naming the package list and tarball; a directory without the stamp (an
# interrupted build, or one made from another recipe) is never reused.

_pgq_trixie_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

_pgq_trixie_packages=python3,python3-asyncpg,python3-psycopg,python3-psycopg-pool,python3-pydantic
_pgq_trixie_packages+=,python3-pydantic-settings,python3-anyio,python3-croniter,python3-tabulate
_pgq_trixie_packages+=,python3-typer,python3-uvloop,python3-tqdm

# The stamp's content: when the recipe changes, the cached chroot is rebuilt.
_pgq_trixie_recipe() {
  local tarball=$1
  printf 'packages=%s\n' "$_pgq_trixie_packages"
  printf 'pgqueuer=%s %s\n' "$(basename "$tarball")" "$(sha256sum "$tarball" | cut -d' ' -f1)"
}

pgq_trixie_chroot() {
  local build_dir=${BUILD_DIR:-$_pgq_trixie_root/build}
  local cache=${PGQ_TRIXIE_CACHE:-$build_dir/fixtures/trixie}
  local -a mirror=()
  [[ -z ${PGQ_TRIXIE_MIRROR:-} ]] || mirror=("$PGQ_TRIXIE_MIRROR")
  local tarball=${PGQ_PGQUEUER_TARBALL:-$_pgq_trixie_root/../shared/vendor/pgqueuer-1.3.2.tar.gz}
  local stamp=$cache/.pgq-trixie-stamp recipe tmp top version log

  if [[ ! -f $tarball ]]; then
    echo "trixie: PgQueuer tarball not found: $tarball" >&2
    return 1
  fi
  # awk reads the whole listing, so tar never dies of SIGPIPE under pipefail.
  top=$(tar -tzf "$tarball" | awk 'NR == 1')
  top=${top%%/*}
  version=${top#pgqueuer-}
  recipe=$(_pgq_trixie_recipe "$tarball")

  if [[ -f $stamp && $(cat "$stamp") == "$recipe" ]]; then
    echo "trixie: reusing $cache"
  else
    if [[ $(id -u) -ne 0 ]]; then
      echo "trixie: building the chroot needs root (debootstrap)" >&2
      return 1
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
      echo "trixie: debootstrap is not installed (ci/deps installs it)" >&2
      return 1
    fi
    echo "trixie: building a Debian 13 chroot in $cache (about 3 minutes, 400 MB)"
    mkdir -p "$(dirname "$cache")"
    # A leftover from an interrupted build is removed before starting another.
    rm -rf "$cache".tmp.*
    tmp=$(mktemp -d "$cache.tmp.XXXXXX")
    log=$tmp.log
    if ! debootstrap --variant=minbase --include="$_pgq_trixie_packages" trixie "$tmp" \
      "${mirror[@]}" >"$log" 2>&1; then
      echo "trixie: debootstrap failed; the end of its log:" >&2
      tail -n 30 "$log" >&2
      rm -rf "$tmp" "$log"
      return 1
    fi
    tar -xzf "$tarball" -C "$tmp/opt"
    # A source tree has no _version.py (setuptools-scm writes it); without it PgQueuer
    # reports version 0.0.0.
    printf 'version = "%s"\n__version__ = version\n' "$version" \
      >"$tmp/opt/$top/pgqueuer/_version.py"
    if ! chroot "$tmp" env PYTHONPATH="/opt/$top" python3 -c 'import pgqueuer' >>"$log" 2>&1; then
      echo "trixie: PgQueuer does not import in the new chroot:" >&2
      tail -n 30 "$log" >&2
      rm -rf "$tmp" "$log"
      return 1
    fi
    printf '%s\n' "$recipe" >"$tmp/.pgq-trixie-stamp"
    rm -rf "$cache" "$log"
    mv "$tmp" "$cache"
    echo "trixie: built $cache"
  fi
  export PGQ_TRIXIE_DIR=$cache
  export PGQ_PGQUEUER_DIR=/opt/$top
  export PGQ_PGQUEUER_VERSION=$version
}

pgq_trixie_python_command() {
  local name
  PGQ_TRIXIE_PYTHON=(chroot "$PGQ_TRIXIE_DIR" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root
    LANG=C.UTF-8 PYTHONPATH="$PGQ_PGQUEUER_DIR" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1)
  for name in ${PGQ_TRIXIE_PASS:-}; do
    if [[ -v $name ]]; then PGQ_TRIXIE_PYTHON+=("$name=${!name}"); fi
  done
  PGQ_TRIXIE_PYTHON+=(python3)
}

pgq_trixie_python() {
  pgq_trixie_python_command
  "${PGQ_TRIXIE_PYTHON[@]}" "$@"
}
