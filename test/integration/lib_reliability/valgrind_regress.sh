#!/usr/bin/env bash
# The pg_regress suites against a server running under valgrind (memcheck), with the extension
# built -O1 -g from the working tree into a private installation (private_build.sh), so the
# system installation and the other servers on the machine are untouched.
#
#   test/integration/lib_reliability/valgrind_regress.sh [TEST ...]    default: every test/sql/*.sql
#
# Why valgrind and not ASan: Debian's postgres binary hangs at start when libasan is preloaded
# (LD_PRELOAD, GCC 12's or clang 14's runtime; a corrupted glibc lock in bindtextdomain), and a
# sanitized extension cannot load into an unsanitized server without it. test/README.md has
# the details and the result of a full run (about two hours on two busy cores).
#
# The server starts normally (initdb under valgrind would take minutes), then is restarted with
# postgres wrapped in valgrind; every backend is a fork of the postmaster, so every query runs
# under memcheck. Each process writes its own log (GEOCLUSTER_VALGRIND_DIR/logs/vg.<pid>.log);
# with --quiet they hold only errors. Suppressions: valgrind.supp (server noise only).
#
# Two tests: the regression suite passes, and valgrind reported no error. Prints `N passed, M
# failed` last. GEOCLUSTER_VALGRIND_DIR (default /tmp/geocluster-valgrind) keeps the build, the
# installation, the server's log and the valgrind logs for inspection;
# GEOCLUSTER_VALGRIND_REUSE=1 reuses the build found there (to run tests one call at a time).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${GEOCLUSTER_VALGRIND_DIR:-/tmp/geocluster-valgrind}
inst=$work/inst
logs=$work/logs
pg=$work/pg
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok     $*"; }
bad() { failed=$((failed + 1)); echo "FAILED $*"; }

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$work"
if [ -d "$pg" ]; then PGBIN=$inst/usr/lib/postgresql/15/bin "$root/scripts/pgtmp" stop "$pg" 2>/dev/null; fi
rm -rf "$logs" "$pg"
mkdir -p "$logs"
chmod 777 "$logs"

start=$(date +%s)
if [ -n "${GEOCLUSTER_VALGRIND_REUSE:-}" ] && [ -f "$inst/usr/lib/postgresql/15/bin/postgres.real" ]; then
  echo "== reusing the build in $inst"
else
  echo "== build (-O1 -g, no JIT bitcode) into $inst"
  "$here/private_build.sh" "$inst" with_llvm=no \
      CXXFLAGS="-Wall -fno-strict-aliasing -fwrapv -g -O1 -fno-omit-frame-pointer" >/dev/null \
    || { echo "0 passed, 1 failed (build)"; exit 1; }
fi

# postgres -> a wrapper that runs postgres.real under valgrind while $inst/valgrind.on exists.
bin=$inst/usr/lib/postgresql/15/bin
if [ ! -f "$bin/postgres.real" ]; then mv "$bin/postgres" "$bin/postgres.real"; fi
cat >"$bin/postgres" <<'SH'
#!/bin/sh
here=$(dirname "$0")
flag=$here/../../../../../valgrind.on
if [ -f "$flag" ]; then
  exec valgrind --quiet --trace-children=yes --leak-check=no --track-origins=yes --num-callers=40 \
       --error-limit=no $(cat "$flag") "$here/postgres.real" "$@"
fi
exec "$here/postgres.real" "$@"
SH
chmod 755 "$bin/postgres"
cp "$here/valgrind.supp" "$inst/valgrind.supp"
rm -f "$inst/valgrind.on"
chmod -R a+rX "$inst"

export PGBIN=$bin
eval "$("$root/scripts/pgtmp" start "$pg" jit=off)" || { echo "0 passed, 1 failed (server)"; exit 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap 'as_owner "$bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1; rm -f "$inst/valgrind.on"' EXIT
echo "--suppressions=$inst/valgrind.supp --log-file=$logs/vg.%p.log" >"$inst/valgrind.on"
chmod a+r "$inst/valgrind.on"
# A stop and a start (not pg_ctl restart, which reruns the recorded postgres.real directly),
# as scripts/pgtmp does it: the server belongs to `postgres` when we are root.
as_owner "$bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null
as_owner "$bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 300 start >/dev/null \
  || { echo "0 passed, 1 failed (server under valgrind)"; exit 1; }
if ! grep -q vgpreload "/proc/$(head -n 1 "$pg/data/postmaster.pid")/maps" 2>/dev/null; then
  echo "0 passed, 1 failed (the postmaster is not running under valgrind)"; exit 1
fi
echo "== pg_regress under valgrind (server $PGHOST, logs $logs)"
regress=()
[ $# -gt 0 ] && regress=(REGRESS="$*")
# pg_regress only (TAP_TESTS emptied): the TAP tests start servers of their own, not under valgrind.
if make -C "$inst/src" installcheck TAP_TESTS= "${regress[@]}" >"$work/regress.log" 2>&1; then
  ok "regression: $(grep -oE 'All [0-9]+ tests passed' "$work/regress.log")"
else
  bad "regression: $(grep -oE '[0-9]+ of [0-9]+ tests failed' "$work/regress.log" || echo 'did not run'), see $work/regress.log"
  grep -E '^(test| +[a-z_]+ +\.\.\.)' "$work/regress.log" | grep -v ' ok ' | head -n 20
fi
as_owner "$bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null

# With --quiet, a log holds only errors: an error is a headline followed by its `at` frame. The
# extension is built with -g and the server without debug information, so a frame with a
# source line (file.cpp:N) is the extension's.
errors=$(cat "$logs"/vg.*.log 2>/dev/null | awk '/^==[0-9]+== [^ ]/ {h = 1; next} h && /^==[0-9]+==    at / {n++} {h = 0} END {print n + 0}')
procs=$(ls "$logs" | wc -l)
if [ "$errors" = 0 ]; then
  ok "valgrind: no error in $procs processes"
else
  bad "valgrind: $errors errors in $procs processes (logs in $logs), $(grep -lE '\.(cpp|hpp):[0-9]+\)|module\.c:[0-9]+\)|geocluster\.so\)' "$logs"/vg.*.log | wc -l) of them with a frame in the extension"
  for f in $(find "$logs" -name 'vg.*.log' -size +0 | head -n 3); do head -n 30 "$f"; done
fi
echo "$(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
