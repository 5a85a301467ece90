-- The btree operator classes: every operator through the index agrees with the sequential
-- scan, `<@` and `@>` through the planner support's rewrites (their plans, parameters and
-- nested loops are in planner_index_conditions.sql).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

-- The fixture (ix_cells, the query cells, ix_check) is shared by the four opclass_* files.
\i test/sql/include/opclass_fixture.sql

CREATE INDEX ix_qk_btree ON ix_cells (qk);
CREATE INDEX ix_gh_btree ON ix_cells (gh);
SET enable_seqscan = off;

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

DROP TABLE ix_cells, ix_quadkeys, ix_geohashes;
DROP FUNCTION ix_check;
