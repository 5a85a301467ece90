-- The BRIN minmax operator classes quadkey_minmax_ops and geohash_minmax_ops: PostgreSQL's
-- minmax support over the btree operators. `col <@ X` reaches them through the planner support,
-- which emits the same range condition for BRIN as for btree. Every indexed answer is compared
-- with the sequential scan's.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcname IN ('quadkey_minmax_ops', 'geohash_minmax_ops') ORDER BY 1;

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

-- BRIN pays off on rows stored in code order.
CREATE TABLE ix_by_qk AS SELECT * FROM ix_cells ORDER BY qk;
CREATE TABLE ix_by_gh AS SELECT * FROM ix_cells ORDER BY gh;
CREATE INDEX ix_qk_brin ON ix_by_qk USING brin (qk) WITH (pages_per_range = 4);
CREATE INDEX ix_gh_brin ON ix_by_gh USING brin (gh) WITH (pages_per_range = 4);
ANALYZE ix_by_qk;
ANALYZE ix_by_gh;
SET enable_seqscan = off;

EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_by_qk WHERE qk <@ '0313';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_by_gh WHERE 'u0' @> gh;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_by_qk WHERE qk BETWEEN '0313' AND '0320';
PREPARE ix_qk_in(quadkey) AS SELECT count(*) FROM ix_by_qk WHERE qk <@ $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ix_qk_in('0313');
RESET plan_cache_mode;
-- A BRIN scan of a small cell reads a small part of the table.
CREATE FUNCTION ix_heap_blocks(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF line ~ 'Heap Blocks' THEN RETURN (regexp_match(line, 'lossy=(\d+)'))[1]::int; END IF;
  END LOOP;
  RETURN NULL;
END $$;
SELECT ix_heap_blocks('SELECT count(*) FROM ix_by_qk WHERE qk <@ ''031311''')
       < (SELECT relpages FROM pg_class WHERE relname = 'ix_by_qk') / 10 AS reads_a_small_part;

\pset tuples_only on
-- `<@` and its commuted form through the planner support, and the btree operators natively
-- (comparisons on 15 cells). `@>` and `&&` have no BRIN form (they are not ranges): they run
-- unindexed, still correct (15 cells).
SELECT * FROM ix_check('ix_by_qk', 'qk', 'quadkey', ARRAY['<@', '='],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_brin');
SELECT * FROM ix_check('ix_by_qk', 'qk', 'quadkey', ARRAY['@>', '&&', '<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_quadkeys ORDER BY md5(cell::text) LIMIT 15', 'ix_qk_brin');
SELECT * FROM ix_check('ix_by_qk', 'qk', 'quadkey', ARRAY['@>'],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_brin', commuted => true);
SELECT * FROM ix_check('ix_by_gh', 'gh', 'geohash', ARRAY['<@', '='],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_brin');
SELECT * FROM ix_check('ix_by_gh', 'gh', 'geohash', ARRAY['@>', '&&', '<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_geohashes ORDER BY md5(cell::text) LIMIT 15', 'ix_gh_brin');
SELECT * FROM ix_check('ix_by_gh', 'gh', 'geohash', ARRAY['@>'],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_brin', commuted => true);
\pset tuples_only off
RESET ALL;

DROP TABLE ix_cells, ix_by_qk, ix_by_gh, ix_quadkeys, ix_geohashes;
DROP FUNCTION ix_check, ix_heap_blocks;
DEALLOCATE ALL;
