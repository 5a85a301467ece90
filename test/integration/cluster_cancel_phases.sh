#!/usr/bin/env bash
# cluster_agg answers a cancel within 200 ms in every phase whose work grows with the bins.
#
# 100 statement_timeouts in ONE session, at pseudo-random moments (3%..80% of an uninterrupted
# run) of three kinds of query over 500,000 markers spread over the world at zoom 29 (every
# marker its own bin, every bin its own cluster), which between them spend long stretches in
# each phase:
#   clusters  cluster_state_clusters() of a stored 500,000-bin state, serial: deserialise,
#             finalise (its sorts and passes), build the output array of 500,000 clusters
#   restate   cluster_state_agg() of two stored states of 300,000 bins (100,000 in common),
#             serial: deserialise both, combine them, serialise the 500,000-bin result
#   parallel  cluster_agg over the markers, parallel plan forced (two workers): the workers
#             serialise their partial states, the leader deserialises and combines them, then
#             finalises and builds the output array
# The delay of a cancel is the query's elapsed time (from a clock_timestamp() just before it
# until one in the next statement, which the session answers once the ERROR is out and, for a
# parallel plan, the workers have exited) minus its statement_timeout.
#
# Checks: every iteration ends with SQLSTATE 57014 (one that outran its timeout, when the
# machine got faster than at calibration, is reported; at most 10 allowed); the largest delay is
# at most 200 ms (printed with the median, per kind and overall); the same backend then still
# answers; the plan of the parallel kind is parallel; the server log shows no crashed backend.
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one. Prints
# `N passed, M failed` last and exits non-zero on failure. About three minutes on two cores.
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
start=$(date +%s)
db=geocluster_cancel_phases
finish() {
  [ -n "${GEOCLUSTER_CANCEL_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  echo "total $(( $(date +%s) - start )) s"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}
q() { psql -X -q -A -t -d "$db" -v ON_ERROR_STOP=1 "$@"; }
max_delay_ms=200

log=${GEOCLUSTER_PGTMP:+$GEOCLUSTER_PGTMP/server.log}
log_offset=0
if [ -n "$log" ] && [ -f "$log" ]; then log_offset=$(stat -c %s "$log"); fi

psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 \
  || { fail "cannot create database $db"; finish; }
echo "== data: 500,000 markers, three stored states"
q <<'SQL' || { fail "setup"; finish; }
SET client_min_messages = warning;
CREATE EXTENSION geocluster;
SELECT setseed(0.17);
CREATE UNLOGGED TABLE phase_markers AS
SELECT g::bigint AS id, random() * 170 - 85 AS lat, random() * 360 - 180 AS lon
  FROM generate_series(1, 500000) g;
ANALYZE phase_markers;
-- Stored uncompressed, so that reading a state back is quick and the time goes to the engine.
CREATE UNLOGGED TABLE phase_state (name text, s bytea);
ALTER TABLE phase_state ALTER COLUMN s SET STORAGE EXTERNAL;
SET max_parallel_workers_per_gather = 0;
INSERT INTO phase_state SELECT 'whole', cluster_state_agg(lat, lon, 29, 60, id) FROM phase_markers;
INSERT INTO phase_state SELECT 'low', cluster_state_agg(lat, lon, 29, 60, id) FROM phase_markers WHERE id <= 300000;
INSERT INTO phase_state SELECT 'high', cluster_state_agg(lat, lon, 29, 60, id) FROM phase_markers WHERE id > 200000;
SQL
echo "   $(( $(date +%s) - start )) s"

parallel_settings="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;"
kind_sql() {
  case $1 in
    clusters) echo "SET max_parallel_workers_per_gather = 0; SELECT cardinality(cluster_state_clusters(s)) FROM phase_state WHERE name = 'whole';" ;;
    restate) echo "SET max_parallel_workers_per_gather = 0; SELECT length(cluster_state_agg(s)) FROM phase_state WHERE name IN ('low', 'high');" ;;
    parallel) echo "$parallel_settings SELECT cardinality(cluster_agg(lat, lon, 29, 60, id)) FROM phase_markers;" ;;
  esac
}
reset_sql='RESET statement_timeout; RESET max_parallel_workers_per_gather; RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;'

plan=$(q -c "$parallel_settings EXPLAIN (COSTS OFF) SELECT cardinality(cluster_agg(lat, lon, 29, 60, id)) FROM phase_markers;" 2>&1)
if grep -q 'Partial Aggregate' <<<"$plan" && grep -q 'Workers Planned: 2' <<<"$plan"; then
  ok "the parallel kind's plan is parallel (Partial Aggregate, 2 workers planned)"
else
  fail "the parallel kind's plan is not parallel: $(tr '\n' ' ' <<<"$plan")"
fi

# Milliseconds an uninterrupted run takes as the server runs it (psql's \timing), the smallest
# of three: a run slowed by a burst of load elsewhere would set timeouts the query then outruns.
duration_ms() {
  local best=999999999 ms i
  for i in 1 2 3; do
    ms=$( { echo 'SET jit = off;'; echo '\timing on'; kind_sql "$1"; } | q 2>/dev/null \
          | awk '/^Time: / { t = $2 } END { if (t != "") printf "%d", t }')
    [ -n "$ms" ] || { echo 0; return; }
    (( ms < best )) && best=$ms
  done
  echo "$best"
}

echo "== calibration (uninterrupted runs)"
declare -A dur
for k in clusters restate parallel; do
  dur[$k]=$(duration_ms "$k")
  echo "   $k: ${dur[$k]} ms"
  if (( dur[$k] < 300 )); then fail "$k runs only ${dur[$k]} ms: too short to cancel in its phases"; fi
done

echo "== 100 x statement_timeout in one session"
# Timeouts from a fixed linear congruential sequence, uniform over 3%..80% of the kind's run
# (pct in tenths of a percent).
seed=12345
next_pct() { seed=$(( (seed * 1103515245 + 12345) % 2147483648 )); pct=$(( 30 + (seed / 65536) % 771 )); }
script=$(mktemp)
{
  echo '\set VERBOSITY sqlstate'
  echo 'SET jit = off;'
  echo "SELECT pg_backend_pid() AS pid0 \\gset"
  for i in $(seq 1 100); do
    case $(( i % 3 )) in 0) k=clusters ;; 1) k=restate ;; 2) k=parallel ;; esac
    next_pct  # (not in a $(...) subshell: the seed must advance)
    t=$(( dur[$k] * pct / 1000 ))
    (( t < 1 )) && t=1
    # The settings first: between t0 and t1 only the query itself and one round trip each way.
    kind_sql "$k" | sed 's/SELECT .*//'
    echo "SET statement_timeout = ${t};"
    echo "SELECT clock_timestamp() AS t0 \\gset"
    kind_sql "$k" | sed 's/^.*; SELECT/SELECT/'
    echo "\\set qstate :SQLSTATE"
    echo "SELECT clock_timestamp() AS t1 \\gset"
    echo "$reset_sql"
    echo "SELECT format('iter %s %s %s sqlstate %s elapsed %s', $i, '$k', $t, :'qstate', round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1000));"
  done
  echo "SELECT 'same_backend ' || (pg_backend_pid() = :pid0);"
  echo "SELECT 'still_serving ' || cardinality(cluster_agg(lat, lon, 3)) FROM phase_markers WHERE id <= 100000;"
} >"$script"
t_loop=$(date +%s)
out=$(psql -X -q -A -t -d "$db" -f "$script" 2>/dev/null)
rm -f "$script"
echo "   $(( $(date +%s) - t_loop )) s"

iters=$(grep -c '^iter ' <<<"$out")
canceled=$(grep -cE '^iter .* sqlstate 57014 ' <<<"$out")
completed=$(grep -cE '^iter .* sqlstate 00000 ' <<<"$out")
if [ "$iters" = 100 ] && [ $(( canceled + completed )) = 100 ] && (( completed <= 10 )); then
  ok "$canceled of 100 iterations ended with 57014, $completed outran their timeout"
else
  fail "$canceled of $iters iterations (100 expected) ended with 57014, $completed outran their timeout (at most 10)"
  grep '^iter ' <<<"$out" | grep -vE ' sqlstate (57014|00000) ' | head -n 5
fi
# Delays of the cancelled iterations: elapsed - timeout.
delays() { grep -E "^iter [0-9]+ $1 .* sqlstate 57014 " <<<"$out" | awk '{ print $NF - $4 }' | sort -n; }
stats() {  # name, delays on stdin -> "n, median, max"
  awk -v name="$1" '{ d[NR] = $1 } END {
    if (NR == 0) { printf "%s: no cancelled iteration\n", name; exit }
    m = (NR % 2) ? d[(NR + 1) / 2] : (d[NR / 2] + d[NR / 2 + 1]) / 2
    printf "%s: %d cancels, delay median %d ms, max %d ms\n", name, NR, m, d[NR] }'
}
for k in clusters restate parallel; do echo "   $(delays "$k" | stats "$k")"; done
all=$(delays '[a-z]+')
summary=$(stats all <<<"$all")
max=$(tail -n 1 <<<"$all")
if [ -n "$max" ] && (( max <= max_delay_ms )); then
  ok "cancel to ERROR: ${summary#all: } (limit $max_delay_ms ms)"
else
  fail "cancel to ERROR: ${summary#all: } (limit $max_delay_ms ms)"
  grep -E '^iter .* sqlstate 57014 ' <<<"$out" \
    | awk -v lim="$max_delay_ms" '$NF - $4 > lim { printf "   late: %s %s timeout %s ms, delay %d ms\n", $2, $3, $4, $NF - $4 }' | head -n 12
fi
if grep -q '^same_backend true$' <<<"$out" && grep -qE '^still_serving [0-9]+$' <<<"$out"; then
  ok "the same backend still serves queries"
else
  fail "the backend did not survive: $(tail -n 3 <<<"$out")"
fi

if [ -n "$log" ] && [ -f "$log" ]; then
  crashes=$(tail -c +"$((log_offset + 1))" "$log" | grep -E 'terminated by signal|was terminated|server process .* exited with exit code [^0]|PANIC' | head -n 5)
  if [ -z "$crashes" ]; then ok "no crashed backend in the server log"; else fail "server log: $crashes"; fi
else
  echo "   (log check skipped: no GEOCLUSTER_PGTMP server log)"
fi

finish
