-- Stored states: cluster_agg(state bytea) and cluster_state_agg(state bytea) merge states kept
-- by cluster_state_agg, and the README's "Precomputed tiles" recipe (sql/include/tiles_recipe.sql,
-- which the README quotes verbatim) built on them. Checked against an oracle that clusters the
-- rows themselves: the recipe's clusters equal cluster_agg over the rows of the covering tiles,
-- element for element and in order, for viewports at zooms 0..6 (across the antimeridian, at
-- the poles, the whole world), right after the build, after writes (the dirty tiles come from
-- their rows) and after the refresh (which must leave the same tiles a rebuild would).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

-- 30,000 markers, deterministic: a dense city (many exact duplicates), a band along the
-- antimeridian, points beyond the Mercator limit, and a spread over the world.
CREATE TABLE markers (
    id  bigint PRIMARY KEY,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    qk  quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 23)) STORED
);
CREATE INDEX ON markers (qk);
INSERT INTO markers (id, lat, lon)
SELECT g,
       CASE g % 4 WHEN 0 THEN 48.85 + (g % 50) * 0.001
                  WHEN 1 THEN -30 + (g::bigint * 7919 % 6001) / 100.0
                  WHEN 2 THEN -89.5 + (g::bigint * 104729 % 17901) / 100.0
                  ELSE 86 + (g % 7) * 0.5 END,
       CASE g % 4 WHEN 0 THEN 2.35 + (g % 30) * 0.001
                  WHEN 1 THEN CASE WHEN g % 8 = 1 THEN 179.9 - (g % 997) / 1000.0 ELSE -180 + (g % 991) / 1000.0 END
                  WHEN 2 THEN -180 + (g::bigint * 7907 % 36000) / 100.0
                  ELSE -180 + (g % 360) END
  FROM generate_series(1, 30000) g;
ANALYZE markers;

\i test/sql/include/tiles_recipe.sql

-- The oracle: cluster_agg over the rows whose tile is in the cover (no index, no stored state).
CREATE FUNCTION oracle(south float8, west float8, north float8, east float8, zoom int)
RETURNS marker_cluster[] LANGUAGE sql STABLE AS $$
    SELECT cluster_agg(lat, lon, zoom, 60, id) FROM markers
     WHERE quadkey_parent(qk, zoom + 4) IN (SELECT unnest(quadkey_cover(south, west, north, east, zoom + 4)))
$$;
CREATE TEMP TABLE viewports (name text, south float8, west float8, north float8, east float8);
INSERT INTO viewports VALUES
  ('world',          -90, -180,   90,  180),
  ('paris',           40,   -5,   55,   10),
  ('antimeridian',   -45,  150,   45, -150),
  ('north pole',      60,  -60,   90,   60),
  ('south, narrow',  -90,   10,  -60,   11),
  ('empty ocean',    -50,  -40,  -49,  -39);

CREATE VIEW agree AS
SELECT v.name, z AS zoom,
       coalesce(cardinality(oracle(v.south, v.west, v.north, v.east, z)), 0) AS clusters,
       (SELECT coalesce(array_agg(c), '{}') FROM marker_tile_clusters(v.south, v.west, v.north, v.east, z) c)
         = oracle(v.south, v.west, v.north, v.east, z) AS equal
  FROM viewports v, generate_series(0, 6) z
 WHERE NOT (v.name = 'world' AND z = 6);  -- a 16,384 px world: no map shows it whole

-- Right after the build: every viewport at every zoom agrees.
SELECT count(*) AS cases, count(*) FILTER (WHERE equal) AS equal, sum(clusters) > 0 AS found_clusters,
       count(*) FILTER (WHERE clusters = 0) AS cases_without_markers
  FROM agree;
-- The tile states hold every marker once per zoom.
SELECT zoom, sum((SELECT sum(c.count) FROM unnest(cluster_state_clusters(state)) c)) AS markers,
       bool_and(quadkey_zoom(tile) = zoom + 4) AS tiles_of_level_zoom_plus_4
  FROM marker_tiles GROUP BY 1 ORDER BY 1;

-- Writes: a new cluster, moved markers, deleted markers. Until the refresh, their tiles come
-- from the rows, and the answers stay exact.
INSERT INTO markers (id, lat, lon) SELECT 100000 + g, 48.86, 2.36 FROM generate_series(1, 500) g;
UPDATE markers SET lat = -lat, lon = 179.95 WHERE id % 97 = 0;
DELETE FROM markers WHERE id % 89 = 0;
SELECT count(*) > 0 AS writes_marked FROM marker_tiles_dirty;
SELECT count(*) AS cases, count(*) FILTER (WHERE equal) AS equal FROM agree;
-- Without the dirty tiles the stored states would be stale: the check can fail.
SELECT (SELECT cluster_agg(state) FROM marker_tiles WHERE zoom = 0)
       = oracle(-90, -180, 90, 180, 0) AS stale_states_equal_the_rows;

-- The refresh: marks consumed, tiles rewritten, the same tiles as a rebuild from scratch.
SELECT marker_tiles_refresh() > 0 AS tiles_rewritten;
SELECT count(*) AS marks_left FROM marker_tiles_dirty;
SELECT count(*) AS cases, count(*) FILTER (WHERE equal) AS equal FROM agree;
CREATE TEMP TABLE rebuilt AS
SELECT z AS zoom, quadkey_parent(qk, z + 4) AS tile, cluster_state_agg(lat, lon, z, 60, id) AS state
  FROM markers, generate_series(0, 6) AS z GROUP BY 1, 2;
SELECT (SELECT count(*) FROM (SELECT * FROM marker_tiles EXCEPT SELECT * FROM rebuilt) a) AS only_in_refreshed,
       (SELECT count(*) FROM (SELECT * FROM rebuilt EXCEPT SELECT * FROM marker_tiles) b) AS only_in_rebuilt;
-- A tile whose markers are all deleted disappears.
DELETE FROM markers WHERE lat BETWEEN -89.6 AND -85;
SELECT marker_tiles_refresh() >= 0 AS refreshed;
SELECT (SELECT count(*) FROM (SELECT * FROM marker_tiles EXCEPT SELECT z, quadkey_parent(qk, z + 4), cluster_state_agg(lat, lon, z, 60, id)
          FROM markers, generate_series(0, 6) AS z GROUP BY 1, 2) a) AS stale_tiles;

-- The merge aggregates themselves.
-- Roll-up: the state of states equals the state of the rows, byte for byte.
SELECT (SELECT cluster_state_agg(state) FROM marker_tiles WHERE zoom = 5)
       = (SELECT cluster_state_agg(lat, lon, 5, 60, id) FROM markers) AS rollup_equals_rows;
-- NULL states are skipped; no state at all: an empty array (cluster_agg), NULL (cluster_state_agg).
SELECT cluster_agg(s) = (SELECT cluster_agg(lat, lon, 3, 60, id) FROM markers WHERE id < 100) AS nulls_skipped
  FROM (SELECT cluster_state_agg(lat, lon, 3, 60, id) s FROM markers WHERE id < 100 UNION ALL SELECT NULL) x;
SELECT cluster_agg(state) AS no_state, cluster_state_agg(state) IS NULL AS null_state
  FROM marker_tiles WHERE false;
-- States of different zooms, radii or id-ness do not mix.
\set VERBOSITY sqlstate
SELECT cluster_agg(state) FROM marker_tiles WHERE zoom IN (0, 1);
\set VERBOSITY default
SELECT cluster_agg(state ORDER BY zoom DESC, tile) FROM marker_tiles WHERE zoom IN (0, 1);
SELECT cluster_agg(s) FROM (SELECT cluster_state_agg(lat, lon, 3, 60, id) FROM markers
                   UNION ALL SELECT cluster_state_agg(lat, lon, 3, 50, id) FROM markers) x(s);
-- A malformed state is a clean 22P03.
\set VERBOSITY sqlstate
SELECT cluster_agg(s) FROM (VALUES ('\x00'::bytea)) x(s);
SELECT cluster_agg(s) FROM ((SELECT state FROM marker_tiles LIMIT 1) UNION ALL (SELECT substr(state, 1, 30) FROM marker_tiles LIMIT 1)) x(s);
\set VERBOSITY default

-- Parallel: the merge runs as a Partial Aggregate under Gather, with the serial result.
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial AS SELECT cluster_agg(state)::text AS r FROM marker_tiles WHERE zoom = 6;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- Index plans off: on a table this small the planner picks a bitmap scan or a parallel scan
-- from one run to the next, and this test is about the parallel one.
SET enable_bitmapscan = off; SET enable_indexscan = off;
ALTER TABLE marker_tiles SET (parallel_workers = 2);
EXPLAIN (COSTS OFF) SELECT cluster_agg(state) FROM marker_tiles WHERE zoom = 6;
SELECT cluster_agg(state)::text = (SELECT r FROM serial) AS parallel_equals_serial
  FROM marker_tiles WHERE zoom = 6;
RESET ALL;

DROP VIEW agree;
DROP TABLE markers CASCADE;
DROP TABLE marker_tiles, marker_tiles_dirty;
DROP FUNCTION marker_tiles_mark, marker_tiles_refresh, marker_tile_clusters, oracle;
