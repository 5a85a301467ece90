#!/usr/bin/env bash
# A private build of the extension, for the sanitizer run and the break-it checks of
# test/README.md: the working tree is copied, built (with extra make arguments, an optional
# patch applied to the copy) and installed into a private copy of Debian's PostgreSQL 15
# installation. A server started from that copy loads this build; the system installation,
# and every other server on the machine, keep theirs. The working tree is never modified.
#
#   lib_reliability/private_build.sh ROOT [--patch FILE] [MAKE ARGUMENT ...]
#
# ROOT receives src/ (the copy of the tree) and usr/ (the installation). Then:
#
#   PGBIN=ROOT/usr/lib/postgresql/15/bin scripts/pgtmp start ...
#
# PostgreSQL finds its share and lib directories relative to its binaries (Debian's paths share
# /usr), so ROOT/usr/lib/postgresql/15/bin/postgres loads extensions from ROOT/usr/... only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=$(cd "$here/../../.." && pwd)
root=${1:?usage: private_build.sh ROOT [--patch FILE] [MAKE ARGUMENT ...]}
shift
patch=
if [ "${1:-}" = --patch ]; then patch=$(realpath "$2"); shift 2; fi
mkdir -p "$root"
root=$(cd "$root" && pwd)

# The installation: copied once (about 100 MB), then only the extension's files change.
if [ ! -x "$root/usr/lib/postgresql/15/bin/postgres" ]; then
  mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
  cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
  cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
fi
# The server runs as `postgres` when we are root: it must be able to read all of it.
chmod -R a+rX "$root"

# The tree as it is now (tracked and untracked files, not what .gitignore ignores).
rm -rf "$root/src"
mkdir -p "$root/src"
(cd "$tree" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$root/src"
if [ -n "$patch" ]; then
  (cd "$root/src" && patch -p1 --quiet <"$patch")
fi
make -C "$root/src" -j"$(nproc)" "$@" >"$root/build.log" 2>&1 || { tail -n 30 "$root/build.log" >&2; exit 1; }
make -C "$root/src" install DESTDIR="$root" "$@" >>"$root/build.log" 2>&1 || { tail -n 30 "$root/build.log" >&2; exit 1; }
chmod -R a+rX "$root"
echo "installed into $root; start a server with PGBIN=$root/usr/lib/postgresql/15/bin scripts/pgtmp start"
