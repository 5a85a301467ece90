#!/usr/bin/env bash
# Round trips of the quadkey and geohash types through everything that moves values in and
# out of PostgreSQL without SQL casts:
#
#   * COPY text and COPY binary (psql \copy ... (FORMAT binary)) of a table with both types,
#     their arrays and NULLs, into a fresh table: contents equal;
#   * the binary wire form is the 8-byte code, big-endian (the worked examples of
#     src/core/quadkey.hpp and geohash.hpp);
#   * crafted binary COPY files with malformed values are refused with SQLSTATE 22P03, and
#     the server is fine afterwards;
#   * pg_dump -Fc / pg_restore of a database whose table has both types with btree and hash
#     indexes, into a fresh database: contents equal, indexes valid, amcheck clean, and the
#     restored indexes used by the planner;
#   * every column type and every index class: a marker table with quadkey, geohash, their
#     arrays, marker_cluster and marker_cluster[] columns and one index per operator class that
#     pg_opclass lists for the two types (btree, hash, GiST, SP-GiST, BRIN today; through
#     lib_reliability/lib.sql, so a class added later joins by itself) goes out and in by binary
#     COPY (into a copy with the same indexes, so they grow by inserts) and through pg_dump -Fc /
#     pg_restore (indexes built anew): contents equal, the same index definitions, all valid,
#     amcheck clean on the btrees, and each index alone (sequential scans off, the column's
#     other indexes dropped in a rolled-back subtransaction), as index and as bitmap scans,
#     returns what the sequential scan returns for GEOCLUSTER_ROUNDTRIP_QUERIES (default 200)
#     random queries per column; EXPLAIN must show every index searched (an Index Cond on it).
#
# One check = one line `ok ...` or `FAIL ...`; the last line is `N passed, M failed`, and the
# exit status is non-zero on any failure. Uses the server in PGHOST/PGPORT/PGUSER (scripts/test
# exports them) or starts a throwaway one; pg_dump and pg_restore from PostgreSQL 15's bindir.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
PGBIN=/usr/lib/postgresql/15/bin

started_server=
if [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  started_server=1
fi

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /'; }
# check NAME ACTUAL EXPECTED
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected: $3"$'\n'"got:      $2"; fi; }

tmp=$(mktemp -d)
src=geocluster_types_rt
dst=geocluster_types_rt_restored
cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" >/dev/null 2>&1
  rm -rf "$tmp"
  if [ -n "$started_server" ]; then scripts/pgtmp stop "$GEOCLUSTER_PGTMP"; fi
}
trap cleanup EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" \
     -c "CREATE DATABASE $src" >/dev/null 2>&1 || { echo "could not create database $src"; echo "0 passed, 1 failed"; exit 1; }

q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "${DB:-$src}" "$@"; }

# The data: 100k rows, every quadkey level 0..29 and geohash precision 0..12, the extreme
# cells, arrays of neighbours (empty at level 0), and NULLs.
if ! q >/dev/null 2>"$tmp/setup.err" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION geocluster;
SELECT setseed(0.4242);
CREATE TABLE cells (id int PRIMARY KEY, q quadkey, g geohash, qn quadkey[], gn geohash[]);
INSERT INTO cells
SELECT i, q, g, quadkey_neighbors(q), geohash_neighbors(g)
  FROM (SELECT i,
               quadkey_from_tile(i % 30, floor(random() * 2^(i % 30))::int, floor(random() * 2^(i % 30))::int) AS q,
               geohash(random() * 180 - 90, random() * 360 - 180, i % 13) AS g
          FROM generate_series(1, 100000) i) s;
INSERT INTO cells VALUES
  (100001, '', '', '{}', '{}'),
  (100002, repeat('3', 29)::quadkey, 'zzzzzzzzzzzz', NULL, NULL),
  (100003, repeat('0', 29)::quadkey, '000000000000', ARRAY[NULL, '1']::quadkey[], ARRAY['u4', NULL]::geohash[]),
  (100004, NULL, NULL, NULL, NULL);
CREATE INDEX cells_q ON cells (q);
CREATE INDEX cells_g ON cells (g);
CREATE INDEX cells_q_hash ON cells USING hash (q);
CREATE INDEX cells_g_hash ON cells USING hash (g);
ANALYZE cells;
SQL
then
  fail "setup" "$(cat "$tmp/setup.err")"
  echo "$passed passed, $failed failed"; exit 1
fi
# A fingerprint of the table's contents, through the text forms, in id order.
fingerprint="SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, q::text, g::text, qn::text, gn::text), ',' ORDER BY id)) FROM"
want=$(q -c "$fingerprint cells")

# COPY text -----------------------------------------------------------------------------------
q -c "CREATE TABLE cells_text (LIKE cells)" -c "\\copy cells TO '$tmp/cells.txt'" \
  -c "\\copy cells_text FROM '$tmp/cells.txt'" >/dev/null 2>"$tmp/err" || fail "copy text" "$(cat "$tmp/err")"
check "COPY text round trip: same rows" "$(q -c "$fingerprint cells_text")" "$want"
check "COPY text round trip: values equal as values" \
  "$(q -c "SELECT count(*) FROM cells a JOIN cells_text b USING (id) WHERE a.q IS NOT DISTINCT FROM b.q AND a.g IS NOT DISTINCT FROM b.g AND a.qn IS NOT DISTINCT FROM b.qn AND a.gn IS NOT DISTINCT FROM b.gn")" \
  "100004"

# COPY binary ---------------------------------------------------------------------------------
q -c "CREATE TABLE cells_bin (LIKE cells)" -c "\\copy cells TO '$tmp/cells.bin' (FORMAT binary)" \
  -c "\\copy cells_bin FROM '$tmp/cells.bin' (FORMAT binary)" >/dev/null 2>"$tmp/err" || fail "copy binary" "$(cat "$tmp/err")"
check "COPY binary round trip: same rows" "$(q -c "$fingerprint cells_bin")" "$want"
check "COPY binary round trip: values equal as values" \
  "$(q -c "SELECT count(*) FROM cells a JOIN cells_bin b USING (id) WHERE a.q IS NOT DISTINCT FROM b.q AND a.g IS NOT DISTINCT FROM b.g AND a.qn IS NOT DISTINCT FROM b.qn AND a.gn IS NOT DISTINCT FROM b.gn")" \
  "100004"
# Binary COPY of the binary copy gives the same bytes.
q -c "\\copy (SELECT * FROM cells_bin ORDER BY id) TO '$tmp/a.bin' (FORMAT binary)" \
  -c "\\copy (SELECT * FROM cells ORDER BY id) TO '$tmp/b.bin' (FORMAT binary)" >/dev/null 2>&1
check "COPY binary is byte-stable" "$(cmp -s "$tmp/a.bin" "$tmp/b.bin" && echo same)" "same"

# The binary form is the code, big-endian: "213" = 0x4E00000000000003, "u4" = 0xD100000000000002.
q -c "\\copy (SELECT '213'::quadkey, 'u4'::geohash) TO '$tmp/one.bin' (FORMAT binary)" >/dev/null 2>&1
# Header 19 bytes, then int16 field count, and per field int32 length + data.
check "binary form of quadkey '213'" "$(od -An -tx1 -j 25 -N 8 "$tmp/one.bin" | tr -d ' \n')" "4e00000000000003"
check "binary form of geohash 'u4'" "$(od -An -tx1 -j 37 -N 8 "$tmp/one.bin" | tr -d ' \n')" "d100000000000002"
check "binary field length is 8" "$(od -An -tx1 -j 21 -N 4 "$tmp/one.bin" | tr -d ' \n')" "00000008"

# Malformed binary values --------------------------------------------------------------------
# craft FILE TYPE HEX...: a binary COPY file with one column and one row per value (each value
# given as hex bytes; their count is the field length).
craft() {
  python3 - "$@" <<'PY'
import struct, sys
path, values = sys.argv[1], sys.argv[2:]
with open(path, "wb") as f:
    f.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
    for v in values:
        data = bytes.fromhex(v)
        f.write(struct.pack(">hi", 1, len(data)) + data)
    f.write(struct.pack(">h", -1))
PY
}
q -c "CREATE TABLE one_q (q quadkey)" -c "CREATE TABLE one_g (g geohash)" -c "CREATE TABLE one_i (i int8)" >/dev/null
# A valid crafted file loads, so the crafting itself is right.
craft "$tmp/good.bin" 4e00000000000003 0000000000000000
q -c "\\copy one_q FROM '$tmp/good.bin' (FORMAT binary)" >/dev/null 2>"$tmp/err"
check "crafted valid quadkey file loads" "$(q -c "SELECT string_agg(q::text, ',' ORDER BY q) FROM one_q")" ",213"
# bad_binary NAME TABLE HEX [SQLSTATE]: the load fails with SQLSTATE (default 22P03) and loads
# nothing. A value shorter than 8 bytes fails in PostgreSQL's own message reader first, with
# 08P01, exactly as it does for int8.
bad_binary() {
  local name=$1 table=$2 hex=$3 state=${4:-22P03} out
  craft "$tmp/bad.bin" "$hex"
  out=$(psql -X -q -d "$src" -c "\\set VERBOSITY verbose" \
          -c "\\copy $table FROM '$tmp/bad.bin' (FORMAT binary)" 2>&1)
  if grep -q "ERROR:  $state" <<<"$out"; then ok "$name: refused with $state"; else fail "$name: refused with $state" "$out"; fi
  echo "     $(grep -m1 ERROR <<<"$out" | sed 's/^psql:[^ ]* //')"
}
q -c "TRUNCATE one_q" >/dev/null
bad_binary "quadkey level 30"                          one_q 000000000000001e
bad_binary "quadkey level 31"                          one_q 000000000000001f
bad_binary "quadkey with bit 63 set"                   one_q 8000000000000001
bad_binary "quadkey with a digit below its level"      one_q 4e00000000000002
bad_binary "quadkey with stray bits 5..6"              one_q 0000000000000060
bad_binary "quadkey of 9 bytes"                        one_q 4e0000000000000300
bad_binary "quadkey of 4 bytes"                        one_q 00000003 08P01
bad_binary "int8 of 4 bytes (the same for comparison)" one_i 00000003 08P01
bad_binary "geohash precision 13"                      one_g 000000000000000d
bad_binary "geohash precision 15"                      one_g 000000000000000f
bad_binary "geohash with a symbol below its precision" one_g d100000000000001
bad_binary "geohash of 7 bytes"                        one_g d1000000000002 08P01
check "nothing was loaded from malformed files" "$(q -c "SELECT (SELECT count(*) FROM one_q) + (SELECT count(*) FROM one_g)")" "0"
check "server still answers after malformed input" "$(q -c "SELECT '0123'::quadkey::text || ' ' || 'u4'::geohash::text")" "0123 u4"

# Every column type, every index class -------------------------------------------------------
# lib.sql (schema rel) gives the random markers, the indexes (one per operator class in
# pg_opclass), the random queries and the index-vs-sequential comparison. The queries are drawn
# here, once, into rel_queries, which pg_dump carries to the restored database too.
lib=$here/lib_reliability/lib.sql
rt_queries=${GEOCLUSTER_ROUNDTRIP_QUERIES:-200}
if ! q -f "$lib" >/dev/null 2>"$tmp/setup.err" || ! q -v queries="$rt_queries" >/dev/null 2>>"$tmp/setup.err" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION amcheck;
SELECT setseed(0.2121);
CREATE TABLE markers (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,
                      qk quadkey, gh geohash, qks quadkey[], ghs geohash[],
                      top marker_cluster, clusters marker_cluster[]);
CREATE TEMP TABLE pts AS
SELECT g::bigint AS id, p.lat, p.lon FROM generate_series(1, 20000) g, LATERAL rel.point(g) p;
-- Cells at mixed levels with 1% NULLs, their neighbours, and clusters: cluster_agg's own
-- output over the 200 markers before every 200th one, else a made-up cluster with the
-- awkward float8 values (NaN, -0, infinities, a subnormal) now and then, or NULL.
INSERT INTO markers
SELECT p.id, p.lat, p.lon, c.qk, c.gh, quadkey_neighbors(c.qk), geohash_neighbors(c.gh),
       CASE WHEN p.id % 200 = 0 THEN NULL
            WHEN p.id % 7 = 0 THEN ROW(p.id, 'NaN', '-0', '1e-310', 'Infinity', '-Infinity', p.lon, NULL)::marker_cluster
            WHEN p.id % 3 = 0 THEN ROW(1, p.lat, p.lon, p.lat, p.lon, p.lat, p.lon, p.id)::marker_cluster END,
       CASE WHEN p.id % 200 = 0 THEN
                (SELECT cluster_agg(x.lat, x.lon, (p.id / 200 % 12)::int, 60, x.id) FROM pts x WHERE x.id BETWEEN p.id - 199 AND p.id)
            WHEN p.id % 5 = 0 THEN '{}' END
  FROM pts p,
       LATERAL (SELECT CASE WHEN random() < 0.01 THEN NULL ELSE quadkey(p.lat, p.lon, rel.random_level(29)) END AS qk,
                       CASE WHEN random() < 0.01 THEN NULL ELSE geohash(p.lat, p.lon, rel.random_level(12)) END AS gh,
                       p.id AS k) c;
SELECT rel.create_indexes('markers');
ANALYZE markers;
SELECT rel.make_queries('markers', :queries);
SQL
then
  fail "setup of the marker table with every index class" "$(cat "$tmp/setup.err")"
fi
mfingerprint="SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, lat, lon, qk, gh, qks, ghs, top, clusters), ',' ORDER BY id)) FROM"
mwant=$(q -c "$mfingerprint markers")
# The index classes by column (one per operator class of each type); the definitions, to compare later.
check "markers: one index per operator class of each type" \
  "$(q -c "SELECT string_agg(col || ': ' || ams, '; ' ORDER BY col) FROM (SELECT a.attname AS col, string_agg(am.amname, ' ' ORDER BY am.amname) AS ams
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = 'markers'::regclass AND a.attname IN ('qk', 'gh') GROUP BY 1) x")" \
  "gh: brin btree gist hash spgist; qk: brin btree gist hash spgist"
check "markers: every operator class of the two types has its index" \
  "$(q -c "SELECT count(*) FROM pg_opclass o WHERE o.opcintype IN ('quadkey'::regtype, 'geohash'::regtype)
              AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = 'markers'::regclass AND i.indclass[0] = o.oid)")" "0"
indexdefs="SELECT string_agg(d, E'\n' ORDER BY d) FROM (
             SELECT replace(pg_get_indexdef(i.indexrelid), 'markers_bin', 'markers') || ' ' || o.opcname
                    || CASE WHEN i.indisvalid AND i.indisready THEN '' ELSE ' INVALID' END AS d
               FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = \$1) x"
mdefs=$(q -c "PREPARE d(regclass) AS $indexdefs" -c "EXECUTE d('markers')")
check "markers: 20000 rows, the primary key and an index per class, valid" "${mwant%% *} rows, $(grep -vc INVALID <<<"$mdefs") indexes" \
  "20000 rows, $(q -c "SELECT 1 + count(*) FROM pg_opclass WHERE opcintype IN ('quadkey'::regtype, 'geohash'::regtype)") indexes"

# index_checks LABEL TABLE: amcheck on the table's btrees, then a test per index: each index
# alone equals the sequential scan on rel_queries, and EXPLAIN showed it searched.
index_checks() {
  local label=$1 table=$2 index error lines total mism desc am
  while IFS='|' read -r index error; do
    [ -z "$index" ] && continue
    if [ -z "$error" ]; then ok "$label: amcheck $index"; else fail "$label: amcheck $index" "$error"; fi
  done < <(q -c "SELECT * FROM rel.check_btrees('$table')" 2>&1 || echo "rel.check_btrees|did not run")
  q -c "SELECT index_name, am, scan, queries, mismatches, used_for, coalesce(detail, '') FROM rel.check_indexes('$table')" \
    >"$tmp/indexes" 2>&1 || { fail "$label: rel.check_indexes did not run" "$(cat "$tmp/indexes")"; return; }
  for index in $(grep '|' "$tmp/indexes" | cut -d'|' -f1 | sort -u); do
    lines=$(grep "^$index|" "$tmp/indexes")
    total=$(awk -F'|' '{s += $4} END {print s + 0}' <<<"$lines")
    mism=$(awk -F'|' '{s += $5} END {print s + 0}' <<<"$lines")
    desc=$(awk -F'|' '$4 > 0 {printf "%s%s %s (%s)", (n++ ? ", " : ""), $3, $4, $6}' <<<"$lines")
    am=$(head -n 1 <<<"$lines" | cut -d'|' -f2)
    if [ "$mism" = 0 ] && [ "$total" -gt 0 ]; then
      ok "$label: $index ($am) used and = seq scan: $desc"
    elif [ "$total" = 0 ]; then
      fail "$label: $index ($am) used and = seq scan" "EXPLAIN never showed the index searched"
    else
      fail "$label: $index ($am) used and = seq scan" "$mism of $total differ: $(awk -F'|' '$7 != "" {print $7}' <<<"$lines" | head -n 1)"
    fi
  done
}

# Binary COPY out, and in to a table with the same indexes: the indexes grow by inserts.
q -c "CREATE TABLE markers_bin (LIKE markers INCLUDING DEFAULTS INCLUDING CONSTRAINTS)" \
  -c "ALTER TABLE markers_bin ADD PRIMARY KEY (id)" -c "SELECT rel.create_indexes('markers_bin')" \
  -c "\\copy markers TO '$tmp/markers.bin' (FORMAT binary)" \
  -c "\\copy markers_bin FROM '$tmp/markers.bin' (FORMAT binary)" -c "ANALYZE markers_bin" >/dev/null 2>"$tmp/err" \
  || fail "markers: binary COPY out and in" "$(cat "$tmp/err")"
check "markers, binary COPY: same rows, every column type" "$(q -c "$mfingerprint markers_bin")" "$mwant"
check "markers, binary COPY: values equal as values" \
  "$(q -c "SELECT count(*) FROM markers a JOIN markers_bin b USING (id) WHERE (a.lat, a.lon, a.qk, a.gh, a.qks, a.ghs, a.top, a.clusters)
                                                                    IS NOT DISTINCT FROM (b.lat, b.lon, b.qk, b.gh, b.qks, b.ghs, b.top, b.clusters)")" \
  "$(q -c "SELECT count(*) FROM markers")"
check "markers, binary COPY: the same index definitions" "$(q -c "PREPARE d(regclass) AS $indexdefs" -c "EXECUTE d('markers_bin')")" "$mdefs"
index_checks "markers, binary COPY" markers_bin

# pg_dump -Fc / pg_restore -------------------------------------------------------------------
if "$PGBIN/pg_dump" -Fc -d "$src" -f "$tmp/dump.fc" 2>"$tmp/err"; then ok "pg_dump -Fc"; else fail "pg_dump -Fc" "$(cat "$tmp/err")"; fi
psql -X -q -d postgres -c "CREATE DATABASE $dst" >/dev/null 2>&1
if "$PGBIN/pg_restore" --exit-on-error -d "$dst" "$tmp/dump.fc" 2>"$tmp/err"; then ok "pg_restore into a fresh database"
else fail "pg_restore into a fresh database" "$(cat "$tmp/err")"; fi
DB=$dst
check "restored: contents equal" "$(q -c "$fingerprint cells")" "$want"
check "restored: copies equal too" "$(q -c "$fingerprint cells_bin")" "$want"
check "restored: four indexes, all valid" \
  "$(q -c "SELECT count(*) FILTER (WHERE indisvalid AND indisready) FROM pg_index WHERE indrelid = 'cells'::regclass AND indexrelid <> 'cells_pkey'::regclass")" "4"
check "restored: btree opclasses" \
  "$(q -c "SELECT string_agg(o.opcname, ',' ORDER BY o.opcname) FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = 'cells'::regclass AND i.indexrelid <> 'cells_pkey'::regclass")" \
  "geohash_hash_ops,geohash_ops,quadkey_hash_ops,quadkey_ops"
q -c "CREATE EXTENSION IF NOT EXISTS amcheck" >/dev/null 2>&1
if q -c "SELECT bt_index_parent_check('cells_q', true, true), bt_index_parent_check('cells_g', true, true)" >/dev/null 2>"$tmp/err"
then ok "restored: amcheck on the btree indexes"; else fail "restored: amcheck on the btree indexes" "$(cat "$tmp/err")"; fi
q -c "ANALYZE cells" >/dev/null
# uses_index NAME INDEX QUERY [INDEXES TO DROP]: EXPLAIN (sequential scans off) shows INDEX,
# with the other indexes dropped inside a transaction that is rolled back.
uses_index() {
  local name=$1 index=$2 sql=$3 drop=${4:-} p
  p=$(q -c "BEGIN" ${drop:+-c "DROP INDEX $drop"} -c "SET LOCAL enable_seqscan = off" \
        -c "EXPLAIN (COSTS OFF) $sql" -c "ROLLBACK" 2>&1)
  if grep -qE "(Index|Index Only) Scan using $index\b|Bitmap Index Scan on $index\b" <<<"$p"; then
    ok "restored: $name uses $index"
  else
    fail "restored: $name uses $index" "$p"
  fi
}
# Every column type, every index class, restored: the indexes are built anew on the rows.
check "markers, restored: contents equal, every column type" "$(q -c "$mfingerprint markers")" "$mwant"
check "markers, restored: binary copy's contents equal" "$(q -c "$mfingerprint markers_bin")" "$mwant"
check "markers, restored: the same index definitions, all valid" "$(q -c "PREPARE d(regclass) AS $indexdefs" -c "EXECUTE d('markers')")" "$mdefs"
q -c "ANALYZE markers" >/dev/null
index_checks "markers, restored" markers
uses_index "quadkey =" cells_q "SELECT id FROM cells WHERE q = '0123'" "cells_q_hash, cells_g_hash"
uses_index "geohash =" cells_g "SELECT id FROM cells WHERE g = 'u4pr'" "cells_q_hash, cells_g_hash"
uses_index "quadkey cell range" cells_q "SELECT id FROM cells WHERE q BETWEEN '0123' AND quadkey_range_end('0123')"
uses_index "geohash ORDER BY" cells_g "SELECT g FROM cells ORDER BY g LIMIT 3"
uses_index "quadkey = (hash)" cells_q_hash "SELECT id FROM cells WHERE q = '0123'" "cells_q, cells_g"
uses_index "geohash = (hash)" cells_g_hash "SELECT id FROM cells WHERE g = 'u4pr'" "cells_q, cells_g"
# Lookups through the restored hash indexes alone find every row (one value in 20 of each).
check "restored: hash index lookups find every row" \
  "$(q -c "BEGIN" -c "DROP INDEX cells_q, cells_g" -c "SET LOCAL enable_seqscan = off" -c "SET LOCAL enable_bitmapscan = off" \
       -c "SELECT (SELECT count(*) FROM (SELECT g, count(*) AS n FROM cells_text WHERE g IS NOT NULL GROUP BY g) t
                    WHERE abs(hashtext(g::text)) % 20 = 0 AND (SELECT count(*) FROM cells c WHERE c.g = t.g) <> t.n)
                 + (SELECT count(*) FROM (SELECT q, count(*) AS n FROM cells_text WHERE q IS NOT NULL GROUP BY q) t
                    WHERE abs(hashtext(q::text)) % 20 = 0 AND (SELECT count(*) FROM cells c WHERE c.q = t.q) <> t.n)" \
       -c "ROLLBACK")" "0"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
