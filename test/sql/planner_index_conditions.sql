-- Index conditions of the containment operators (src/pg/planner_index_conditions.cpp,
-- src/sql/geocluster/41_planner_index_conditions.sql): `col <@ X` and `X @> col` become the
-- exact range `col >= X AND col <= <type>_range_end(X)` for a constant, a parameter (generic
-- plans too) and the outer side of a nested loop; `col @> X` with a constant X becomes
-- `col = ANY(ancestors)`. Every indexed answer is compared with the sequential scan's.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

-- The fixture (ix_cells, the query cells, ix_check) is shared by the opclass_* and planner_*
-- files that index ix_cells.
\i test/sql/include/opclass_fixture.sql

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

DROP TABLE ix_cells, ix_quadkeys, ix_geohashes, ix_generic, ix_nested;
DROP FUNCTION ix_check;
DEALLOCATE ALL;
