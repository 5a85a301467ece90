-- The BRIN minmax operator classes quadkey_minmax_ops and geohash_minmax_ops: PostgreSQL's
-- minmax support over the btree operators. `col <@ X` reaches them through the planner support,
-- which emits the same range condition for BRIN as for btree. Every indexed answer is compared
-- with the sequential scan's.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcname IN ('quadkey_minmax_ops', 'geohash_minmax_ops') ORDER BY 1;

-- The fixture (ix_cells, the query cells, ix_check) is shared by the four opclass_* files.
\i test/sql/include/opclass_fixture.sql

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
