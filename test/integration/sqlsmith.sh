#!/usr/bin/env bash
# Random SQL: Debian's sqlsmith sends random queries, built from the catalog, to a database with
# geocluster, postgis and geocluster_postgis, for GEOCLUSTER_SQLSMITH_SECONDS (default 180). An
# ERROR is an answer; a crashed server process is a failure. Checks:
#
#   data           the tables below exist, with an index for every operator class
#   ran            sqlsmith connected, loaded the catalog and ran queries (printed: how many,
#                  how many ended in an error, the number of distinct errors, the commonest)
#   targeted       at least GEOCLUSTER_SQLSMITH_MIN_SHARE percent (default 30) of the queries
#                  call one of the extensions' functions or aggregates (printed: the share, and
#                  how many of the extensions' functions returned at least once, from
#                  pg_stat_user_functions)
#   connection     no query lost its connection (sqlsmith reconnects and goes on after a crash,
#                  so its list of errors is where a crash shows first)
#   server log     no crashed server process: `terminated by signal`, `was terminated`, a
#                  non-zero exit, `PANIC`, `TRAP:` (a failed assertion), `reinitializing`; the
#                  query that crashed one is quoted
#   alive          the server answers a query at the end
#
# The data: `markers` (id, lat, lon, qk quadkey, gh geohash, geom geometry; a few thousand rows,
# half spread over the world, half in 12 cities, cells at mixed levels, some NULLs), one index
# per operator class of the two types (lib_reliability/lib.sql's rel.create_indexes: btree,
# hash, GiST, SP-GiST, BRIN), `cluster_states` (cluster_state_agg output at several zooms, for
# cluster_state_clusters and cluster_agg(bytea)) and `clusters` (cluster_agg output).
#
# sqlsmith connects as a role without superuser rights, with a statement_timeout of 1 s and
# write rights on the tables (one statement in ten writes; each runs in a transaction that
# sqlsmith rolls back, and reaches the indexes' insert code). Left alone it would draw its functions from
# all of pg_proc's 4,000, of which the extensions' are 3%, and a fifth of its queries would call
# one of them. It reads the catalog by unqualified names (`FROM pg_proc`), and the role's
# search_path puts a schema before pg_catalog whose materialized view `pg_proc` keeps only the
# extensions' functions that SQL can call (no `internal` argument), a few PostGIS constructors
# and some scalar builtins that vary numbers, text and bytes; then two in five queries call
# one of ours. Operators and types are all of them. --exclude-catalog keeps sqlsmith out of
# the system tables, and PostGIS's tables are hidden from the role, so it queries ours.
#
#   GEOCLUSTER_SQLSMITH_SECONDS  how long sqlsmith runs (default 180)
#   GEOCLUSTER_SQLSMITH_SEED     its random seed (default: drawn, and printed to repeat a run)
#   GEOCLUSTER_SQLSMITH_ROWS     markers (default 4000)
#   GEOCLUSTER_SQLSMITH_KEEP     keep the database, role and sqlsmith's log (a temporary directory)
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one; works
# in its own database and role, dropped at the end. The log check needs GEOCLUSTER_PGTMP
# (scripts/pgtmp's directory). Prints `N passed, M failed` last. About three and a half minutes.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/lib_reliability
cd "$here/../.." || exit 1
seconds=${GEOCLUSTER_SQLSMITH_SECONDS:-180}
seed=${GEOCLUSTER_SQLSMITH_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
rows=${GEOCLUSTER_SQLSMITH_ROWS:-4000}
min_share=${GEOCLUSTER_SQLSMITH_MIN_SHARE:-30}
SQLSMITH=${SQLSMITH:-sqlsmith}
db=geocluster_sqlsmith
role=geocluster_sqlsmith

. "$lib/tally.sh"

tmp=$(mktemp -d /tmp/geocluster-sqlsmith.XXXXXX)
own_server=
cleanup() {
  [ -n "${GEOCLUSTER_SQLSMITH_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
  [ -n "${GEOCLUSTER_SQLSMITH_KEEP:-}" ] || rm -rf "$tmp"
  [ -n "$own_server" ] && scripts/pgtmp stop "$GEOCLUSTER_PGTMP"
}
trap cleanup EXIT
if [ -z "${GEOCLUSTER_PGTMP:-}" ] && [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  own_server=1
fi
command -v "$SQLSMITH" >/dev/null || { bad "no sqlsmith (Debian package sqlsmith; scripts/install-deps)"; finish; }
psql_db() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
# The functions (and aggregates) of the two extensions: members in pg_depend.
ext_function="p.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                          WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
                            AND e.extname IN ('geocluster', 'geocluster_postgis'))"

log=${GEOCLUSTER_PGTMP:+$GEOCLUSTER_PGTMP/server.log}
log_offset=0
if [ -n "$log" ] && [ -f "$log" ]; then log_offset=$(stat -c %s "$log"); fi

psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
     -c "DROP ROLE IF EXISTS $role" -c "CREATE DATABASE $db" >/dev/null \
  || { bad "create database $db"; finish; }

echo "== data: $rows markers, one index per operator class, stored cluster states"
indexes=$(psql_db -f - <<SQL 2>"$tmp/setup.err"
SET client_min_messages = warning;
CREATE EXTENSION geocluster;
CREATE EXTENSION postgis;
CREATE EXTENSION geocluster_postgis;
\i $lib/lib.sql
SELECT setseed(0.5);
CREATE TABLE markers (id bigserial PRIMARY KEY, lat float8, lon float8, qk quadkey, gh geohash,
                      geom geometry(Point, 4326), batch int);
SELECT rel.add_markers('markers', $rows) \g /dev/null
UPDATE markers SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326) WHERE random() < 0.98;
-- Rows with no position at all, and one on each corner of the Web Mercator world.
INSERT INTO markers (lat, lon) VALUES (NULL, NULL), (NULL, 10), (10, NULL);
INSERT INTO markers (lat, lon, qk, gh, geom)
SELECT lat, lon, quadkey(lat, lon, 29), geohash(lat, lon, 12), ST_SetSRID(ST_MakePoint(lon, lat), 4326)
  FROM (VALUES (85.0511287798, -180.0), (85.0511287798, 179.9999999), (-85.0511287798, -180.0),
               (-85.0511287798, 179.9999999), (0.0, 0.0)) v(lat, lon);
SELECT string_agg(i, ', ') FROM rel.create_indexes('markers') i;
CREATE TABLE cluster_states (zoom int, radius_px float8, state bytea);
INSERT INTO cluster_states
SELECT z, r, cluster_state_agg(lat, lon, z, r, id) FROM markers, generate_series(0, 12, 3) z,
       (VALUES (20.0::float8), (60.0)) rr(r)
 WHERE lat IS NOT NULL AND lon IS NOT NULL GROUP BY z, r;
INSERT INTO cluster_states VALUES (NULL, NULL, NULL);
CREATE TABLE clusters AS
SELECT z AS zoom, c FROM generate_series(0, 12, 4) z, LATERAL unnest(
       (SELECT cluster_agg(lat, lon, z, 60, id) FROM markers WHERE lat IS NOT NULL AND lon IS NOT NULL)) c;
ANALYZE;
DROP SCHEMA rel CASCADE;

-- The functions sqlsmith may call (see the head of test/integration/sqlsmith.sh), with the
-- columns it reads. A materialized view: information_schema.tables does not list those, so
-- sqlsmith does not take it for one of the tables to query. No function without arguments
-- (geocluster_version(), random()): sqlsmith reaches for those whenever it needs a value of
-- their type (a fifth of the queries called geocluster_version() and nothing else of ours).
CREATE SCHEMA sqlsmith_focus;
CREATE MATERIALIZED VIEW sqlsmith_focus.pg_proc AS
SELECT p.oid, p.proname, p.pronamespace, p.prorettype, p.proretset, p.prokind, p.proargtypes
  FROM pg_catalog.pg_proc p
 WHERE NOT 'internal'::regtype = ANY (p.proargtypes::oid[])
   AND p.pronargs > 0
   AND ($ext_function
        OR (p.pronamespace = 'public'::regnamespace
            AND p.proname IN ('st_makepoint', 'st_point', 'st_setsrid', 'st_makeenvelope', 'st_tileenvelope',
                              'st_x', 'st_y', 'st_srid', 'st_geomfromtext', 'st_astext', 'st_geohash',
                              'st_pointfromgeohash'))
        OR (p.pronamespace = 'pg_catalog'::regnamespace
            AND p.proname IN ('count', 'sum', 'min', 'max', 'abs', 'floor', 'ceil', 'round',
                              'trunc', 'power', 'sqrt', 'mod', 'float8', 'int4', 'int8', 'numeric', 'text',
                              'length', 'octet_length', 'substr', 'overlay', 'set_byte', 'get_byte',
                              'decode', 'encode', 'md5', 'repeat', 'lpad', 'rpad', 'upper', 'lower',
                              'left', 'right', 'reverse', 'chr', 'to_hex', 'cardinality', 'array_length',
                              'array_to_string', 'string_to_array', 'sha256')));

CREATE ROLE $role LOGIN;
ALTER ROLE $role IN DATABASE $db SET statement_timeout = '1s';
ALTER ROLE $role IN DATABASE $db SET search_path = sqlsmith_focus, pg_catalog, public;
ALTER DATABASE $db SET track_functions = 'all';
GRANT USAGE ON SCHEMA sqlsmith_focus TO $role;
GRANT SELECT ON sqlsmith_focus.pg_proc TO $role;
GRANT SELECT, INSERT, UPDATE, DELETE ON markers, cluster_states, clusters TO $role;
GRANT USAGE ON SEQUENCE markers_id_seq TO $role;
-- PostGIS's tables would be 3 of sqlsmith's 7: hidden from it (information_schema.tables lists
-- only what the role may use), so that its queries read ours.
REVOKE ALL ON spatial_ref_sys, geometry_columns, geography_columns FROM PUBLIC;
SQL
)
if [ $? != 0 ]; then bad "set up: $(head -c 600 "$tmp/setup.err")"; finish; fi
missing=$(psql_db -c "SELECT string_agg(DISTINCT a.amname || ' ' || t.typname, ', ')
                        FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod JOIN pg_type t ON t.oid = o.opcintype
                       WHERE t.typname IN ('quadkey', 'geohash')
                         AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = 'markers'::regclass
                                                                   AND o.oid = ANY (i.indclass::oid[]))")
if [ -z "$missing" ]; then
  ok "markers: $(psql_db -c 'SELECT count(*) FROM markers') rows, an index per operator class ($(tail -n 1 <<<"$indexes"))"
else
  bad "operator classes without an index on markers: $missing"
fi
psql_db -c "SELECT format('   cluster_states: %s rows, clusters: %s rows; sqlsmith may call %s functions, %s of them the extensions''',
                          (SELECT count(*) FROM cluster_states), (SELECT count(*) FROM clusters),
                          (SELECT count(*) FROM sqlsmith_focus.pg_proc),
                          (SELECT count(*) FROM sqlsmith_focus.pg_proc p WHERE $ext_function))"
# Names of the extensions' functions, to recognise their calls in the queries.
ext_names=$(psql_db -c "SELECT string_agg(DISTINCT p.proname, '|') FROM pg_catalog.pg_proc p WHERE $ext_function")

echo "== sqlsmith: $seconds s, seed $seed (repeat with GEOCLUSTER_SQLSMITH_SEED=$seed)"
# SIGINT makes sqlsmith print its report (query count and errors) and exit; a harder stop
# follows if it does not. The queries it prints (--dump-all-queries, each ending in `;` and a
# newline) are counted as they come: how many, and how many call one of the extensions'
# functions or aggregates (`public.quadkey_cover(`; sqlsmith qualifies every function).
target="dbname=$db host=$PGHOST port=${PGPORT:-5432} user=$role"
t0=$(date +%s)
timeout -s INT --kill-after=30 "$seconds" "$SQLSMITH" --target="$target" --seed="$seed" \
    --exclude-catalog --verbose --dump-all-queries 2>"$tmp/sqlsmith.log" \
  | awk -v RS=';\n' -v names="$ext_names" '
      BEGIN { re = "public\\.(" names ")\\(" }
      NF { n++; if ($0 ~ re) t++ } END { print n + 0, t + 0 }' >"$tmp/counts"
rc=${PIPESTATUS[0]}
echo "   sqlsmith exited with status $rc after $(( $(date +%s) - t0 )) s"
# The last report: `queries: N`, an AST line, then `COUNT<TAB>first line of the error` per
# distinct error, then `error rate: ...`.
report=$(awk '/^queries: [0-9]+$/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$tmp/sqlsmith.log" \
         | sed -n '/^queries: /,/^error rate: /p')
queries=$(sed -n 's/^queries: \([0-9]*\)$/\1/p' <<<"$report")
errors=$(grep -P '^[0-9]+\t' <<<"$report")
distinct=$(grep -c . <<<"$errors")
failed_queries=$(awk -F '\t' '{ s += $1 } END { print s + 0 }' <<<"$errors")
if [ -n "$queries" ] && (( queries > 0 )); then
  ok "sqlsmith ran $queries queries, $failed_queries ended in an error, $distinct distinct errors"
  echo "   the most frequent errors:"
  sort -t $'\t' -k1,1nr <<<"$errors" | head -n 12 | sed 's/^/     /'
else
  bad "sqlsmith ran no query (status $rc): $(grep -v '^[.etSC]*$' "$tmp/sqlsmith.log" | tail -n 5)"
fi

read -r dumped targeted <"$tmp/counts"
share=$(( dumped > 0 ? targeted * 100 / dumped : 0 ))
reached=$(psql_db -c "SELECT format('%s of the %s functions returned at least once, %s calls', count(*) FILTER (WHERE s.calls > 0), count(*), coalesce(sum(s.calls), 0))
                        FROM sqlsmith_focus.pg_proc p LEFT JOIN pg_stat_user_functions s ON s.funcid = p.oid
                       WHERE p.prokind = 'f' AND $ext_function")
if (( dumped > 0 && share >= min_share )); then
  ok "targeted: $targeted of $dumped queries ($share%) call the extensions' functions or aggregates; $reached"
else
  bad "targeted: $targeted of $dumped queries ($share%, at least $min_share% expected) call the extensions' functions or aggregates; $reached"
fi

lost=$(grep -iE 'server closed the connection|terminating connection|connection to server|no connection|08000|57P01|57P02|crash' <<<"$errors")
if [ -z "$lost" ] && ! grep -q 'C' <<<"$(grep -E '^[.etSC]+$' "$tmp/sqlsmith.log")"; then
  ok "no query lost its connection"
else
  bad "queries lost their connection: $(head -n 5 <<<"${lost:-(sqlsmith marked a broken connection: C)}")"
fi

if [ -n "$log" ] && [ -f "$log" ]; then
  crashes=$(tail -c +"$((log_offset + 1))" "$log" \
            | grep -E 'terminated by signal|was terminated|server process .* exited with exit code [^0]|PANIC|TRAP:|reinitializing|not properly shut down|Failed process was running' \
            | cut -c 1-400 | head -n 6)
  if [ -z "$crashes" ]; then
    ok "no crashed backend in $log"
  else
    bad "server log: $crashes"
    # The statement of the first crashed process, whole (the DETAIL line and the lines of the
    # query after it, up to the next line of the log).
    echo "   the first crashed process was running:"
    tail -c +"$((log_offset + 1))" "$log" \
      | awk '/Failed process was running: / { on = 1; sub(/.*Failed process was running: /, ""); print; next }
             on && /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { exit } on' | head -n 60 | sed 's/^/     /'
  fi
else
  echo "   (log check skipped: no GEOCLUSTER_PGTMP server log)"
fi

if [ "$(psql -X -At -d "$db" -c 'SELECT count(*) FROM markers' 2>/dev/null)" -gt 0 ] 2>/dev/null; then
  ok "the server answers after the run"
else
  bad "the server does not answer after the run"
fi
echo "   $(( $(date +%s) - t0 )) s of sqlsmith and checks"
finish
