#!/usr/bin/env bash
# Property test of cluster_agg at the SQL level: seeded random datasets (dense duplicates, points
# exactly on tile edges, the antimeridian, the poles, well-separated blobs, single clusters, the
# whole world; random zooms 0..29 and radii 1..200 px, with and without ids, NULL positions),
# each checked for conservation, separation, membership, centre, id, determinism and order.
# The datasets and the checks are in cluster_properties.sql; a failure names its dataset, and
# the same GEOCLUSTER_PROPS_SEED reproduces it.
#
# Then a self-test: the same checks over a few datasets whose result was corrupted on purpose
# (a count, a centre, a box, the order, an id, two centres made to coincide) must report the
# corruption, so that none of the checks can pass vacuously. Last, cluster_cell_precision.sql
# prints how far a quadkey / geohash position's cell centre can be from the marker, per level
# (the README's table), and checks 2,000 random markers against it.
#
#   GEOCLUSTER_PROPS_SEED      generator seed (default 1)
#   GEOCLUSTER_PROPS_DATASETS  number of datasets (default 240)
#   GEOCLUSTER_PROPS_KEEP=1    keep the database geocluster_props for inspection
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one.
# Prints `N passed, M failed` last (one per dataset x property, plus one per self-test) and
# exits non-zero on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
seed=${GEOCLUSTER_PROPS_SEED:-1}
datasets=${GEOCLUSTER_PROPS_DATASETS:-240}

. test/integration/lib_reliability/server.sh

db=geocluster_props
fresh_db() {
  psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
}
drop_db() {
  [ -n "${GEOCLUSTER_PROPS_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
}
# run N SABOTAGE: prints the SQL's report; its summary line is the last line
run() {
  fresh_db || { echo "could not create database $db"; return 1; }
  psql -X -q -d "$db" -v seed="$seed" -v datasets="$1" -v sabotage="$2" -f "$here/cluster_properties.sql" 2>&1
}

start=$(date +%s)
passed=0; failed=0
out=$(run "$datasets" none)
rc=$?
echo "$out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
if [ "$rc" != 0 ] || [ -z "$line" ]; then
  echo "cluster_properties.sql did not finish (psql exit $rc)"
  failed=1
else
  passed=$(awk '{print $1}' <<<"$line"); failed=$(awk '{print $3}' <<<"$line")
fi
drop_db
echo "seed $seed, $datasets datasets: $(( $(date +%s) - start )) s"

echo "self-test: corrupted results must be caught"
for pair in count:conservation separation:separation bounds:membership centre:centre order:order \
            id:id id:determinism; do
  kind=${pair%%:*} prop=${pair#*:}
  out=$(run 24 "$kind")
  if grep -q "prop=$prop:" <<<"$out"; then
    echo "  ok: corrupting $kind is reported as a $prop failure"
    passed=$((passed + 1))
  else
    echo "  FAIL: corrupting $kind went unnoticed by the $prop check"
    grep -E '^FAIL|passed' <<<"$out" | head -n 5
    failed=$((failed + 1))
  fi
done

echo "cell-centre precision of quadkey / geohash positions (the README table), checked on 2,000 random markers"
fresh_db
out=$(psql -X -q -d "$db" -c "CREATE EXTENSION geocluster" -v check=2000 -f "$here/cluster_cell_precision.sql" 2>&1)
echo "$out" | grep -v '^cell_precision .* ok$'
n_ok=$(grep -c '^cell_precision .* ok$' <<<"$out")
n_bad=$(grep -c '^cell_precision .* FAIL' <<<"$out")
if [ $((n_ok + n_bad)) != 42 ]; then n_bad=$((42 - n_ok)); echo "  FAIL: expected 42 levels checked"; fi
echo "  $n_ok levels within their bound, $n_bad not"
passed=$((passed + n_ok)); failed=$((failed + n_bad))
drop_db
echo "total $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
