#!/usr/bin/env bash
# Crash recovery: a bulk load into a table with an index of every quadkey and geohash operator
# class (whatever pg_opclass lists) is cut short twice, and what WAL replay rebuilds is checked.
#
#   round 1  `pg_ctl stop -m immediate` in the middle of the load (the whole server dies
#            without a checkpoint), then the server is started again and replays the WAL
#   round 2  the loading backend is killed with SIGKILL: the postmaster kills every other
#            backend, replays the WAL and reopens (restart_after_crash), on top of round 1
#
# The load commits every batch of 1000 rows in its own transaction, which also records the
# batch in rel_batches (a DO block that COMMITs in its loop). After each round:
#
#   batches     every batch whose commit the loader reported (a NOTICE after each COMMIT) is
#               there; every committed batch has all its rows; no row of an uncommitted batch
#   amcheck     bt_index_check(heapallindexed) and bt_index_parent_check on every btree
#   index = seq GEOCLUSTER_CRASH_QUERIES random queries per cell column through each index
#               alone equal the sequential scan (lib_reliability/lib.sql, rel.check_indexes);
#               after round 2 the recovered indexes first take one more batch
#
# The suite needs a server it may crash: the scripts/pgtmp server of the environment
# (GEOCLUSTER_PGTMP, as scripts/test exports it) or else a throwaway one of its own. It leaves
# the server running and healthy for the suites after it, and works in its own database,
# dropped at the end. Prints `N passed, M failed` last.
#
#   GEOCLUSTER_CRASH_QUERIES   random queries per column after each round (default 500)
#   GEOCLUSTER_CRASH_BATCHES   committed batches to wait for before a crash (default 8)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/lib_reliability
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
queries=${GEOCLUSTER_CRASH_QUERIES:-500}
min_batches=${GEOCLUSTER_CRASH_BATCHES:-8}
db=geocluster_crash
tbl=crash_markers

. "$lib/tally.sh"

tmp=$(mktemp -d /tmp/geocluster-crash.XXXXXX)
own_server=
loader=
cleanup() {
  [ -n "$loader" ] && kill "$loader" 2>/dev/null
  rm -rf "$tmp"
  [ -n "$own_server" ] && scripts/pgtmp stop "$GEOCLUSTER_PGTMP"
}
trap cleanup EXIT
if [ -z "${GEOCLUSTER_PGTMP:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  own_server=1
fi
# As scripts/pgtmp does: the server belongs to `postgres` when we are root.
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
if [ ! -x "$PGBIN/pg_ctl" ]; then PGBIN=/usr/lib/postgresql/15/bin; fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
data=$GEOCLUSTER_PGTMP/data
log=$GEOCLUSTER_PGTMP/server.log

psql_db() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# Up to 60 s for the server to accept connections again.
wait_ready() {
  for _ in $(seq 1 120); do
    psql -X -q -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null \
  || { bad "create database $db"; finish; }
if ! psql_db -c "CREATE EXTENSION geocluster; CREATE EXTENSION amcheck;" -f "$lib/lib.sql" >/dev/null; then
  bad "set up (extensions, lib_reliability/lib.sql)"; finish
fi
echo "indexes:"
# Indexes on the empty table: the loads grow them by inserts, each one WAL-logged.
psql_db -c "SELECT rel.create_markers('$tbl')" -c "SELECT '  ' || rel.create_indexes('$tbl')" | grep . \
  || { bad "create the indexed table"; finish; }
psql_db -c "CREATE TABLE rel_batches (batch int PRIMARY KEY, n int NOT NULL)" || { bad "create rel_batches"; finish; }


# The load: batches of 1000 rows, each committed with its rel_batches row.
start_load() {
  local first=$1
  psql -X -q -d "$db" -v ON_ERROR_STOP=1 >"$tmp/load-$first.log" 2>&1 <<SQL &
SET application_name = 'geocluster_crash_loader';
DO \$\$
BEGIN
    FOR b IN $first..$first + 100000 LOOP
        INSERT INTO rel_batches VALUES (b, rel.add_markers('$tbl', 1000, b));
        COMMIT;
        -- The client hears of each commit at once: what it heard of must survive the crash.
        RAISE NOTICE 'committed batch %', b;
    END LOOP;
END \$\$;
SQL
  loader=$!
}

# Waits until at least n more batches have committed, then a random 0-0.9 s so that the crash
# lands at any point of a batch.
wait_batches() {
  local target=$1 n
  for _ in $(seq 1 600); do
    n=$(psql_db -c "SELECT count(*) FROM rel_batches" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge "$target" ] && { sleep "0.$((RANDOM % 10))"; return 0; }
    kill -0 "$loader" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

check_round() {
  local round=$1 index lines total mism desc am error
  if ! wait_ready; then bad "$round: the server did not come back"; return; fi
  ok "$round: server back, $(grep -E 'redo (starts|done) at' "$log" | tail -n 2 | sed -E 's/.*(redo (starts|done) at [0-9A-F/]+).*/\1/' | paste -sd, -)"
  local committed incomplete orphans
  read -r committed incomplete orphans < <(psql_db -F ' ' <<SQL
SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
SELECT (SELECT count(*) FROM rel_batches),
       (SELECT count(*) FROM rel_batches b
         WHERE b.n <> 1000 OR b.n <> (SELECT count(*) FROM $tbl m WHERE m.batch = b.batch)),
       (SELECT count(*) FROM $tbl m WHERE m.batch IS NOT NULL
           AND NOT EXISTS (SELECT FROM rel_batches b WHERE b.batch = m.batch));
SQL
)
  if [ -n "${committed:-}" ] && [ "$committed" -ge "$min_batches" ] && [ "$incomplete" = 0 ] && [ "$orphans" = 0 ]; then
    ok "$round: $committed committed batches all complete, no row of an uncommitted batch"
  else
    bad "$round: committed ${committed:-?} (need >= $min_batches), incomplete ${incomplete:-?}, rows of uncommitted batches ${orphans:-?}"
  fi
  # Durability: every batch whose commit the loader reported (NOTICE after COMMIT) is there.
  local heard lost
  heard=$(cat "$tmp"/load-*.log 2>/dev/null | sed -nE 's/.*committed batch ([0-9]+).*/\1/p' | paste -sd, -)
  lost=$(psql_db -c "SELECT string_agg(b::text, ',') FROM unnest('{$heard}'::int[]) b
                      WHERE NOT EXISTS (SELECT FROM rel_batches r WHERE r.batch = b)")
  if [ -n "$heard" ] && [ -z "$lost" ]; then
    ok "$round: all $(tr ',' '\n' <<<"$heard" | wc -l) batches whose commit the client saw survived"
  else
    bad "$round: batches whose commit the client saw are lost: ${lost:-?} (heard of: ${heard:-none})"
  fi
  while IFS='|' read -r index error; do
    [ -z "$index" ] && continue
    if [ -z "$error" ]; then ok "$round: amcheck $index"; else bad "$round: amcheck $index: $error"; fi
  done < <(psql_db -c "SELECT * FROM rel.check_btrees('$tbl')" 2>&1 || echo "rel.check_btrees|did not run")
  psql_db -c "ANALYZE $tbl" -c "SELECT rel.make_queries('$tbl', $queries)" >/dev/null 2>&1 || bad "$round: make queries"
  psql_db -c "SELECT index_name, am, scan, queries, mismatches, used_for, coalesce(detail, '') FROM rel.check_indexes('$tbl')" \
    >"$tmp/indexes" 2>&1 || { bad "$round: rel.check_indexes did not run"; cat "$tmp/indexes"; }
  for index in $(grep '|' "$tmp/indexes" | cut -d'|' -f1 | sort -u); do
    lines=$(grep "^$index|" "$tmp/indexes")
    total=$(awk -F'|' '{s += $4} END {print s + 0}' <<<"$lines")
    mism=$(awk -F'|' '{s += $5} END {print s + 0}' <<<"$lines")
    desc=$(awk -F'|' '{printf "%s%s %s", (NR > 1 ? ", " : ""), $3, $4}' <<<"$lines")
    am=$(head -n 1 <<<"$lines" | cut -d'|' -f2)
    if [ "$mism" = 0 ] && [ "$total" -gt 0 ]; then
      ok "$round: index = seq scan: $index ($am): $desc queries"
    elif [ "$total" = 0 ]; then
      bad "$round: index = seq scan: $index ($am): no query used the index"
    else
      bad "$round: index = seq scan: $index ($am): $mism of $total differ: $(awk -F'|' '$7 != "" {print $7}' <<<"$lines" | head -n 1)"
    fi
  done
}

start=$(date +%s)
# A checkpoint now: everything the loads write is then replayed from WAL after the crash.
psql -X -q -c "CHECKPOINT" >/dev/null

echo "round 1: pg_ctl stop -m immediate during the load"
start_load 1
if wait_batches "$min_batches"; then
  as_owner "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || bad "round 1: pg_ctl stop -m immediate"
  wait "$loader" 2>/dev/null; loader=
  scripts/pgtmp restart "$GEOCLUSTER_PGTMP" >/dev/null 2>&1 || bad "round 1: scripts/pgtmp restart"
  check_round "round 1"
else
  bad "round 1: the load did not reach $min_batches batches:"; tail -n 5 "$tmp/load-1.log"
fi

echo "round 2: SIGKILL of the loading backend"
before=$(psql_db -c "SELECT coalesce(max(batch), 0) FROM rel_batches" 2>/dev/null || echo 0)
start_load $((before + 1))
if wait_batches $((before + min_batches)); then
  pid=$(psql -X -q -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'geocluster_crash_loader'")
  if [ -n "$pid" ] && kill -KILL "$pid"; then
    wait "$loader" 2>/dev/null; loader=
    sleep 1
    wait_ready
    # The recovered indexes take more rows before they are checked.
    psql_db -c "INSERT INTO rel_batches SELECT b, rel.add_markers('$tbl', 1000, b) FROM (SELECT max(batch) + 1 AS b FROM rel_batches) x" >/dev/null \
      || bad "round 2: insert after recovery"
    if grep -q "was terminated by signal 9" <(tail -c 20000 "$log"); then
      ok "round 2: the postmaster saw backend $pid killed and reinitialised"
    else
      bad "round 2: no sign of the crash in the server log"
    fi
    check_round "round 2"
  else
    bad "round 2: no loading backend to kill"
  fi
else
  bad "round 2: the load did not reach $min_batches more batches:"; tail -n 5 "$tmp/load-$((before + 1)).log"
fi

# Healthy for the suites that follow: restart once more, cleanly, and connect.
scripts/pgtmp restart "$GEOCLUSTER_PGTMP" >/dev/null 2>&1
if wait_ready && psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; then
  ok "server healthy after the suite, $db dropped"
else
  bad "server not healthy after the suite"
fi
echo "$(( $(date +%s) - start )) s"
finish
