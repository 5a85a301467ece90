-- What a query may make cluster_agg hold, and what a stored state may claim.
--
-- geocluster.max_state_memory bounds every cluster_agg / cluster_state_agg state (in a parallel
-- worker or the leader, after combining, when merging stored states) and its finalisation
-- scratch; past it the query fails with 54000 program_limit_exceeded, before allocating more.
-- At zoom 29 with a tiny radius every marker is a bin of its own, so the memory grows with the
-- rows: that is the case the limit is for.
--
-- A stored state whose records contradict each other (bounds of one place, bin and sums of
-- another) is refused with 22P03, as any malformed state is.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

-- 100,000 markers over the world, deterministic, in a regular table (temporary tables are never
-- scanned in parallel).
CREATE TABLE limit_markers AS
SELECT g::bigint AS id, (g::bigint * 7919 % 100003)::float8 / 100003 * 170 - 85 AS lat,
       (g::bigint * 104729 % 99991)::float8 / 99991 * 360 - 180 AS lon
  FROM generate_series(1, 100000) g;
ANALYZE limit_markers;

-- The SQLSTATE a statement ends with ('ok' when none).
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN program_limit_exceeded THEN
  RETURN SQLSTATE || ' program_limit_exceeded';
WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- The default, and a normal query under it: every marker in a cluster of its own, 100,000 bins.
-- (The setting exists once the module is loaded, by the first call of one of its functions.)
SET max_parallel_workers_per_gather = 0;
SELECT cardinality(cluster_agg(lat, lon, 29, 1e-6)) AS clusters_at_the_default FROM limit_markers;
SHOW geocluster.max_state_memory;
SELECT cardinality(cluster_agg(lat, lon, 3, 60, id)) AS world_map_at_the_default FROM limit_markers;

-- Stored states for later: 10 of 10,000 markers each, made under the default.
CREATE TEMP TABLE limit_states AS
SELECT id % 10 AS part, cluster_state_agg(lat, lon, 29, 1e-6::float8, id) AS s FROM limit_markers GROUP BY id % 10;

-- A small limit: 8 MB holds tens of thousands of bins, not 100,000 (state and finalisation
-- scratch together).
SET geocluster.max_state_memory = '8MB';
SHOW geocluster.max_state_memory;
SELECT q AS query, pg_temp.sqlstate_of(q) AS sqlstate FROM (VALUES
  ('SELECT cluster_agg(lat, lon, 29, 1e-6) FROM limit_markers'),
  ('SELECT cluster_agg(lat, lon, 29, 1e-6, id) FROM limit_markers'),
  ('SELECT cluster_state_agg(lat, lon, 29, 1e-6::float8, id) FROM limit_markers'),
  ('SELECT cluster_agg(quadkey(lat, lon, 29), 29, 1e-6) FROM limit_markers'),
  -- stored states of 10,000 bins each fit; merging them does not
  ('SELECT cluster_state_clusters(s) FROM limit_states WHERE part = 0'),
  ('SELECT cluster_agg(s) FROM limit_states'),
  ('SELECT cluster_state_agg(s) FROM limit_states'),
  -- a normal map still works
  ('SELECT cluster_agg(lat, lon, 1, 60, id) FROM limit_markers')) v(q);
-- The message names the bytes and says what to change.
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT cluster_agg(lat, lon, 29, 1e-6) FROM limit_markers;
SELECT cluster_agg(s) FROM limit_states;
\set ON_ERROR_STOP 1

-- A stored state larger than the limit is refused by the deserialiser itself, before its
-- tables are allocated: one state of all 100,000 markers.
RESET geocluster.max_state_memory;
CREATE TEMP TABLE big_state AS SELECT cluster_state_agg(lat, lon, 29, 1e-6::float8, id) AS s FROM limit_markers;
SET geocluster.max_state_memory = '8MB';
SELECT pg_temp.sqlstate_of('SELECT cluster_state_clusters(s) FROM big_state') AS deserialise_big_state;

-- Parallel plans: the workers' states and the leader's combined one are bounded alike.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT cluster_agg(lat, lon, 29, 1e-6) FROM limit_markers;
SELECT pg_temp.sqlstate_of('SELECT cluster_agg(lat, lon, 29, 1e-6) FROM limit_markers') AS parallel_rows;
SELECT pg_temp.sqlstate_of('SELECT cluster_state_agg(lat, lon, 29, 1e-6::float8, id) FROM limit_markers') AS parallel_state;
RESET geocluster.max_state_memory;
SELECT cardinality(cluster_agg(lat, lon, 29, 1e-6)) AS parallel_at_the_default FROM limit_markers;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- ---- states whose records contradict each other ---------------------------------------------
-- One marker in Paris (one bin: a 24-byte header, then the record: kx, ky, count, sum_x, sum_y
-- at 0..55, min_lat, max_lat, min_lon, max_lon at 56..87; format in src/core/cluster_serial.cpp),
-- and the same state with its bounds rewritten to Sydney: each field is valid alone, but the
-- bin and the sums are Paris's.
CREATE FUNCTION pg_temp.f64le(x float8) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(substring(float8send(x) FROM 9 - i FOR 1), ''::bytea ORDER BY i) FROM generate_series(1, 8) i
$$;
CREATE TEMP TABLE paris AS SELECT cluster_state_agg(48.8566::float8, 2.3522::float8, 12, 60::float8, 1::bigint) AS s;
CREATE TEMP TABLE crafted AS
SELECT 'Paris' AS name, s FROM paris
UNION ALL
SELECT 'Paris with Sydney bounds',
       overlay(s PLACING pg_temp.f64le(-33.8688) || pg_temp.f64le(-33.8688) || pg_temp.f64le(151.2093) || pg_temp.f64le(151.2093)
                 FROM 24 + 56 + 1 FOR 32)
  FROM paris
UNION ALL  -- the bounds a little north, within the same column but another row
SELECT 'Paris with bounds 1 degree north',
       overlay(s PLACING pg_temp.f64le(49.8566) || pg_temp.f64le(49.8566) FROM 24 + 56 + 1 FOR 16)
  FROM paris;
SELECT octet_length(s) AS bytes, (SELECT c.lat::numeric(8, 4) || ', ' || c.lon::numeric(8, 4) FROM unnest(cluster_state_clusters(s)) c) AS centre
  FROM paris;
CREATE FUNCTION pg_temp.state_sqlstate(b bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cluster_state_clusters(b);
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT name, pg_temp.state_sqlstate(s) AS cluster_state_clusters,
       pg_temp.sqlstate_of(format('SELECT cluster_agg(s) FROM (VALUES (%L::bytea)) v(s)', s)) AS cluster_agg_of_state
  FROM crafted ORDER BY name;
\set ON_ERROR_STOP 0
SELECT cluster_state_clusters(s) FROM crafted WHERE name = 'Paris with Sydney bounds';
\set ON_ERROR_STOP 1
DROP TABLE limit_markers;
