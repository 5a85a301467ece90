#!/usr/bin/env bash
# pg_dump / pg_restore of a database holding cluster hierarchies (a plain one on odd names, and
# a partitioned one): the restored database has the same nodes, members and metadata, answers
# the same viewports, drill-downs and leaves, still refuses writes to the source, and its
# hierarchies can be rebuilt and dropped. Uses the server in the environment or starts a
# throwaway one; prints `N passed, M failed` last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
if [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  trap 'scripts/pgtmp stop "$GEOCLUSTER_PGTMP"' EXIT
fi
bin=${PGBIN:-$(dirname "$(command -v psql)")}
src=geocluster_hier_dump_src
dst=geocluster_hier_dump_dst
tmp=$(mktemp -d)
passed=0; failed=0
check() {  # check NAME CONDITION-OUTPUT: passes when the output is exactly "t"
  if [ "$2" = "t" ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1: $2"; fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1; }
for db in $src $dst; do psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; done
psql -X -q -c "CREATE DATABASE $src" >/dev/null
q $src "SET client_min_messages = warning; CREATE EXTENSION geocluster;
  CREATE SCHEMA \"Odd\";
  CREATE TABLE \"Odd\".\"Mark ers\" (\"I d\" bigint PRIMARY KEY, \"La t\" float8, \"Lo n\" float8, \"Cat\" text);
  INSERT INTO \"Odd\".\"Mark ers\"
  SELECT g, 48.8 + (g * 7919 % 5003) / 20000.0, 2.2 + (g * 104729 % 5003) / 16000.0, (ARRAY['a', 'b', 'c'])[1 + g % 3]
    FROM generate_series(1, 5000) g
  UNION ALL SELECT 10000 + g, -17 + g * 0.001, CASE WHEN g % 2 = 0 THEN 179.999 ELSE -179.999 END, 'a' FROM generate_series(1, 40) g;
  SELECT cluster_hierarchy_create('\"Odd\".\"Mark ers\"', 'La t', 'Lo n', 'I d', 60, 14);
  SELECT cluster_hierarchy_create('\"Odd\".\"Mark ers\"', 'La t', 'Lo n', 'I d', 80, 12, 'Cat');" >/dev/null
# What a client sees, as text: every table of the hierarchies, and answers of every function.
snapshot() {
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" <<'SQL' 2>&1
SET extra_float_digits = 3;
SELECT 'nodes', md5(string_agg(n::text, ',' ORDER BY cluster_id)), count(*) FROM "Odd"."Mark ers_clusters" n;
SELECT 'members', md5(string_agg(m::text, ',' ORDER BY id)), count(*) FROM "Odd"."Mark ers_clusters_members" m;
SELECT 'meta', m::text FROM "Odd"."Mark ers_clusters_meta" m;
SELECT 'nodes2', md5(string_agg(n::text, ',' ORDER BY cluster_id)), count(*) FROM "Odd"."Mark ers_clusters_2" n;
SELECT 'members2', md5(string_agg(m::text, ',' ORDER BY id, part)), count(*) FROM "Odd"."Mark ers_clusters_2_members" m;
SELECT 'meta2', m::text FROM "Odd"."Mark ers_clusters_2_meta" m;
SELECT 'viewport', z, md5(string_agg(v::text, ',')) FROM generate_series(0, 16) z,
       LATERAL cluster_viewport('"Odd"."Mark ers_clusters"', -85, -215.156, 85, 234.84, z) v GROUP BY z ORDER BY z;
SELECT 'viewport2', p, md5(string_agg(v::text, ',')) FROM unnest(ARRAY['a', 'b', 'c']) p,
       LATERAL cluster_viewport('"Odd"."Mark ers_clusters_2"', 48, 2, 49.5, 3, 9, p) v GROUP BY p ORDER BY p;
SELECT 'children', md5(string_agg(c::text, ',')) FROM cluster_viewport('"Odd"."Mark ers_clusters"', -90, -180, 90, 180, 8) v,
       LATERAL cluster_children('"Odd"."Mark ers_clusters"', v.cluster_id) c;
SELECT 'leaves', md5(string_agg(l::text, ',')) FROM cluster_viewport('"Odd"."Mark ers_clusters"', -90, -180, 90, 180, 3) v,
       LATERAL cluster_leaves('"Odd"."Mark ers_clusters"', v.cluster_id, 100000) l;
SELECT 'geojson', md5(cluster_viewport_geojson('"Odd"."Mark ers_clusters"', -90, -180, 90, 180, 10)::text);
SELECT 'objects', string_agg(relname || ':' || relkind::text || ':' || pg_get_userbyid(relowner), ' ' ORDER BY relname)
  FROM pg_class WHERE relnamespace = '"Odd"'::regnamespace;
SELECT 'triggers', string_agg(pg_get_triggerdef(oid), ' ' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = '"Odd"."Mark ers"'::regclass;
SQL
}
snapshot $src > "$tmp/before.txt"
check "snapshot of the source database" "$( [ "$(wc -l < "$tmp/before.txt")" -ge 30 ] && echo t || cat "$tmp/before.txt")"
"$bin/pg_dump" -Fc -d $src -f "$tmp/db.dump" 2>"$tmp/dump.err"
check "pg_dump -Fc" "$( [ -s "$tmp/db.dump" ] && [ ! -s "$tmp/dump.err" ] && echo t || cat "$tmp/dump.err")"
psql -X -q -c "CREATE DATABASE $dst" >/dev/null
"$bin/pg_restore" --exit-on-error -d $dst "$tmp/db.dump" 2>"$tmp/restore.err"
check "pg_restore without error" "$( [ $? = 0 ] && [ ! -s "$tmp/restore.err" ] && echo t || cat "$tmp/restore.err")"
snapshot $dst > "$tmp/after.txt"
check "restored: identical tables, viewports, children, leaves, GeoJSON, objects and triggers" \
  "$(diff "$tmp/before.txt" "$tmp/after.txt" >/dev/null && echo t || diff "$tmp/before.txt" "$tmp/after.txt" | head -10)"
out=$(q $dst "INSERT INTO \"Odd\".\"Mark ers\" VALUES (99999, 1, 1, 'a')")
check "restored: writes to the source are still refused (0A000)" "$(grep -q 'would leave its cluster hierarchy' <<<"$out" && echo t || echo "$out")"
out=$(q $dst "SELECT cluster_hierarchy_rebuild('\"Odd\".\"Mark ers_clusters\"'); SELECT cluster_hierarchy_rebuild('\"Odd\".\"Mark ers_clusters_2\"')")
check "restored: rebuild" "$( [ -z "$out" ] && echo t || echo "$out")"
snapshot $dst > "$tmp/rebuilt.txt"
check "restored and rebuilt: identical again" "$(diff "$tmp/before.txt" "$tmp/rebuilt.txt" >/dev/null && echo t || diff "$tmp/before.txt" "$tmp/rebuilt.txt" | head -10)"
out=$(q $dst "SELECT cluster_hierarchy_drop('\"Odd\".\"Mark ers_clusters\"'); SELECT cluster_hierarchy_drop('\"Odd\".\"Mark ers_clusters_2\"');
  SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = '\"Odd\"'::regnamespace) = 2
     AND (SELECT count(*) FROM pg_trigger WHERE tgrelid = '\"Odd\".\"Mark ers\"'::regclass) = 0")
check "restored: drop leaves the table and its primary key only" "$(tail -1 <<<"$out")"
for db in $src $dst; do psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; done
rm -rf "$tmp"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
