#!/usr/bin/env bash
# Parallel equals serial: GEOCLUSTER_PARALLEL_QUERIES (default 1000) random cluster_agg,
# cluster_state_agg and containment queries give identical results with parallelism forced on
# and with it off, and the parallel plans really are parallel (Gather, Partial Aggregate,
# workers launched, rows split among two or more processes). The driver is
# lib_reliability/parallel_serial.py (python3-psycopg2); it says what is compared and how.
#
#   GEOCLUSTER_PARALLEL_ROWS     markers (default 30000: 1% NULL cells, a dense duplicate
#                                stack, 12 cities, the antimeridian)
#   GEOCLUSTER_PARALLEL_QUERIES  random queries (default 1000)
#   GEOCLUSTER_PARALLEL_SEED     data and query seed (default 1): the same seed, the same run
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one; works
# in its own database, dropped at the end. Prints `N passed, M failed` last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/lib_reliability
cd "$here/../.." || exit 1
rows=${GEOCLUSTER_PARALLEL_ROWS:-30000}
seed=${GEOCLUSTER_PARALLEL_SEED:-1}
export GEOCLUSTER_PARALLEL_DB=geocluster_parallel
db=$GEOCLUSTER_PARALLEL_DB

if [ -z "${GEOCLUSTER_PGTMP:-}" ] && [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  trap 'scripts/pgtmp stop "$GEOCLUSTER_PGTMP"' EXIT
fi

psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null \
  || { echo "0 passed, 1 failed (no database)"; exit 1; }
start=$(date +%s)
# setseed makes rel.point's random() reproducible: the same seed loads the same markers.
if ! psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE EXTENSION geocluster;
\i $lib/lib.sql
CREATE TABLE par_markers (id bigserial PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,
                          qk quadkey, gh geohash, batch int);
SELECT setseed(1.0 / ($seed + 1));
SELECT rel.add_markers('par_markers', $rows);
-- 2% of the rows on one spot (a dense stack in one bin), 1% on the antimeridian.
INSERT INTO par_markers (lat, lon, qk, gh)
SELECT 48.8584, 2.2945, quadkey(48.8584, 2.2945, 29), geohash(48.8584, 2.2945, 12)
  FROM generate_series(1, $rows / 50);
INSERT INTO par_markers (lat, lon, qk, gh)
SELECT lat, lon, quadkey(lat, lon, 20), geohash(lat, lon, 9)
  FROM (SELECT random() * 40 - 20 AS lat, CASE WHEN random() < 0.5 THEN 180 ELSE -180 END AS lon
          FROM generate_series(1, $rows / 100)) x;
-- Shuffled storage order: workers get unrelated rows. region: 8 bands of 45 degrees of
-- longitude, the grouping column of the GROUP BY queries.
CREATE TABLE par_shuffled AS
SELECT *, least(7, floor((lon + 180) / 45))::int AS region FROM par_markers ORDER BY random();
DROP TABLE par_markers;
ALTER TABLE par_shuffled RENAME TO par_markers;
-- A btree (parallel index scans) on qk and, when the extension has one, a GiST on gh (not
-- parallel-aware: a Gather over a plain index scan).
CREATE INDEX ON par_markers (qk);
DO \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod
                WHERE a.amname = 'gist' AND o.opcintype = 'geohash'::regtype AND o.opcdefault) THEN
        CREATE INDEX ON par_markers USING gist (gh);
    END IF;
END \$\$;
VACUUM ANALYZE par_markers;
SQL
then
  echo "0 passed, 1 failed (loading the data)"; exit 1
fi
echo "loaded $(psql -X -q -At -d "$db" -c "SELECT count(*) FROM par_markers") markers in $(( $(date +%s) - start )) s"
# Debian's python3 has python3-psycopg2 (scripts/install-deps); a python3 earlier on PATH may not.
py=${PYTHON:-}
if [ -z "$py" ]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import psycopg2' 2>/dev/null; then
      py=$candidate; break
    fi
  done
fi
if [ -n "$py" ]; then
  "$py" "$lib/parallel_serial.py"
  rc=$?
else
  echo "no python3 with psycopg2 (scripts/install-deps installs python3-psycopg2)"
  echo "0 passed, 1 failed"
  rc=1
fi
[ -n "${GEOCLUSTER_PARALLEL_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null
exit $rc
