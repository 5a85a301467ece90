#!/usr/bin/env bash
# Concurrency: pgbench clients insert, move and delete markers and run viewport cluster_agg
# queries on one table that has an index of every operator class of quadkey and geohash (btree,
# hash, GiST, SP-GiST, BRIN: whatever pg_opclass lists, so new classes join automatically),
# while a VACUUM loop runs beside them. Afterwards:
#
#   pgbench        every transaction committed, or failed only on a serialisation failure or
#                  deadlock (REPEATABLE READ moves and deletes; pgbench retries them); the
#                  viewport queries' own check (cluster counts add up to the rows) never raised
#   server log     no ERROR but those, no crash
#   row count      rows = inserts - deletes, as the ledger written in the same transactions says
#   amcheck        bt_index_check(heapallindexed) and bt_index_parent_check(rootdescend) on
#                  every btree
#   index = seq    GEOCLUSTER_CONCURRENCY_QUERIES random queries per cell column (<@ @> && =,
#                  mixed levels) through each index alone, as index scans and as bitmap scans,
#                  equal the sequential scan (lib_reliability/lib.sql, rel.check_indexes)
#
#   GEOCLUSTER_CONCURRENCY_SECONDS  pgbench duration (default 15; the long form is 60)
#   GEOCLUSTER_CONCURRENCY_CLIENTS  pgbench clients (default 8)
#   GEOCLUSTER_CONCURRENCY_ROWS     markers loaded before (default 20000)
#   GEOCLUSTER_CONCURRENCY_QUERIES  random queries per column afterwards (default 1000)
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one; works
# in its own database, dropped at the end. Prints `N passed, M failed` last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/lib_reliability
cd "$here/../.." || exit 1
seconds=${GEOCLUSTER_CONCURRENCY_SECONDS:-15}
clients=${GEOCLUSTER_CONCURRENCY_CLIENTS:-8}
rows=${GEOCLUSTER_CONCURRENCY_ROWS:-20000}
queries=${GEOCLUSTER_CONCURRENCY_QUERIES:-1000}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
db=geocluster_concurrency

. "$lib/tally.sh"

tmp=$(mktemp -d /tmp/geocluster-concurrency.XXXXXX)
own_server=
vacuum_pid=
cleanup() {
  [ -n "$vacuum_pid" ] && kill "$vacuum_pid" 2>/dev/null
  rm -rf "$tmp"
  [ -n "$own_server" ] && scripts/pgtmp stop "$GEOCLUSTER_PGTMP"
}
trap cleanup EXIT
if [ -z "${GEOCLUSTER_PGTMP:-}" ] && [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  own_server=1
fi
psql_db() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null \
  || { bad "create database $db"; finish; }
if ! psql_db -c "CREATE EXTENSION geocluster; CREATE EXTENSION amcheck;" -f "$lib/lib.sql" >/dev/null; then
  bad "set up (extensions, lib_reliability/lib.sql)"; finish
fi
# The indexes are built on the loaded table (sorted builds where the class can), then grow
# under the concurrent writers.
psql_db >/dev/null <<SQL || { bad "initial load"; finish; }
SELECT rel.create_markers('rel_markers');
CREATE TABLE rel_ledger (op text NOT NULL, delta bigint NOT NULL);
INSERT INTO rel_ledger SELECT 'load', rel.add_markers('rel_markers', $rows);
SQL
echo "indexes:"
psql_db -c "SELECT '  ' || rel.create_indexes('rel_markers')" -c "VACUUM ANALYZE rel_markers" \
  || { bad "create the indexes"; finish; }

# Where the server log stands now: only what this run adds is read afterwards.
log=${GEOCLUSTER_PGTMP:+$GEOCLUSTER_PGTMP/server.log}
log_from=0
if [ -n "$log" ] && [ -r "$log" ]; then log_from=$(stat -c %s "$log"); fi

echo "pgbench: $clients clients, $seconds s"
# VACUUM beside the writers: index bulk-delete and cleanup (BRIN summarisation too) race the
# inserts and the scans.
( end=$(( $(date +%s) + seconds )); n=0
  while [ "$(date +%s)" -lt "$end" ]; do
    psql -X -q -d "$db" -c "VACUUM rel_markers" >>"$tmp/vacuum.log" 2>&1 && n=$((n + 1))
    sleep 1
  done
  echo "$n" >"$tmp/vacuums" ) &
vacuum_pid=$!
start=$(date +%s)
"$PGBENCH" -n -c "$clients" -j 2 -T "$seconds" -M prepared --max-tries=20 --failures-detailed \
    -D maxid=$((rows * 2)) \
    -f "$lib/pgbench_insert.sql@4" -f "$lib/pgbench_update.sql@3" \
    -f "$lib/pgbench_delete.sql@2" -f "$lib/pgbench_viewport.sql@3" \
    "$db" >"$tmp/pgbench.log" 2>&1
rc=$?
wait "$vacuum_pid"; vacuum_pid=
cat "$tmp/pgbench.log" | grep -vE '^(pgbench \(|transaction type|scaling factor|query mode|number of threads|maximum number of tries|duration|initial connection time|tps =)' | sed 's/^/  /'
echo "  VACUUM runs beside: $(cat "$tmp/vacuums" 2>/dev/null || echo 0), $(( $(date +%s) - start )) s"

num() { sed -nE "s/^$1: *([0-9]+).*/\1/p" "$tmp/pgbench.log" | head -n 1; }
processed=$(num 'number of transactions actually processed')
failed_tx=$(num 'number of failed transactions')
serial=$(num 'number of serialization failures')
deadlock=$(num 'number of deadlock failures')
retried=$(num 'number of transactions retried')
retries=$(num 'total number of retries')
if [ "$rc" = 0 ] && [ -n "$processed" ] && [ "${processed:-0}" -gt 0 ] \
   && [ "${failed_tx:-x}" = $(( ${serial:-0} + ${deadlock:-0} )) ] \
   && ! grep -qiE 'aborted|error' "$tmp/pgbench.log"; then
  ok "pgbench: $processed transactions, ${retried:-0} retried (${retries:-0} retries), ${failed_tx} failed after retries (serialisation ${serial}, deadlock ${deadlock})"
else
  bad "pgbench: exit $rc, processed ${processed:-?}, failed ${failed_tx:-?} (serialisation ${serial:-?}, deadlock ${deadlock:-?})"
  grep -iE 'aborted|error' "$tmp/pgbench.log" | head -n 10 | sed 's/^/    /'
fi

if [ -n "$log" ] && [ -r "$log" ]; then
  tail -c +"$((log_from + 1))" "$log" >"$tmp/server.log"
  grep -E 'ERROR:|PANIC:|FATAL:|terminated by signal|was terminated|server process' "$tmp/server.log" \
    | grep -vE 'could not serialize access|deadlock detected|canceling autovacuum task' >"$tmp/unexpected.log"
  if [ -s "$tmp/unexpected.log" ]; then
    bad "server log: unexpected errors during the run:"
    sort "$tmp/unexpected.log" | uniq -c | sort -rn | head -n 10 | sed 's/^/    /'
  else
    ok "server log: no errors but $(grep -c 'could not serialize access\|deadlock detected' "$tmp/server.log") serialisation failures/deadlocks, no crash"
  fi
fi

read -r count expected < <(psql_db -F ' ' -c "SELECT (SELECT count(*) FROM rel_markers), (SELECT sum(delta) FROM rel_ledger)")
if [ -n "${count:-}" ] && [ "$count" = "$expected" ]; then
  ok "row count $count = inserts - deletes ($(psql_db -c "SELECT string_agg(op || ' ' || abs(s), ', ' ORDER BY op) FROM (SELECT op, sum(delta) s FROM rel_ledger GROUP BY op) x"))"
else
  bad "row count ${count:-?}, but the ledger says ${expected:-?}"
fi

while IFS='|' read -r index error; do
  [ -z "$index" ] && continue
  if [ -z "$error" ]; then ok "amcheck $index"; else bad "amcheck $index: $error"; fi
done < <(psql_db -c "SELECT * FROM rel.check_btrees('rel_markers')" 2>&1 || echo "rel.check_btrees|did not run")

psql_db -c "SELECT rel.make_queries('rel_markers', $queries)" >/dev/null || bad "make queries"
# One test per index: both scan kinds equal the sequential scan, and some query used the index.
psql_db -c "SELECT index_name, am, scan, queries, mismatches, used_for, coalesce(detail, '') FROM rel.check_indexes('rel_markers')" \
  >"$tmp/indexes" 2>&1 || { bad "rel.check_indexes did not run"; cat "$tmp/indexes"; }
for index in $(cut -d'|' -f1 "$tmp/indexes" | sort -u); do
  lines=$(grep "^$index|" "$tmp/indexes")
  total=$(awk -F'|' '{s += $4} END {print s + 0}' <<<"$lines")
  mism=$(awk -F'|' '{s += $5} END {print s + 0}' <<<"$lines")
  desc=$(awk -F'|' '{printf "%s%s %s queries (%s)", (NR > 1 ? ", " : ""), $3, $4, $6}' <<<"$lines")
  am=$(head -n 1 <<<"$lines" | cut -d'|' -f2)
  if [ "$mism" = 0 ] && [ "$total" -gt 0 ]; then
    ok "index = seq scan: $index ($am): $desc"
  elif [ "$total" = 0 ]; then
    bad "index = seq scan: $index ($am): no query used the index"
  else
    bad "index = seq scan: $index ($am): $mism of $total differ: $(awk -F'|' '$7 != "" {print $7}' <<<"$lines" | head -n 1)"
  fi
done

psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
echo "$(( $(date +%s) - start )) s since pgbench started"
finish
