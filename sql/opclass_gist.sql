-- The GiST operator classes quadkey_gist_ops and geohash_gist_ops (src/pg/opclass_gist.cpp):
-- `&& @> <@ =` and `< <= > >=`, exact [lo, hi] keys, sorted builds and index-only scans.
-- Every indexed answer is compared with the sequential scan's, for an index built sorted on a
-- full table and for one grown by inserts (penalty and picksplit).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcname IN ('quadkey_gist_ops', 'geohash_gist_ops') ORDER BY 1;

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

-- Built sorted on the full table.
CREATE INDEX ix_qk_gist ON ix_cells USING gist (qk);
CREATE INDEX ix_gh_gist ON ix_cells USING gist (gh);
-- Grown by inserts into an empty index, in an order unrelated to the codes.
CREATE TABLE ix_grown (LIKE ix_cells);
CREATE INDEX ix_qk_gist_grown ON ix_grown USING gist (qk);
CREATE INDEX ix_gh_gist_grown ON ix_grown USING gist (gh);
INSERT INTO ix_grown SELECT * FROM ix_cells ORDER BY md5(id::text);
VACUUM ANALYZE ix_cells;
VACUUM ANALYZE ix_grown;
SET enable_seqscan = off;

EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE qk <@ '0313';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE gh @> 'u0nd';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE qk && '031311';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE gh = 'u0nd9';
-- Index-only: the fetch function gives back the stored cell.
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT qk FROM ix_cells WHERE qk <@ '0313';
SELECT count(*) = (SELECT count(*) FROM ix_cells WHERE qk::text LIKE '0313%') AS index_only_agrees
  FROM (SELECT qk FROM ix_cells WHERE qk <@ '0313') s;
RESET enable_bitmapscan;
-- A parameter (generic plan) and a nested loop need nothing special: the operators are the
-- operator class's own.
PREPARE ix_gh_in(geohash) AS SELECT count(*) FROM ix_cells WHERE gh <@ $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ix_gh_in('u0');
RESET plan_cache_mode;
SET enable_hashjoin = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT q.cell, count(c.id) FROM ix_quadkeys q JOIN ix_cells c ON c.qk <@ q.cell GROUP BY q.cell;
RESET enable_hashjoin; RESET enable_mergejoin;
-- An array of cells (a viewport cover): GiST has no native array search, so the planner runs
-- one index scan per element into a bitmap.
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE qk <@ ANY ('{0313,0312,1202}');
SELECT (SELECT count(*) FROM ix_cells WHERE qk <@ ANY ('{0313,0312,1202}'))
     = (SELECT count(*) FROM ix_cells WHERE qk <@ '0313' OR qk <@ '0312' OR qk <@ '1202') AS array_agrees;

\pset tuples_only on
-- Every operator: the index agrees with the sequential scan (every query cell; the comparisons
-- on 15 of them).
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['<@', '@>', '&&', '='],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_gist');
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_quadkeys ORDER BY md5(cell::text) LIMIT 15', 'ix_qk_gist');
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['<@', '@>', '&&', '='],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_gist');
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_geohashes ORDER BY md5(cell::text) LIMIT 15', 'ix_gh_gist');
SELECT * FROM ix_check('ix_grown', 'qk', 'quadkey', ARRAY['<@', '@>', '&&', '='],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_gist_grown');
SELECT * FROM ix_check('ix_grown', 'gh', 'geohash', ARRAY['<@', '@>', '&&', '='],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_gist_grown');
\pset tuples_only off
RESET ALL;

-- The two builds hold the same entries; the sorted one is packed (no larger than the grown one).
SELECT pg_relation_size('ix_qk_gist') <= pg_relation_size('ix_qk_gist_grown') AS sorted_build_packed;

DROP TABLE ix_cells, ix_grown, ix_quadkeys, ix_geohashes;
DROP FUNCTION ix_check;
DEALLOCATE ALL;
