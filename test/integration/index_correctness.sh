#!/usr/bin/env bash
# Randomized correctness of every index geocluster offers, against an oracle that never touches
# the code under test.
#
# Data: 100,000 seeded random rows (dense cities, a uniform scatter, points on tile edges, the
# antimeridian and the poles, one row in ten a coarser cell of a random level, heaps of
# identical values), in one table per index type: btree, GiST, SP-GiST (each index built on two
# thirds of the rows, the last third inserted afterwards: sorted builds and insertion paths) and
# BRIN (rows loaded in code order). Queries: about 650 quadkey and 450 geohash cells at mixed levels
# (ancestors of rows, random cells, cells deeper than the data), and 150 viewport boxes; some
# 25,000 indexed queries in all.
#
# Oracle: containment from quadkey_parent/geohash_parent and equality joins (hash joins over
# every ancestor of every row), order from the C-collation order of the text forms.
#
# Checks, for each index type and each cell type:
#   * every operator (<@ @> && = < <= > >=) with a constant, sequential scans off: the same
#     rows as the oracle (their number and a checksum of their values, which index-only scans
#     can answer: the GiST and SP-GiST fetch paths are tested too), and the index is in the
#     plan wherever the index type supports the operator;
#   * the commuted forms (X @> col, X <@ col);
#   * prepared statements with generic plans (plan_cache_mode = force_generic_plan);
#   * a nested loop whose inner side is a parameterized index scan;
#   * viewport covers: col <@ quadkey_cover(...) / geohash_cover(...) (and <@ ANY for GiST
#     and SP-GiST), including covers too large to be written out range by range.
# One check = one line `ok ...` or `FAIL ...`; the last line is `N passed, M failed`.
#
#   GEOCLUSTER_INDEX_SEED   random seed (default: a new one each run, printed)
#   GEOCLUSTER_INDEX_ROWS   rows (default 100000)
#   GEOCLUSTER_INDEX_KEEP=1 keep the database geocluster_index for inspection
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
seed=${GEOCLUSTER_INDEX_SEED:-$((RANDOM * 32768 + RANDOM))}
rows=${GEOCLUSTER_INDEX_ROWS:-100000}

. test/integration/lib_reliability/server.sh
db=geocluster_index
psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 \
  || { echo "could not create database $db"; echo "0 passed, 1 failed"; exit 1; }
echo "index correctness: seed $seed, $rows rows (GEOCLUSTER_INDEX_SEED=$seed reproduces this run)"
start=$(date +%s)

out=$(psql -X -q -d "$db" -v ON_ERROR_STOP=1 -v seed="$seed" -v rows="$rows" 2>&1 <<'SQL'
SET client_min_messages = warning;
\o /dev/null
CREATE EXTENSION geocluster;
SELECT setseed((:seed % 1000003) / 1000003.0);

-- The data ------------------------------------------------------------------------------------
CREATE TABLE centres AS
  SELECT k, -60 + 130 * random() AS lat, -180 + 360 * random() AS lon, power(10, -2.5 + 2.5 * random()) AS sigma
    FROM generate_series(1, 40) k;
CREATE TABLE pts AS
  SELECT i AS id, least(85, greatest(-85, lat))::float8 AS lat, lon::float8 AS lon
    FROM (SELECT i, random() AS r, random() AS u, floor(random() * 40 + 1)::int AS c,
                 (random() + random() + random() + random() - 2) AS g1, (random() + random() + random() + random() - 2) AS g2
            FROM generate_series(1, :rows) i) x
    CROSS JOIN LATERAL (
      SELECT CASE
        WHEN x.r < 0.55 THEN (SELECT ce.lat + ce.sigma * x.g1 FROM centres ce WHERE ce.k = x.c)
        WHEN x.r < 0.80 THEN -85 + 170 * x.u
        WHEN x.r < 0.85 THEN 180.0 / (2 ^ floor(x.u * 12)) * floor(x.g1 * 8)       -- on grid lines
        WHEN x.r < 0.88 THEN 85.05112878 - x.u * 0.001                            -- the Mercator edge
        ELSE -10 + 20 * x.u END AS lat,
             CASE
        WHEN x.r < 0.55 THEN (SELECT least(180, greatest(-180, ce.lon + ce.sigma * x.g2)) FROM centres ce WHERE ce.k = x.c)
        WHEN x.r < 0.80 THEN -180 + 360 * random()
        WHEN x.r < 0.85 THEN least(180, greatest(-180, 360.0 / (2 ^ floor(random() * 12)) * floor(x.g2 * 8)))
        WHEN x.r < 0.88 THEN -180 + 360 * x.u
        ELSE CASE WHEN x.u < 0.5 THEN 180 - x.u * 0.01 ELSE -180 + (x.u - 0.5) * 0.01 END END AS lon) p;
CREATE TABLE src AS
  SELECT id,
         CASE WHEN id % 10 = 3 THEN quadkey_parent(quadkey(lat, lon, 23), (id / 10) % 24)
              ELSE quadkey(lat, lon, 23) END AS qk,
         CASE WHEN id % 10 = 3 THEN geohash_parent(geohash(lat, lon, 12), (id / 10) % 13)
              ELSE geohash(lat, lon, 12) END AS gh
    FROM pts;
-- Heaps of identical values.
UPDATE src SET qk = (SELECT qk FROM src WHERE id = 17), gh = (SELECT gh FROM src WHERE id = 17) WHERE id % 97 = 5;
UPDATE src SET qk = (SELECT qk FROM src WHERE id = 23), gh = (SELECT gh FROM src WHERE id = 23) WHERE id % 211 = 7;

-- One table per index type. Two thirds of the rows before the index, the rest inserted after.
CREATE FUNCTION make_table(name text, am text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I AS SELECT * FROM src WHERE id %% 3 <> 0', name);
  EXECUTE format('CREATE INDEX %I ON %I USING %s (qk)', name || '_qk', name, am);
  EXECUTE format('CREATE INDEX %I ON %I USING %s (gh)', name || '_gh', name, am);
  EXECUTE format('INSERT INTO %I SELECT * FROM src WHERE id %% 3 = 0 ORDER BY random()', name);
END $$;
SELECT make_table('t_btree', 'btree'), make_table('t_gist', 'gist'), make_table('t_spgist', 'spgist');
VACUUM ANALYZE t_btree;
VACUUM ANALYZE t_gist;
VACUUM ANALYZE t_spgist;
CREATE TABLE t_brin_qk AS SELECT * FROM src ORDER BY qk;
CREATE TABLE t_brin_gh AS SELECT * FROM src ORDER BY gh;
CREATE INDEX t_brin_qk_qk ON t_brin_qk USING brin (qk) WITH (pages_per_range = 8);
CREATE INDEX t_brin_gh_gh ON t_brin_gh USING brin (gh) WITH (pages_per_range = 8);
VACUUM ANALYZE t_brin_qk;
VACUUM ANALYZE t_brin_gh;

-- Query cells.
CREATE TABLE cells AS
  SELECT 'quadkey' AS typ, c::text AS cell FROM (
    SELECT DISTINCT quadkey_parent(qk, floor(random() * (quadkey_zoom(qk) + 1))::int) AS c
      FROM (SELECT qk FROM src ORDER BY random() LIMIT 480) s
    UNION SELECT quadkey(-85 + 170 * random(), -180 + 360 * random(), floor(1 + random() * 29)::int)
      FROM generate_series(1, 120)
    UNION SELECT quadkey(lat, lon, 24 + (id % 6)) FROM (SELECT * FROM pts ORDER BY random() LIMIT 130) p) q
  UNION ALL
  SELECT 'geohash', c::text FROM (
    SELECT DISTINCT geohash_parent(gh, floor(random() * (geohash_precision(gh) + 1))::int) AS c
      FROM (SELECT gh FROM src ORDER BY random() LIMIT 420) s
    UNION SELECT geohash(-90 + 180 * random(), -180 + 360 * random(), floor(1 + random() * 12)::int)
      FROM generate_series(1, 120)) q;

-- The oracle -----------------------------------------------------------------------------------
-- Each row's text and a hash of it (the checksum of a result is the sum of its rows' hashes).
CREATE TABLE row_text AS
  SELECT 'quadkey' AS typ, id, qk::text AS v, hashtext(qk::text)::bigint AS h FROM src
  UNION ALL SELECT 'geohash', id, gh::text, hashtext(gh::text) FROM src;
-- Rows per value, and rows per ancestor-or-self: "inside X" is the rows one of whose
-- ancestors-or-self is X.
CREATE TABLE eq_agg AS SELECT typ, v, count(*) AS n, sum(h) AS s FROM row_text GROUP BY typ, v;
CREATE TABLE inside_agg AS
  SELECT typ, a, sum(n) AS n, sum(s) AS s FROM (
    SELECT e.typ, quadkey_parent(e.v::quadkey, l)::text AS a, e.n, e.s
      FROM eq_agg e, generate_series(0, 29) l WHERE e.typ = 'quadkey' AND l <= quadkey_zoom(e.v::quadkey)
    UNION ALL
    SELECT e.typ, geohash_parent(e.v::geohash, l)::text, e.n, e.s
      FROM eq_agg e, generate_series(0, 12) l WHERE e.typ = 'geohash' AND l <= geohash_precision(e.v::geohash)) x
  GROUP BY typ, a;
-- Every ancestor-or-self of every cell: "contains X" is the rows equal to one of them.
CREATE TABLE cell_anc AS
  SELECT typ, cell, quadkey_parent(cell::quadkey, l)::text AS a FROM cells, generate_series(0, 29) l
   WHERE typ = 'quadkey' AND l <= quadkey_zoom(cell::quadkey)
  UNION ALL
  SELECT typ, cell, geohash_parent(cell::geohash, l)::text FROM cells, generate_series(0, 12) l
   WHERE typ = 'geohash' AND l <= geohash_precision(cell::geohash);
CREATE TABLE oracle AS
  SELECT c.typ, '<@' AS op, c.cell, coalesce(i.n, 0) AS n, coalesce(i.s, 0) AS s
    FROM cells c LEFT JOIN inside_agg i ON i.typ = c.typ AND i.a = c.cell
  UNION ALL
  SELECT c.typ, '=', c.cell, coalesce(e.n, 0), coalesce(e.s, 0)
    FROM cells c LEFT JOIN eq_agg e ON e.typ = c.typ AND e.v = c.cell
  UNION ALL
  SELECT ca.typ, '@>', ca.cell, coalesce(sum(e.n), 0), coalesce(sum(e.s), 0)
    FROM cell_anc ca LEFT JOIN eq_agg e ON e.typ = ca.typ AND e.v = ca.a
   GROUP BY ca.typ, ca.cell;
-- Overlap: inside or containing; the rows equal to X are in both.
INSERT INTO oracle
  SELECT i.typ, '&&', i.cell, i.n + c.n - e.n, i.s + c.s - e.s
    FROM oracle i JOIN oracle c ON c.typ = i.typ AND c.cell = i.cell AND c.op = '@>'
                  JOIN oracle e ON e.typ = i.typ AND e.cell = i.cell AND e.op = '='
   WHERE i.op = '<@';
-- Order: running counts over rows and cells sorted by their text in C collation. A cell placed
-- before equal rows sees the rows < it; placed after them, the rows <= it.
INSERT INTO oracle
  SELECT typ, op, cell, n, s FROM (
    SELECT typ, kind, v AS cell,
           count(id) OVER w AS n, coalesce(sum(h) OVER w, 0) AS s
      FROM (SELECT typ, 1 AS kind, v, id, h FROM row_text
            UNION ALL SELECT typ, 0, cell, NULL, NULL FROM cells
            UNION ALL SELECT typ, 2, cell, NULL, NULL FROM cells) u
    WINDOW w AS (PARTITION BY typ ORDER BY v COLLATE "C", kind ROWS UNBOUNDED PRECEDING)) r
    CROSS JOIN LATERAL (VALUES (CASE kind WHEN 0 THEN '<' ELSE '<=' END)) o(op)
   WHERE kind <> 1;
INSERT INTO oracle
  SELECT o.typ, CASE o.op WHEN '<' THEN '>=' ELSE '>' END, o.cell, tot.n - o.n, tot.s - o.s
    FROM oracle o JOIN (SELECT typ, count(*) AS n, sum(h) AS s FROM row_text GROUP BY typ) tot USING (typ)
   WHERE o.op IN ('<', '<=');

-- The checks -----------------------------------------------------------------------------------
CREATE TABLE report (line text, ok bool);

-- check(table, type, index, operators, cells per operator, commuted, expect_index): every cell,
-- sequential scans off; compares with the oracle; the plan of the first 25 cells must use the
-- index when expect_index.
CREATE FUNCTION check_ops(tbl text, typ text, idx text, ops text[], max_cells int, commuted bool, expect_index bool)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE opname text; c record; q text; n bigint; s numeric; bad int; total int; used int; checked int; line text; plan text;
        col text := CASE typ WHEN 'quadkey' THEN 'qk' ELSE 'gh' END; example text;
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  FOREACH opname IN ARRAY ops LOOP
    bad := 0; total := 0; used := 0; checked := 0; example := NULL;
    FOR c IN SELECT o.cell, o.n, o.s FROM oracle o
              WHERE o.typ = check_ops.typ AND o.op = (CASE WHEN commuted THEN (CASE opname WHEN '@>' THEN '<@' WHEN '<@' THEN '@>' ELSE opname END) ELSE opname END)
              ORDER BY md5(o.cell) LIMIT max_cells LOOP
      q := CASE WHEN commuted THEN format('SELECT count(*), coalesce(sum(hashtext(%I::text)), 0) FROM %I WHERE %L::%s %s %I', col, tbl, c.cell, typ, opname, col)
                ELSE format('SELECT count(*), coalesce(sum(hashtext(%I::text)), 0) FROM %I WHERE %I %s %L::%s', col, tbl, col, opname, c.cell, typ) END;
      EXECUTE q INTO n, s;
      total := total + 1;
      IF n <> c.n OR s <> c.s THEN
        bad := bad + 1;
        example := coalesce(example, format('%s: got %s rows, expected %s', q, n, c.n));
      END IF;
      IF checked < 25 THEN
        checked := checked + 1;
        plan := '';
        FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line || E'\n'; END LOOP;
        IF position(idx IN plan) > 0 AND plan ~ 'Index Cond' THEN used := used + 1; END IF;
      END IF;
    END LOOP;
    INSERT INTO report VALUES (
      format('%s %-8s %-7s %s%-2s: %s queries, %s wrong, index in %s of %s plans%s',
             CASE WHEN bad = 0 AND (NOT expect_index OR used = checked) THEN 'ok  ' ELSE 'FAIL' END,
             tbl, typ, CASE WHEN commuted THEN 'X ' ELSE '' END, opname, total, bad, used, checked,
             CASE WHEN example IS NULL THEN '' ELSE E'\n     e.g. ' || example END),
      bad = 0 AND (NOT expect_index OR used = checked));
  END LOOP;
END $$;

SELECT check_ops('t_btree', 'quadkey', 't_btree_qk', '{<@,@>,=}', 1000, false, true);
SELECT check_ops('t_btree', 'quadkey', 't_btree_qk', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_btree', 'quadkey', 't_btree_qk', '{&&}', 20, false, false);
SELECT check_ops('t_btree', 'quadkey', 't_btree_qk', '{<@,@>}', 1000, true, true);
SELECT check_ops('t_btree', 'geohash', 't_btree_gh', '{<@,@>,=}', 1000, false, true);
SELECT check_ops('t_btree', 'geohash', 't_btree_gh', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_btree', 'geohash', 't_btree_gh', '{&&}', 20, false, false);
SELECT check_ops('t_btree', 'geohash', 't_btree_gh', '{<@,@>}', 1000, true, true);
SELECT check_ops('t_gist', 'quadkey', 't_gist_qk', '{<@,@>,&&,=}', 1000, false, true);
SELECT check_ops('t_gist', 'quadkey', 't_gist_qk', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_gist', 'geohash', 't_gist_gh', '{<@,@>,&&,=}', 1000, false, true);
SELECT check_ops('t_gist', 'geohash', 't_gist_gh', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_spgist', 'quadkey', 't_spgist_qk', '{<@,@>,&&,=}', 1000, false, true);
SELECT check_ops('t_spgist', 'quadkey', 't_spgist_qk', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_spgist', 'geohash', 't_spgist_gh', '{<@,@>,&&,=}', 1000, false, true);
SELECT check_ops('t_spgist', 'geohash', 't_spgist_gh', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_brin_qk', 'quadkey', 't_brin_qk_qk', '{<@,=}', 300, false, true);
SELECT check_ops('t_brin_qk', 'quadkey', 't_brin_qk_qk', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_brin_qk', 'quadkey', 't_brin_qk_qk', '{@>}', 300, true, true);
SELECT check_ops('t_brin_gh', 'geohash', 't_brin_gh_gh', '{<@,=}', 300, false, true);
SELECT check_ops('t_brin_gh', 'geohash', 't_brin_gh_gh', '{<,<=,>,>=}', 30, false, true);
SELECT check_ops('t_brin_gh', 'geohash', 't_brin_gh_gh', '{@>}', 300, true, true);

-- Prepared statements, generic plans: `col <@ $1` and `$1 @> col`.
CREATE FUNCTION check_generic(tbl text, typ text, idx text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE c record; n bigint; s numeric; bad int := 0; total int := 0; plan text := '';
        col text := CASE typ WHEN 'quadkey' THEN 'qk' ELSE 'gh' END; line text; form text;
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  FOREACH form IN ARRAY ARRAY['%I <@ $1', '$1 @> %I'] LOOP
    EXECUTE format('PREPARE gen(%s) AS SELECT count(*), coalesce(sum(hashtext(%I::text)), 0) FROM %I WHERE ' || form,
                   typ, col, tbl, col);
    FOR c IN SELECT o.cell, o.n, o.s FROM oracle o WHERE o.typ = check_generic.typ AND o.op = '<@'
              ORDER BY md5(o.cell) LIMIT 250 LOOP
      EXECUTE format('EXECUTE gen(%L)', c.cell) INTO n, s;
      total := total + 1;
      IF n <> c.n OR s <> c.s THEN bad := bad + 1; END IF;
    END LOOP;
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) EXECUTE gen(%L)', '') LOOP plan := plan || line; END LOOP;
    DEALLOCATE gen;
  END LOOP;
  INSERT INTO report VALUES (
    format('%s %-8s %-7s generic plans (col <@ $1, $1 @> col): %s queries, %s wrong, index used: %s',
           CASE WHEN bad = 0 AND position(idx IN plan) > 0 AND plan ~ 'Index Cond' THEN 'ok  ' ELSE 'FAIL' END, tbl, typ, total, bad,
           position(idx IN plan) > 0 AND plan ~ 'Index Cond'),
    bad = 0 AND position(idx IN plan) > 0 AND plan ~ 'Index Cond');
END $$;
SELECT check_generic('t_btree', 'quadkey', 't_btree_qk'), check_generic('t_btree', 'geohash', 't_btree_gh'),
       check_generic('t_gist', 'quadkey', 't_gist_qk'), check_generic('t_gist', 'geohash', 't_gist_gh'),
       check_generic('t_spgist', 'quadkey', 't_spgist_qk'), check_generic('t_spgist', 'geohash', 't_spgist_gh'),
       check_generic('t_brin_qk', 'quadkey', 't_brin_qk_qk'), check_generic('t_brin_gh', 'geohash', 't_brin_gh_gh');

-- Nested loops: the cells table outside, a parameterized index scan inside.
CREATE FUNCTION check_nested(tbl text, typ text, idx text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE q text; bad int; total int; plan text := ''; line text; col text := CASE typ WHEN 'quadkey' THEN 'qk' ELSE 'gh' END;
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  PERFORM set_config('enable_hashjoin', 'off', true);
  PERFORM set_config('enable_mergejoin', 'off', true);
  PERFORM set_config('enable_material', 'off', true);
  q := format('SELECT c.cell, count(t.id) AS n, coalesce(sum(hashtext(t.%I::text)), 0) AS s'
              ' FROM (SELECT cell::%s AS cell FROM cells WHERE typ = %L) c'
              ' LEFT JOIN %I t ON t.%I <@ c.cell GROUP BY c.cell', col, typ, typ, tbl, col);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line; END LOOP;
  EXECUTE format('SELECT count(*), count(*) FILTER (WHERE (r.n, r.s) IS DISTINCT FROM (o.n, o.s))'
                 ' FROM (%s) r JOIN oracle o ON o.typ = %L AND o.op = %L AND o.cell = r.cell::text', q, typ, '<@')
     INTO total, bad;
  INSERT INTO report VALUES (
    format('%s %-8s %-7s nested loop (t.col <@ outer.cell): %s cells, %s wrong, parameterized index scan: %s',
           CASE WHEN bad = 0 AND plan ~ 'Nested Loop' AND position(idx IN plan) > 0 AND plan ~ 'Index Cond' THEN 'ok  ' ELSE 'FAIL' END,
           tbl, typ, total, bad, plan ~ 'Nested Loop' AND position(idx IN plan) > 0 AND plan ~ 'Index Cond'),
    bad = 0 AND plan ~ 'Nested Loop' AND position(idx IN plan) > 0 AND plan ~ 'Index Cond');
END $$;
SELECT check_nested('t_btree', 'quadkey', 't_btree_qk'), check_nested('t_btree', 'geohash', 't_btree_gh'),
       check_nested('t_gist', 'quadkey', 't_gist_qk'), check_nested('t_gist', 'geohash', 't_gist_gh'),
       check_nested('t_spgist', 'quadkey', 't_spgist_qk'), check_nested('t_spgist', 'geohash', 't_spgist_gh'),
       check_nested('t_brin_qk', 'quadkey', 't_brin_qk_qk'), check_nested('t_brin_gh', 'geohash', 't_brin_gh_gh');

-- Viewport covers: 150 boxes (some across the antimeridian) and 50 deeper covers, col <@ <type>_cover(box, level).
-- Each box gets the deepest level whose cover has at most 48 cells, as a map would choose the
-- level from the viewport's size.
CREATE TABLE boxes AS
  SELECT k, lat - h AS min_lat, lon AS min_lon, lat + h AS max_lat,
         CASE WHEN lon + w > 180 THEN lon + w - 360 ELSE lon + w END AS max_lon
    FROM (SELECT k, least(80, greatest(-80, p.lat)) AS lat, p.lon,
                 power(10, -3 + 3.5 * r1) AS h, power(10, -3 + 3.8 * r2) AS w
            FROM (SELECT k, 1 + floor(random() * :rows)::int AS pid, random() AS r1, random() AS r2
                    FROM generate_series(1, 150) k) ks
            JOIN pts p ON p.id = ks.pid) b
   WHERE lat + h <= 90 AND lat - h >= -90;
CREATE FUNCTION deepest(typ text, b boxes) RETURNS int LANGUAGE plpgsql AS $$
DECLARE l int := 0;
BEGIN
  WHILE l < 16 AND cardinality(CASE typ
          WHEN 'quadkey' THEN quadkey_cover(b.min_lat, b.min_lon, b.max_lat, b.max_lon, l + 1)::text[]
          ELSE geohash_cover(b.min_lat, b.min_lon, b.max_lat, b.max_lon, least(l + 1, 12))::text[] END) <= 48 LOOP
    l := l + 1;
  END LOOP;
  RETURN CASE typ WHEN 'quadkey' THEN l ELSE least(l, 12) END;
END $$;
ALTER TABLE boxes ADD zoom int, ADD "precision" int;
UPDATE boxes b SET zoom = deepest('quadkey', b), "precision" = deepest('geohash', b);
-- A third of the boxes again, three quadkey levels and one geohash precision deeper: covers of
-- hundreds to thousands of cells, more ranges than the planner support writes out (it merges
-- them and keeps the exact test as a filter).
INSERT INTO boxes SELECT k + 1000, min_lat, min_lon, max_lat, max_lon, zoom + 3, least("precision" + 1, 12)
  FROM boxes WHERE k % 3 = 0;
CREATE TABLE cover_cells AS
  SELECT k, 'quadkey' AS typ, x::text AS cell FROM boxes, unnest(quadkey_cover(min_lat, min_lon, max_lat, max_lon, zoom)) x
  UNION ALL
  SELECT k, 'geohash', x::text FROM boxes, unnest(geohash_cover(min_lat, min_lon, max_lat, max_lon, "precision")) x;
-- Cover cells are disjoint (one level), so a box's rows are the sum over its cells.
CREATE TABLE cover_oracle AS
  SELECT b.k, t.typ, coalesce(sum(i.n), 0) AS n, coalesce(sum(i.s), 0) AS s
    FROM boxes b CROSS JOIN (VALUES ('quadkey'), ('geohash')) t(typ)
    LEFT JOIN cover_cells c ON c.k = b.k AND c.typ = t.typ
    LEFT JOIN inside_agg i ON i.typ = c.typ AND i.a = c.cell
   GROUP BY b.k, t.typ;
CREATE FUNCTION check_cover(tbl text, typ text, idx text, form text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE b record; q text; n bigint; s numeric; bad int := 0; total int := 0; used int := 0; line text; plan text;
        col text := CASE typ WHEN 'quadkey' THEN 'qk' ELSE 'gh' END;
        level text := CASE typ WHEN 'quadkey' THEN 'zoom' ELSE '"precision"' END;
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  FOR b IN EXECUTE format('SELECT b.*, b.%s AS lvl, o.n, o.s FROM boxes b JOIN cover_oracle o ON o.k = b.k AND o.typ = %L', level, typ) LOOP
    q := format('SELECT count(*), coalesce(sum(hashtext(%I::text)), 0) FROM %I WHERE %I ' || form,
                col, tbl, col, format('%s_cover(%s, %s, %s, %s, %s)', typ, b.min_lat, b.min_lon, b.max_lat, b.max_lon, b.lvl));
    EXECUTE q INTO n, s;
    total := total + 1;
    IF n <> b.n OR s <> b.s THEN bad := bad + 1; END IF;
    plan := '';
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line || E'\n'; END LOOP;
    IF position(idx IN plan) > 0 AND plan ~ 'Index Cond' THEN used := used + 1; END IF;
  END LOOP;
  INSERT INTO report VALUES (
    format('%s %-8s %-7s col %s: %s boxes, %s wrong, index in %s plans',
           CASE WHEN bad = 0 AND used = total THEN 'ok  ' ELSE 'FAIL' END, tbl, typ, replace(form, '%s', '<cover>'), total, bad, used),
    bad = 0 AND used = total);
END $$;
SELECT check_cover('t_btree', 'quadkey', 't_btree_qk', '<@ %s'), check_cover('t_btree', 'geohash', 't_btree_gh', '<@ %s'),
       check_cover('t_gist', 'quadkey', 't_gist_qk', '<@ %s'), check_cover('t_gist', 'geohash', 't_gist_gh', '<@ %s'),
       check_cover('t_spgist', 'quadkey', 't_spgist_qk', '<@ %s'), check_cover('t_spgist', 'geohash', 't_spgist_gh', '<@ %s'),
       check_cover('t_brin_qk', 'quadkey', 't_brin_qk_qk', '<@ %s'), check_cover('t_brin_gh', 'geohash', 't_brin_gh_gh', '<@ %s'),
       check_cover('t_gist', 'quadkey', 't_gist_qk', '<@ ANY (%s)'), check_cover('t_spgist', 'geohash', 't_spgist_gh', '<@ ANY (%s)');

-- The oracle is not vacuous: most containment answers are non-empty, and they differ.
INSERT INTO report
  SELECT format('%s oracle: %s of %s answers non-empty, %s distinct', CASE WHEN ok THEN 'ok  ' ELSE 'FAIL' END, ne, n, d), ok
    FROM (SELECT count(*) AS n, count(*) FILTER (WHERE n > 0) AS ne, count(DISTINCT (n, s)) AS d,
                 count(*) FILTER (WHERE n > 0) > count(*) / 2 AND count(DISTINCT (n, s)) > count(*) / 4 AS ok
            FROM oracle WHERE op IN ('<@', '@>', '&&')) x;

\o
\pset tuples_only on
\pset format unaligned
SELECT line FROM report;
SELECT format('%s passed, %s failed', count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok)) FROM report;
SQL
)
rc=$?
echo "$out"
[ -n "${GEOCLUSTER_INDEX_KEEP:-}" ] || psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
echo "($(($(date +%s) - start)) s)"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
if [ "$rc" != 0 ] || [ -z "$line" ]; then
  echo "index correctness: the SQL did not finish (seed $seed)"
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"${line:-0 passed, 0 failed}")
  echo "$p passed, $(( $(sed -E 's/.* ([0-9]+) failed/\1/' <<<"${line:-0 passed, 0 failed}") + 1 )) failed"
  exit 1
fi
echo "$line"
[[ "$line" == *" 0 failed" ]]
