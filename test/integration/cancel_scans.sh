#!/usr/bin/env bash
# Covers and index scans under cancellation, and the backend's memory (cluster_cancel.sh does
# the same for cluster_agg).
#
# 2,000,000 markers, a btree on qk, a GiST on qk2 (a copy of qk) and an SP-GiST on gh. Nine
# kinds of query, each over the whole table or a large part of it, each checked by EXPLAIN to
# run the plan it is meant to (an index kind that fell back to a sequential scan would test
# nothing):
#   cover_qk       quadkey_cover of a box around every row (sequential scan, serial)
#   cover_gh       geohash_cover of a box around every row
#   viewport_qk    qk <@ quadkey_cover(big box, 5): the planner support's ranges, bitmap scans of the btree
#   viewport_gh    gh <@ geohash_cover(big box, 2): the same over the SP-GiST
#   btree          qk <@ '0': index scan of the btree (a quarter of the rows)
#   gist           qk2 <@ '1': index scan of the GiST
#   gist_bitmap    qk2 <@ '2': bitmap scan of the GiST
#   spgist         gh <@ '': index scan of the SP-GiST (every row)
#   parallel_btree qk <@ '': parallel index scan of the btree, two workers
#
#  1. Plans: each kind runs the plan named above.
#  2. statement_timeout, 100 times in ONE session, the kinds in turn: every iteration ends with
#     SQLSTATE 57014; afterwards the same backend answers, and small queries of every kind give
#     the answers they gave before the loop; its memory contexts grow by at most 1 MB over the
#     100 iterations (pg_backend_memory_contexts, after a warm-up) and its anonymous resident
#     memory (RssAnon: a malloc leak the contexts cannot see) by at most 8 MB over the last 50.
#  3. The server did not crash or restart: pg_postmaster_start_time() is unchanged, and the
#     server log (GEOCLUSTER_PGTMP's) shows no crashed backend, PANIC or reinitialisation.
#
# Timeouts are calibrated on uninterrupted runs (capped at 2 s: a kind still running then takes
# at least ten times the longest timeout): for each kind, t = a third of its fastest run, at
# most 200 ms, and the timeouts are drawn from [t/4, t] (at least 10 ms), so that the query
# can run three times faster than when calibrated (the machine's load changes) and still be
# interrupted.
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one; works
# in its own database, dropped at the end. Prints `N passed, M failed` last and exits non-zero
# on failure. About two minutes on a loaded two-core machine, most of it loading the data.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 1

if [ -z "${GEOCLUSTER_PGTMP:-}" ] && [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  trap 'scripts/pgtmp stop "$GEOCLUSTER_PGTMP"' EXIT
fi

passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok:   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
. "$here/lib_reliability/cancel_verdicts.sh"
start=$(date +%s)
db=geocluster_cancel_scans
finish() {
  [ -n "${GEOCLUSTER_CANCEL_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  echo "total $(( $(date +%s) - start )) s"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}
q() { psql -X -q -A -t -d "$db" -v ON_ERROR_STOP=1 "$@"; }

log=${GEOCLUSTER_PGTMP:+$GEOCLUSTER_PGTMP/server.log}
log_offset=0
if [ -n "$log" ] && [ -f "$log" ]; then log_offset=$(stat -c %s "$log"); fi

psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 \
  || { fail "cannot create database $db"; finish; }
echo "== data: 2,000,000 markers, a btree, a GiST and an SP-GiST"
q >/dev/null <<'SQL' || { fail "setup"; finish; }
SET client_min_messages = warning;
CREATE EXTENSION geocluster;
SELECT setseed(0.42);
CREATE UNLOGGED TABLE scan_markers AS
SELECT g::bigint AS id, lat, lon, quadkey(lat, lon, 18) AS qk, quadkey(lat, lon, 18) AS qk2,
       geohash(lat, lon, 9) AS gh
  FROM (SELECT g, random() * 170 - 85 AS lat, random() * 360 - 180 AS lon
          FROM generate_series(1, 2000000) g) s;
CREATE INDEX scan_markers_qk_btree ON scan_markers (qk);
CREATE INDEX scan_markers_qk2_gist ON scan_markers USING gist (qk2);
CREATE INDEX scan_markers_gh_spgist ON scan_markers USING spgist (gh);
VACUUM ANALYZE scan_markers;
SQL
echo "   $(( $(date +%s) - start )) s"

kinds="cover_qk cover_gh viewport_qk viewport_gh btree gist gist_bitmap spgist parallel_btree"
# The settings of a kind (RESET ALL; SET jit = off ends every query of the session).
kind_settings() {
  case $1 in
    cover_*) echo "SET max_parallel_workers_per_gather = 0;" ;;
    viewport_*) echo "SET max_parallel_workers_per_gather = 0; SET enable_seqscan = off;" ;;
    btree|gist|spgist) echo "SET max_parallel_workers_per_gather = 0; SET enable_seqscan = off; SET enable_bitmapscan = off;" ;;
    gist_bitmap) echo "SET max_parallel_workers_per_gather = 0; SET enable_seqscan = off; SET enable_indexscan = off;" ;;
    parallel_btree) echo "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_index_scan_size = 0; SET max_parallel_workers_per_gather = 2; SET enable_seqscan = off; SET enable_bitmapscan = off;" ;;
  esac
}
# The long query of a kind, and (kind_probe) a small one with the same plan, whose answer must
# not change across the loop.
kind_query() {
  case $1 in
    cover_qk) echo "SELECT sum(cardinality(quadkey_cover(lat, lon, lat + 1, least(lon + 1, 180), 8))) FROM scan_markers" ;;
    cover_gh) echo "SELECT sum(cardinality(geohash_cover(lat, lon, lat + 1, least(lon + 1, 180), 4))) FROM scan_markers" ;;
    viewport_qk) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ quadkey_cover(-60, -170, 60, 170, 5)" ;;
    viewport_gh) echo "SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ geohash_cover(-60, -170, 60, 170, 2)" ;;
    btree) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ '0'" ;;
    gist) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '1'" ;;
    gist_bitmap) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '2'" ;;
    spgist) echo "SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ ''" ;;
    parallel_btree) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ ''" ;;
  esac
}
kind_probe() {
  case $1 in
    cover_qk) echo "SELECT sum(cardinality(quadkey_cover(lat, lon, lat + 1, least(lon + 1, 180), 8))) FROM scan_markers WHERE id <= 2000" ;;
    cover_gh) echo "SELECT sum(cardinality(geohash_cover(lat, lon, lat + 1, least(lon + 1, 180), 4))) FROM scan_markers WHERE id <= 2000" ;;
    viewport_qk) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ quadkey_cover(40, -10, 50, 10, 7)" ;;
    viewport_gh) echo "SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ geohash_cover(40, -10, 50, 10, 4)" ;;
    btree) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ '0123'" ;;
    gist) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '1230'" ;;
    gist_bitmap) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '2301'" ;;
    spgist) echo "SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ 'u0'" ;;
    parallel_btree) echo "SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ '3012'" ;;
  esac
}
kind_plan() {  # a line the kind's plan must have
  case $1 in
    cover_*) echo "Seq Scan on scan_markers" ;;
    viewport_qk) echo "Bitmap Index Scan on scan_markers_qk_btree" ;;
    viewport_gh) echo "Bitmap Index Scan on scan_markers_gh_spgist" ;;
    btree) echo "Index Scan using scan_markers_qk_btree" ;;
    gist) echo "Index Scan using scan_markers_qk2_gist" ;;
    gist_bitmap) echo "Bitmap Index Scan on scan_markers_qk2_gist" ;;
    spgist) echo "Index Scan using scan_markers_gh_spgist" ;;
    parallel_btree) echo "Parallel Index Scan using scan_markers_qk_btree" ;;
  esac
}

echo "== 1. plans"
for k in $kinds; do
  plan=$(q -c "SET jit = off" -c "$(kind_settings "$k")" -c "EXPLAIN (COSTS OFF) $(kind_query "$k")" 2>&1)
  want=$(kind_plan "$k")
  if grep -qF -- "$want" <<<"$plan" && { [ "$k" = parallel_btree ] || ! grep -q Gather <<<"$plan"; }; then
    ok "$k: $want ($(grep -cE 'Scan (on|using) scan_markers' <<<"$plan") scan nodes)"
  else
    fail "$k: the plan has no '$want'"; head -n 8 <<<"$plan"
  fi
done

echo "== calibration (uninterrupted runs, capped at 2 s)"
cap=2000
# Milliseconds a run of a kind takes, or the cap if it is still running then.
duration_ms() {
  local t0 t1 st
  t0=$(date +%s%N)
  st=$(psql -X -q -A -t -d "$db" 2>/dev/null <<SQL | tail -n 1
SET jit = off;
$(kind_settings "$1")
\set VERBOSITY sqlstate
SET statement_timeout = $cap;
$(kind_query "$1") \g /dev/null
\echo sqlstate :SQLSTATE
SQL
)
  t1=$(date +%s%N)
  case $st in
    "sqlstate 00000") echo $(( (t1 - t0) / 1000000 )) ;;
    "sqlstate 57014") echo "$cap" ;;
    *) echo 0 ;;
  esac
}
declare -A dur tmin tmax
for k in $kinds; do
  # The fastest of three runs (a run slowed by a burst of load elsewhere would set timeouts the
  # query then outruns once the load is gone); one run when it reaches the cap.
  dur[$k]=$(duration_ms "$k")
  if (( dur[$k] < cap )); then
    for _ in 1 2; do d=$(duration_ms "$k"); (( d < dur[$k] )) && dur[$k]=$d; done
  fi
  t=$(( dur[$k] / 3 )); (( t > 200 )) && t=200
  tmax[$k]=$t; tmin[$k]=$(( t / 4 )); (( tmin[$k] < 10 )) && tmin[$k]=10
  echo "   $k: $( (( dur[$k] >= cap )) && echo ">= ")${dur[$k]} ms uninterrupted, timeouts ${tmin[$k]}..${tmax[$k]} ms"
  if (( tmax[$k] < 30 )); then fail "$k runs only ${dur[$k]} ms: too short to interrupt reliably"; fi
done

echo "== 2. 100 x statement_timeout in one session"
reset='RESET ALL; SET jit = off;'
script=$(mktemp)
{
  echo '\set VERBOSITY sqlstate'
  echo "$reset"
  echo "SELECT pg_backend_pid() AS pid0, pg_postmaster_start_time() AS pm0 \\gset"
  # probe answers before; then a warm-up: one interrupted query of each kind
  for k in $kinds; do
    echo "$(kind_settings "$k")"; echo "SELECT 'probe_before $k ' || x::text FROM ($(kind_probe "$k")) x;"; echo "$reset"
  done
  for k in $kinds; do
    echo "$(kind_settings "$k")"; echo "SET statement_timeout = ${tmax[$k]};"; echo "$(kind_query "$k") \\g /dev/null"; echo "$reset"
  done
  echo "SELECT 'mem_before ' || sum(total_bytes) FROM pg_backend_memory_contexts;"
  echo "SELECT 'anon_before ' || (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1];"
  read -r -a ks <<<"$kinds"
  for i in $(seq 1 100); do
    k=${ks[$(( (i - 1) % ${#ks[@]} ))]}
    t=$(( tmin[$k] + (i * 37) % (tmax[$k] - tmin[$k] + 1) ))
    echo "$(kind_settings "$k")"
    echo "SET statement_timeout = ${t};"
    echo "SELECT clock_timestamp() AS t0 \\gset"
    echo "$(kind_query "$k") \\g /dev/null"
    echo "\\set qstate :SQLSTATE"
    echo "$reset"
    echo "SELECT format('iter %s %s timeout %s sqlstate %s elapsed %s', $i, '$k', $t, :'qstate', round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000));"
    if [ "$i" = 50 ]; then
      echo "SELECT 'anon_mid ' || (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1];"
    fi
  done
  echo "SELECT 'mem_after ' || sum(total_bytes) FROM pg_backend_memory_contexts;"
  echo "SELECT 'anon_after ' || (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1];"
  echo "SELECT 'same_backend ' || (pg_backend_pid() = :pid0);"
  echo "SELECT 'same_postmaster ' || (pg_postmaster_start_time() = :'pm0'::timestamptz);"
  for k in $kinds; do
    echo "$(kind_settings "$k")"; echo "SELECT 'probe_after $k ' || x::text FROM ($(kind_probe "$k")) x;"; echo "$reset"
  done
} >"$script"
t_loop=$(date +%s)
out=$(psql -X -q -A -t -d "$db" -f "$script" 2>/dev/null)
rm -f "$script"
iters=$(grep -c '^iter ' <<<"$out")
interrupted=$(grep -cE '^iter .* sqlstate 57014 ' <<<"$out")
if [ "$iters" = 100 ] && [ "$interrupted" = 100 ]; then
  ok "100 of 100 statement_timeout iterations ended with 57014 ($(( $(date +%s) - t_loop )) s)"
else
  fail "$interrupted of $iters iterations (100 expected) ended with 57014"
  grep '^iter ' <<<"$out" | grep -v ' sqlstate 57014 ' | head -n 5
fi
loop_verdicts "$out" $kinds
if grep -q '^same_backend true$' <<<"$out"; then
  ok "the same backend still serves queries"
else
  fail "the backend did not survive: $(tail -n 3 <<<"$out")"
fi
changed=0; probes=0
for k in $kinds; do
  b=$(sed -n "s/^probe_before $k //p" <<<"$out"); a=$(sed -n "s/^probe_after $k //p" <<<"$out")
  if [ -n "$b" ] && [ "$b" = "$a" ]; then probes=$((probes + 1)); else changed=$((changed + 1)); echo "   $k: before ${b:-?}, after ${a:-?}"; fi
done
if [ "$changed" = 0 ]; then
  ok "the small query of each of the $probes kinds gives the same answer after the loop as before"
else
  fail "$changed small queries gave a different answer (or none) after the loop"
fi

echo "== 3. no crash, no restart"
if grep -q '^same_postmaster true$' <<<"$out"; then
  ok "pg_postmaster_start_time() unchanged"
else
  fail "the postmaster restarted (or the session died): $(grep same_postmaster <<<"$out")"
fi
if [ -n "$log" ] && [ -f "$log" ]; then
  crashes=$(tail -c +"$((log_offset + 1))" "$log" \
    | grep -E 'terminated by signal|was terminated|server process .* exited with exit code [^0]|PANIC|reinitializing|not properly shut down' | head -n 5)
  if [ -z "$crashes" ]; then ok "no crashed backend in $log"; else fail "server log: $crashes"; fi
else
  echo "   (skipped: no GEOCLUSTER_PGTMP server log)"
fi

finish
