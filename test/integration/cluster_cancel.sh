#!/usr/bin/env bash
# cluster_agg under cancellation, and its memory.
#
#  1. statement_timeout: 100 long cluster_agg queries over 2,000,000 markers in ONE session, each
#     interrupted by a short statement_timeout, in three kinds that interrupt different code:
#       scan      serial plan, interrupted while rows go into the state (transition function)
#       finalize  cluster_state_clusters() of a stored ~280k-bin state, interrupted while the
#                 engine clusters (cluster_finalize polls for interrupts)
#       parallel  forced parallel plan, interrupted with two workers building partial states
#     Every iteration must end with SQLSTATE 57014; the backend keeps serving (same pid, a query
#     runs afterwards); its memory contexts grow by at most 1 MB over the 100 iterations
#     (pg_backend_memory_contexts, after a warm-up), and its anonymous resident memory (RssAnon,
#     which would show a malloc leak the contexts cannot see) by at most 8 MB over the last 50.
#  2. Cancellation is prompt: cluster_state_clusters() of a ~280k-bin state cancelled at 20..30%
#     of its run ends before 85% of an uninterrupted run (the engine polls while clustering; it
#     does not run to the end). The delay past the timeout is printed.
#  3. pg_cancel_backend from a second connection, 5 times, at different phases: each victim gets
#     57014 and then answers a query on the same connection.
#  4. The server log shows no crashed backend ("terminated by signal", "was terminated", PANIC).
#  5. Peak memory of a world-zoom query: cluster_agg over 10,000,000 generated rows (no table,
#     serial plan, JIT off) at zoom 0 and 2, in a fresh backend each; the peak is VmHWM after the
#     query minus VmRSS before it (/proc/self/status read by the backend itself), an upper bound
#     on the query's extra resident memory. It must stay under 64 MB. The same is printed for
#     1,000,000 rows spread over the world at zoom 6 (about 650,000 occupied bins) to show the
#     cost per bin; that one is reported, not bounded.
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one. The
# log check needs GEOCLUSTER_PGTMP (scripts/pgtmp's directory). Prints `N passed, M failed` last
# and exits non-zero on failure. About two minutes on a loaded two-core machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

if [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  trap 'scripts/pgtmp stop "$GEOCLUSTER_PGTMP"' EXIT
fi

passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok:   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
. "$here/lib_reliability/cancel_verdicts.sh"
finish() {
  [ -n "${GEOCLUSTER_CANCEL_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  echo "total $(( $(date +%s) - start )) s"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}
start=$(date +%s)
db=geocluster_cancel
q() { psql -X -q -A -t -d "$db" -v ON_ERROR_STOP=1 "$@"; }

log=${GEOCLUSTER_PGTMP:+$GEOCLUSTER_PGTMP/server.log}
log_offset=0
if [ -n "$log" ] && [ -f "$log" ]; then log_offset=$(stat -c %s "$log"); fi

psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 \
  || { fail "cannot create database $db"; finish; }
echo "== data: 2,000,000 markers and a stored state"
q <<'SQL' || { fail "setup"; finish; }
SET client_min_messages = warning;
CREATE EXTENSION geocluster;
SELECT setseed(0.42);
CREATE UNLOGGED TABLE cancel_markers AS
SELECT g::bigint AS id, random() * 170 - 85 AS lat, random() * 360 - 180 AS lon
  FROM generate_series(1, 2000000) g;
ANALYZE cancel_markers;
-- The state of the world at zoom 5 (about 280,000 occupied bins, 27 MB), stored uncompressed
-- so that reading it back is quick: most of the time of cluster_state_clusters() is then the
-- engine's clustering.
CREATE UNLOGGED TABLE cancel_state (zoom int, s bytea);
ALTER TABLE cancel_state ALTER COLUMN s SET STORAGE EXTERNAL;
SET max_parallel_workers_per_gather = 0;
INSERT INTO cancel_state SELECT 5, cluster_state_agg(lat, lon, 5, 60, id) FROM cancel_markers;
SQL
echo "   $(( $(date +%s) - start )) s"

# The three kinds: the settings and the query.
kind_sql() {
  case $1 in
    scan) echo "SET max_parallel_workers_per_gather = 0; SELECT cardinality(cluster_agg(lat, lon, 3, 60, id)) FROM cancel_markers;" ;;
    finalize) echo "SET max_parallel_workers_per_gather = 0; SELECT cardinality(cluster_state_clusters(s)) FROM cancel_state WHERE zoom = 5;" ;;
    parallel) echo "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET max_parallel_workers_per_gather = 2; SELECT cardinality(cluster_agg(lat, lon, 3, 60, id)) FROM cancel_markers;" ;;
  esac
}
# Milliseconds an uninterrupted query of a kind takes (the smaller of two runs), as the server
# runs it (psql's \timing of the SELECT): the delays below count from pg_stat_activity's
# query_start, so a client-side time, which adds psql's start and connection, would put them past
# the end of a short query (the victim then finishes and disconnects before the cancel arrives).
duration_ms() {
  local best=999999999 ms i
  for i in 1 2; do
    ms=$( { echo 'SET jit = off;'; echo '\timing on'; kind_sql "$1"; } | q 2>/dev/null \
          | awk '/^Time: / { t = $2 } END { if (t != "") printf "%d", t }')
    [ -n "$ms" ] || { echo 0; return; }
    (( ms < best )) && best=$ms
  done
  echo "$best"
}

echo "== calibration (uninterrupted runs)"
# Timeouts are drawn from [tmin, tmax]: for scan and parallel 50..200 ms (at most a third of the
# query); for finalize 18%..30% of the query, past the reading and deserialising of the state
# (10-15% of it), so that they land in the engine's clustering, with room for the query to run
# nearly three times faster than when calibrated (the machine's load changes).
declare -A dur tmin tmax
for k in scan finalize parallel; do
  # The fastest of three runs: a run slowed by a burst of load elsewhere would set timeouts the
  # query then outruns once the load is gone.
  dur[$k]=$(duration_ms "$k")
  for _ in 1 2; do d=$(duration_ms "$k"); (( d < dur[$k] )) && dur[$k]=$d; done
  case $k in
    finalize) tmin[$k]=$(( dur[$k] * 18 / 100 )); tmax[$k]=$(( dur[$k] * 30 / 100 )) ;;
    *) t=$(( dur[$k] / 3 )); (( t > 200 )) && t=200; tmax[$k]=$t; tmin[$k]=$(( t / 4 )) ;;
  esac
  echo "   $k: ${dur[$k]} ms uninterrupted, timeouts ${tmin[$k]}..${tmax[$k]} ms"
  if (( tmax[$k] < 20 )); then fail "$k runs only ${dur[$k]} ms: too short to interrupt reliably"; fi
done

echo "== 1. 100 x statement_timeout in one session"
script=$(mktemp)
{
  echo '\set VERBOSITY sqlstate'
  echo 'SET jit = off;'
  echo "SELECT pg_backend_pid() AS pid0 \\gset"
  # warm-up: one interrupted query of each kind, and one that completes
  for k in scan finalize parallel; do
    echo "SET statement_timeout = $(( tmax[$k] ));"; kind_sql "$k"; echo 'RESET statement_timeout;'
  done
  echo 'SET max_parallel_workers_per_gather = 0;'
  echo 'SELECT cardinality(cluster_agg(lat, lon, 3)) FROM cancel_markers WHERE id <= 1000 \g /dev/null'
  echo "SELECT 'mem_before ' || sum(total_bytes) FROM pg_backend_memory_contexts;"
  echo "SELECT 'anon_before ' || (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1];"
  for i in $(seq 1 100); do
    case $(( i % 3 )) in 0) k=scan ;; 1) k=finalize ;; 2) k=parallel ;; esac
    t=$(( tmin[$k] + (i * 37) % (tmax[$k] - tmin[$k] + 1) ))
    echo "SET statement_timeout = ${t};"
    echo "SELECT clock_timestamp() AS t0 \\gset"
    kind_sql "$k"
    echo "\\set qstate :SQLSTATE"
    echo 'RESET statement_timeout; RESET max_parallel_workers_per_gather; RESET parallel_setup_cost; RESET parallel_tuple_cost;'
    echo "SELECT format('iter %s %s timeout %s sqlstate %s elapsed %s', $i, '$k', $t, :'qstate', round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000));"
    if [ "$i" = 50 ]; then
      echo "SELECT 'anon_mid ' || (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1];"
    fi
  done
  echo "SELECT 'mem_after ' || sum(total_bytes) FROM pg_backend_memory_contexts;"
  echo "SELECT 'anon_after ' || (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\\s+(\\d+)'))[1];"
  echo "SELECT 'same_backend ' || (pg_backend_pid() = :pid0);"
  echo "SELECT 'still_serving ' || cardinality(cluster_agg(lat, lon, 3)) FROM cancel_markers WHERE id <= 100000;"
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
loop_verdicts "$out" scan finalize parallel
if grep -q '^same_backend true$' <<<"$out" && grep -qE '^still_serving [0-9]+$' <<<"$out"; then
  ok "the same backend still serves queries"
else
  fail "the backend did not survive: $(tail -n 3 <<<"$out")"
fi

echo "== 2. prompt: cancelled early in finalisation, the query ends well before it would have"
# Uninterrupted the query takes d (measured just before, so under the same load); cancelled at
# 20..30% of d it must end before 85% of d. The engine polls for interrupts in every loop over
# bins or clusters, sorts and deserialising included, so the delay past the timeout (printed) is
# short; cluster_cancel_phases.sh bounds it in every phase.
for pct in 20 25 30; do
  d=$(duration_ms finalize)
  t=$(( d * pct / 100 ))
  res=$(psql -X -q -A -t -d "$db" 2>/dev/null <<SQL | tail -n 1
SET jit = off;
SET max_parallel_workers_per_gather = 0;
\set VERBOSITY sqlstate
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = $t;
SELECT cardinality(cluster_state_clusters(s)) FROM cancel_state WHERE zoom = 5;
\set qstate :SQLSTATE
RESET statement_timeout;
SELECT :'qstate' || ' ' || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);
SQL
)
  st=${res% *}; el=${res#* }
  if [ "$st" = 57014 ] && (( el < d * 85 / 100 )); then
    ok "cluster_state_clusters cancelled at $t ms ended after $el ms, $(( el - t )) ms late (uninterrupted: $d ms)"
  else
    fail "cluster_state_clusters cancelled at $t ms: sqlstate ${st:-?}, ended after ${el:-?} ms (uninterrupted: $d ms; must end before $(( d * 85 / 100 )) ms)"
  fi
done

echo "== 3. pg_cancel_backend from a second connection"
for v in "scan 15" "finalize 30" "parallel 25" "finalize 50" "scan 40"; do
  k=${v% *}; pct=${v#* }
  delay_ms=$(( dur[$k] * pct / 100 ))
  app="gc_cancel_victim_$$_$k$pct"
  vout=$(mktemp)
  { echo "SET application_name = '$app';"; echo 'SET jit = off;'; echo '\set VERBOSITY sqlstate'
    kind_sql "$k"; echo '\echo victim_sqlstate :SQLSTATE'; echo "SELECT 'victim_alive ' || pg_backend_pid();"
  } | psql -X -q -A -t -d "$db" >"$vout" 2>/dev/null &
  vpid=$!
  pid=""; age=0
  for _ in $(seq 1 200); do
    read -r pid age < <(q -F ' ' -c "SELECT pid, round(extract(epoch FROM clock_timestamp() - query_start) * 1000)
                                      FROM pg_stat_activity WHERE application_name = '$app' AND state = 'active'
                                       AND query LIKE '%cluster%'")
    [ -n "$pid" ] && break
    sleep 0.05
  done
  if [ -z "$pid" ]; then fail "victim $k never started"; wait "$vpid"; rm -f "$vout"; continue; fi
  # cancel delay_ms after the query started (pg_stat_activity.query_start)
  sleep "$(awk -v ms="$delay_ms" -v age="$age" 'BEGIN { s = (ms - age) / 1000; printf "%.3f", (s > 0 ? s : 0) }')"
  t0=$(date +%s%N)
  sent=$(q -c "SELECT pg_cancel_backend($pid)")
  wait "$vpid"
  el=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ "$sent" = t ] && grep -q '^victim_sqlstate 57014$' "$vout" && grep -q "^victim_alive $pid$" "$vout"; then
    ok "pg_cancel_backend of a $k query ${delay_ms} ms in: 57014 after $el ms, the connection still serves"
  else
    fail "pg_cancel_backend of a $k query ${delay_ms} ms in (sent: $sent): $(tr '\n' ' ' <"$vout")"
  fi
  rm -f "$vout"
done

echo "== 4. server log"
if [ -n "$log" ] && [ -f "$log" ]; then
  crashes=$(tail -c +"$((log_offset + 1))" "$log" | grep -E 'terminated by signal|was terminated|server process .* exited with exit code [^0]|PANIC' | head -n 5)
  if [ -z "$crashes" ]; then ok "no crashed backend in $log"; else fail "server log: $crashes"; fi
else
  echo "   (skipped: no GEOCLUSTER_PGTMP server log)"
fi

echo "== 5. peak memory at world zoom (fresh backend per query, serial, JIT off)"
peak_kb() {  # ROWS SELECT-EXPRESSION -> kB of VmHWM after minus VmRSS before
  q <<SQL | tail -n 1
SET jit = off; SET max_parallel_workers_per_gather = 0;
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+)'))[1] AS rss \gset
SELECT $2 FROM (SELECT random() * 170 - 85 AS lat, random() * 360 - 180 AS lon
                  FROM (SELECT generate_series(1, $1)) g) s \g /dev/null
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::int - :rss;
SQL
}
base=$(peak_kb 10000000 "count(lat + lon)")
echo "   baseline, count(lat + lon) over the same 10,000,000 rows: $base kB"
for z in 0 2; do
  p=$(peak_kb 10000000 "cardinality(cluster_agg(lat, lon, $z))")
  if [ -n "$p" ] && (( p <= 65536 )); then
    ok "cluster_agg over 10,000,000 rows at zoom $z: peak +$p kB (limit 64 MB; baseline $base kB)"
  else
    fail "cluster_agg over 10,000,000 rows at zoom $z: peak +${p:-?} kB (limit 64 MB)"
  fi
done
p=$(peak_kb 1000000 "cardinality(cluster_agg(lat, lon, 6))")
bins=$(q -c "SELECT (octet_length(cluster_state_agg(lat, lon, 6, 60, NULL)) - 24) / 97 FROM (SELECT random() * 170 - 85 AS lat, random() * 360 - 180 AS lon FROM generate_series(1, 1000000)) s")
echo "   for scale: 1,000,000 rows over the world at zoom 6 ($bins occupied bins): peak +$p kB, $(( p * 1024 / (bins > 0 ? bins : 1) )) bytes per bin"

finish
