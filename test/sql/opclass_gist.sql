-- The GiST operator classes quadkey_gist_ops and geohash_gist_ops (src/pg/opclass_gist.cpp):
-- `&& @> <@ =` and `< <= > >=`, exact [lo, hi] keys, sorted builds and index-only scans.
-- Every indexed answer is compared with the sequential scan's, for an index built sorted on a
-- full table and for one grown by inserts (penalty and picksplit).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcname IN ('quadkey_gist_ops', 'geohash_gist_ops') ORDER BY 1;

-- The fixture (ix_cells, the query cells, ix_check) is shared by the four opclass_* files.
\i test/sql/include/opclass_fixture.sql

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
