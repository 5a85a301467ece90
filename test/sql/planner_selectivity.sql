-- Selectivity of the containment operators (src/pg/planner_selectivity.cpp,
-- src/sql/geocluster/41_planner_selectivity.sql): the estimates follow the data.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

-- The fixture (ix_cells, the query cells, ix_check) is shared by the opclass_* and planner_*
-- files that index ix_cells.
\i test/sql/include/opclass_fixture.sql

CREATE INDEX ix_qk_btree ON ix_cells (qk);
CREATE INDEX ix_gh_btree ON ix_cells (gh);

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

DROP TABLE ix_cells, ix_quadkeys, ix_geohashes;
DROP FUNCTION ix_check, ix_estimate;
