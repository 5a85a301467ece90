-- The btree operator classes and the planner support of the containment operators
-- (src/pg/planner_support.cpp): `col <@ X` and `X @> col` become the exact range
-- `col >= X AND col <= <type>_range_end(X)` for a constant, a parameter (generic plans too) and
-- the outer side of a nested loop; `col @> X` with a constant X becomes `col = ANY(ancestors)`.
-- Every indexed answer is compared with the sequential scan's.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

-- Fixture: 20,000 markers (a uniform scatter and three dense cities), one in ten also stored
-- as a coarser cell of every level 0..23 / 0..12 (mixed levels, including the root ''), and
-- duplicates. Deterministic.
CREATE TABLE ix_cells AS
WITH p AS (
  SELECT i,
    CASE WHEN i % 10 < 7 THEN ((i * 7919) % 17000) / 100.0 - 85
         ELSE (ARRAY[48.85, -33.86, 35.68])[i % 3 + 1] + ((i * 104729) % 1000 - 500) / 10000.0 END AS lat,
    CASE WHEN i % 10 < 7 THEN ((i * 104723) % 36000) / 100.0 - 180
         ELSE (ARRAY[2.35, 151.2, 139.69])[i % 3 + 1] + ((i * 7907) % 1000 - 500) / 10000.0 END AS lon
  FROM generate_series(1, 20000) i)
SELECT i AS id, quadkey(lat, lon, 23) AS qk, geohash(lat, lon, 12) AS gh FROM p;
INSERT INTO ix_cells
  SELECT 100000 + id, quadkey_parent(qk, id / 10 % 24), geohash_parent(gh, id / 10 % 13)
    FROM ix_cells WHERE id % 10 = 0;
INSERT INTO ix_cells SELECT 200000 + id, qk, gh FROM ix_cells WHERE id % 50 = 1;
ANALYZE ix_cells;

-- Query cells: ancestors of sample rows at every level, cells deeper than the data, and cells
-- where no data is.
CREATE TABLE ix_quadkeys AS
  SELECT DISTINCT quadkey_parent(qk, l) AS cell
    FROM ix_cells, generate_series(0, 23) l WHERE id % 4999 = 0 AND id < 100000
  UNION SELECT quadkey(-10.0 * k, 7.0 * k, 25 + k % 5) FROM generate_series(1, 8) k
  UNION SELECT quadkey(0.5, -150.0 + 10 * k, 3 + 2 * k) FROM generate_series(1, 8) k;
CREATE TABLE ix_geohashes AS
  SELECT DISTINCT geohash_parent(gh, l) AS cell
    FROM ix_cells, generate_series(0, 12) l WHERE id % 4999 = 0 AND id < 100000
  UNION SELECT geohash(0.5, -150.0 + 10 * k, 1 + k) FROM generate_series(1, 8) k;
SELECT count(*) AS quadkey_query_cells FROM ix_quadkeys;
SELECT count(*) AS geohash_query_cells FROM ix_geohashes;

-- ix_check(table, column, type, operators, query-cells SQL, index): runs
--   SELECT count(*), sum(id) FROM table WHERE column <op> '<cell>'::type
-- for every cell and operator, once with sequential scans only and once with them off, and
-- returns per operator the number of queries, of disagreements, and of plans using the index.
CREATE FUNCTION ix_check(tbl text, col text, typ text, ops text[], cells text, idx text, commuted bool DEFAULT false)
RETURNS TABLE (op text, queries int, mismatches int, indexed int) LANGUAGE plpgsql AS $$
DECLARE q text; c text; n1 bigint; s1 numeric; n2 bigint; s2 numeric; line text;
BEGIN
  FOREACH op IN ARRAY ops LOOP
    queries := 0; mismatches := 0; indexed := 0;
    FOR c IN EXECUTE cells LOOP
      q := CASE WHEN commuted
                THEN format('SELECT count(*), sum(id) FROM %I WHERE %L::%s %s %I', tbl, c, typ, op, col)
                ELSE format('SELECT count(*), sum(id) FROM %I WHERE %I %s %L::%s', tbl, col, op, c, typ) END;
      PERFORM set_config('enable_seqscan', 'on', true);
      PERFORM set_config('enable_indexscan', 'off', true);
      PERFORM set_config('enable_indexonlyscan', 'off', true);
      PERFORM set_config('enable_bitmapscan', 'off', true);
      EXECUTE q INTO n1, s1;
      PERFORM set_config('enable_seqscan', 'off', true);
      PERFORM set_config('enable_indexscan', 'on', true);
      PERFORM set_config('enable_indexonlyscan', 'on', true);
      PERFORM set_config('enable_bitmapscan', 'on', true);
      EXECUTE q INTO n2, s2;
      FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF position(idx IN line) > 0 THEN indexed := indexed + 1; EXIT; END IF;
      END LOOP;
      queries := queries + 1;
      IF n1 <> n2 OR s1 IS DISTINCT FROM s2 THEN mismatches := mismatches + 1; END IF;
    END LOOP;
    RETURN NEXT;
  END LOOP;
END $$;

CREATE INDEX ix_qk_btree ON ix_cells (qk);
CREATE INDEX ix_gh_btree ON ix_cells (gh);
SET enable_seqscan = off;

-- A constant: an exact range scan. The rewrite is exact (lossy = false), so a plain index scan
-- keeps no filter.
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE qk <@ '0313';
RESET enable_bitmapscan;
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE gh <@ 'u0';
-- The commuted form, and the function called directly.
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE '0313' @> qk;
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE quadkey_contained(qk, '0313');
-- Ancestors of a constant: the cell and its ancestors, an index array scan.
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE qk @> '031311';
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE 'u0n' <@ gh;
-- `&&` (either contains the other) has no btree form: it stays a filter.
EXPLAIN (COSTS OFF) SELECT id FROM ix_cells WHERE qk && '0313';
-- A bitmap scan keeps the operator as a filter: PostgreSQL rechecks a bitmap heap scan with
-- the original clauses; it is cheap and still exact.
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM ix_cells WHERE gh <@ 'u';

\pset tuples_only on
-- Every operator: the index agrees with the sequential scan (containment on every query cell,
-- `&&`, which btree cannot index, and the comparisons on 15 of them).
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['<@', '@>', '='],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_btree');
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['&&', '<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_quadkeys ORDER BY md5(cell::text) LIMIT 15', 'ix_qk_btree');
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['<@', '@>'],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_btree', commuted => true);
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['<@', '@>', '='],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_btree');
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['&&', '<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_geohashes ORDER BY md5(cell::text) LIMIT 15', 'ix_gh_btree');
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['<@', '@>'],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_btree', commuted => true);
\pset tuples_only off

-- A parameter: prepared statements, as drivers send them. The generic plan computes the range
-- end at run time.
PREPARE ix_qk_in(quadkey) AS SELECT count(*), sum(id) FROM ix_cells WHERE qk <@ $1;
PREPARE ix_gh_in(geohash) AS SELECT count(*), sum(id) FROM ix_cells WHERE $1 @> gh;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ix_qk_in('0313');
EXPLAIN (COSTS OFF) EXECUTE ix_gh_in('u0');
CREATE TABLE ix_generic (typ text, cell text, n bigint, s numeric);
DO $$
DECLARE c text; n bigint; s numeric;
BEGIN
  FOR c IN SELECT cell::text FROM ix_quadkeys LOOP
    EXECUTE format('EXECUTE ix_qk_in(%L)', c) INTO n, s;
    INSERT INTO ix_generic VALUES ('quadkey', c, n, s);
  END LOOP;
  FOR c IN SELECT cell::text FROM ix_geohashes LOOP
    EXECUTE format('EXECUTE ix_gh_in(%L)', c) INTO n, s;
    INSERT INTO ix_generic VALUES ('geohash', c, n, s);
  END LOOP;
END $$;
RESET plan_cache_mode;
SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
SELECT typ, count(*) AS queries,
       count(*) FILTER (WHERE (g.n, g.s) IS DISTINCT FROM (o.n, o.s)) AS mismatches
  FROM ix_generic g,
       LATERAL (SELECT count(*) AS n, sum(id) AS s FROM ix_cells
                 WHERE CASE WHEN g.typ = 'quadkey' THEN qk <@ g.cell::quadkey ELSE gh <@ g.cell::geohash END) o
 GROUP BY typ ORDER BY typ;
RESET enable_indexscan; RESET enable_bitmapscan; RESET enable_indexonlyscan;

-- The outer side of a nested loop: a parameterized index scan per outer row.
SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
  SELECT q.cell, count(c.id) FROM ix_quadkeys q JOIN ix_cells c ON c.qk <@ q.cell GROUP BY q.cell;
EXPLAIN (COSTS OFF)
  SELECT q.cell, count(c.id) FROM ix_geohashes q JOIN ix_cells c ON q.cell @> c.gh GROUP BY q.cell;
CREATE TABLE ix_nested AS
  SELECT 'quadkey' AS typ, q.cell::text, count(c.id) AS n, sum(c.id) AS s
    FROM ix_quadkeys q LEFT JOIN ix_cells c ON c.qk <@ q.cell GROUP BY q.cell
  UNION ALL
  SELECT 'geohash', q.cell::text, count(c.id), sum(c.id)
    FROM ix_geohashes q LEFT JOIN ix_cells c ON q.cell @> c.gh GROUP BY q.cell;
SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
SELECT typ, count(*) AS queries,
       count(*) FILTER (WHERE (g.n, g.s) IS DISTINCT FROM (o.n, o.s)) AS mismatches
  FROM ix_nested g,
       LATERAL (SELECT count(*) AS n, sum(id) AS s FROM ix_cells
                 WHERE CASE WHEN g.typ = 'quadkey' THEN qk <@ g.cell::quadkey ELSE gh <@ g.cell::geohash END) o
 GROUP BY typ ORDER BY typ;
RESET ALL;

-- Estimates: the restriction estimator reads the histogram over the code range the cell spans
-- (a city, a district, a block), so estimates follow the data; the root cell is the whole table.
CREATE FUNCTION ix_estimate(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
    RETURN (regexp_match(line, 'rows=(\d+)'))[1]::bigint;
  END LOOP;
END $$;
SELECT c AS cell, ix_estimate(format('SELECT * FROM ix_cells WHERE qk <@ %L', c))
         BETWEEN 0.75 * count(*) AND 1.25 * count(*) AS estimate_within_25_percent
  FROM unnest('{"",0313,1202,120220,12022001}'::text[]) c LEFT JOIN ix_cells ON qk <@ c::quadkey
 GROUP BY c ORDER BY c;
SELECT ix_estimate('SELECT * FROM ix_cells WHERE gh <@ ''u09''')
         BETWEEN 0.75 * (SELECT count(*) FROM ix_cells WHERE gh <@ 'u09')
             AND 1.25 * (SELECT count(*) FROM ix_cells WHERE gh <@ 'u09') AS geohash_within_25_percent,
       ix_estimate('SELECT * FROM ix_cells WHERE qk @> ''03131101''')
         BETWEEN (SELECT count(*) FROM ix_cells WHERE qk @> '03131101') / 2
             AND (SELECT count(*) FROM ix_cells WHERE qk @> '03131101') * 2 AS ancestors_within_2x;

DROP TABLE ix_cells, ix_quadkeys, ix_geohashes, ix_generic, ix_nested;
DROP FUNCTION ix_check, ix_estimate;
DEALLOCATE ALL;
