-- The SP-GiST operator classes quadkey_spgist_ops (a quad-tree) and geohash_spgist_ops (a 32-way
-- radix tree) (src/pg/opclass_spgist.cpp): `&& @> <@ =` and `< <= > >=`. Inner tuples carry
-- their cell as prefix and a node per next digit, plus a -1 node for values that end at that
-- cell; the fixture has such values at every level, identical values (all-the-same tuples) and
-- the root cell ''. Every indexed answer is compared with the sequential scan's.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcname IN ('quadkey_spgist_ops', 'geohash_spgist_ops') ORDER BY 1;

-- The fixture (ix_cells, the query cells, ix_check) is shared by the four opclass_* files.
\i test/sql/include/opclass_fixture.sql

-- Many identical values, and values that end exactly where an inner node splits, inserted
-- after the build (choose: split a prefix, add a node, descend into all-the-same tuples).
CREATE INDEX ix_qk_spgist ON ix_cells USING spgist (qk);
CREATE INDEX ix_gh_spgist ON ix_cells USING spgist (gh);
INSERT INTO ix_cells SELECT 300000 + k, '0313113', 'u0nd9' FROM generate_series(1, 3000) k;
INSERT INTO ix_cells
  SELECT 310000 + id * 30 + l, quadkey_parent(qk, l), geohash_parent(gh, l % 13)
    FROM ix_cells, generate_series(0, 23, 3) l WHERE id % 997 = 0 AND id < 100000;
VACUUM ANALYZE ix_cells;
SET enable_seqscan = off;

EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE qk <@ '0313';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE gh @> 'u0nd9';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ix_cells WHERE qk && '031311';
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT gh FROM ix_cells WHERE gh <@ 'u0n';
SELECT count(*) = (SELECT count(*) FROM ix_cells WHERE gh::text LIKE 'u0n%') AS index_only_agrees
  FROM (SELECT gh FROM ix_cells WHERE gh <@ 'u0n') s;
RESET enable_bitmapscan;
SELECT count(*) AS identical FROM ix_cells WHERE qk = '0313113';
SELECT count(*) AS identical FROM ix_cells WHERE gh = 'u0nd9';
PREPARE ix_qk_in(quadkey) AS SELECT count(*) FROM ix_cells WHERE qk <@ $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ix_qk_in('0313');
RESET plan_cache_mode;

\pset tuples_only on
-- Every operator: the index agrees with the sequential scan (every query cell; the comparisons
-- on 15 of them).
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['<@', '@>', '&&', '='],
                       'SELECT cell::text FROM ix_quadkeys', 'ix_qk_spgist');
SELECT * FROM ix_check('ix_cells', 'qk', 'quadkey', ARRAY['<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_quadkeys ORDER BY md5(cell::text) LIMIT 15', 'ix_qk_spgist');
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['<@', '@>', '&&', '='],
                       'SELECT cell::text FROM ix_geohashes', 'ix_gh_spgist');
SELECT * FROM ix_check('ix_cells', 'gh', 'geohash', ARRAY['<', '<=', '>', '>='],
                       'SELECT cell::text FROM ix_geohashes ORDER BY md5(cell::text) LIMIT 15', 'ix_gh_spgist');
\pset tuples_only off
RESET ALL;

DROP TABLE ix_cells, ix_quadkeys, ix_geohashes;
DROP FUNCTION ix_check;
DEALLOCATE ALL;
