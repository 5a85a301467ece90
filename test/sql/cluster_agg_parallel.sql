-- cluster_agg under parallel plans, and the serialised state: the plan really is partial
-- (Partial Aggregate under Gather), its result equals the serial plan's, text for text and byte
-- for byte; and a malformed state given to the deserialiser (cluster_state_clusters runs the
-- same validation as the parallel DESERIALFUNC) is a clean 22P03 error, never a crash.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

-- 200,000 markers over Europe, deterministic, in a regular table (temporary tables are never
-- scanned in parallel); ids 1..200000 in three categories. A one-page table as well, where a
-- worker can find no row at all (its partial state is NULL and the combine function sees it).
-- (The statements that \gexec generates are not echoed.)
CREATE TABLE parallel_markers AS
SELECT g::bigint AS id, g % 3 AS category,
       (35 + (g::bigint * 7919 % 200003) / 200003.0 * 30)::float8 AS lat,
       (-10 + (g::bigint * 104729 % 199999) / 199999.0 * 40)::float8 AS lon
  FROM generate_series(1, 200000) g;
CREATE TABLE parallel_tiny WITH (parallel_workers = 2) AS SELECT * FROM parallel_markers WHERE id <= 20;
ANALYZE parallel_markers, parallel_tiny;

-- The queries, by name.
CREATE TEMP TABLE q (name text PRIMARY KEY, sql text);
INSERT INTO q VALUES
  ('world zoom',       'SELECT cluster_agg(lat, lon, 2)::text FROM parallel_markers'),
  ('regional zoom, ids', 'SELECT cluster_agg(lat, lon, 6, 40, id)::text FROM parallel_markers'),
  ('group by',         'SELECT string_agg(c::text, '';'' ORDER BY category) FROM (SELECT category, cluster_agg(lat, lon, 5, 60, id) c FROM parallel_markers GROUP BY category) g'),
  ('quadkey',          'SELECT cluster_agg(quadkey(lat, lon, 20), 5)::text FROM parallel_markers'),
  ('geohash',          'SELECT cluster_agg(geohash(lat, lon, 8), 5, 30, id)::text FROM parallel_markers'),
  ('state bytes',      'SELECT md5(cluster_state_agg(lat, lon, 6, 50, id)) FROM parallel_markers'),
  ('state clusters',   'SELECT cluster_state_clusters(cluster_state_agg(lat, lon, 6, 50, id))::text FROM parallel_markers'),
  ('no row matches',   'SELECT cluster_agg(lat, lon, 5)::text FROM parallel_markers WHERE id < 0'),
  ('one-page table',   'SELECT cluster_agg(lat, lon, 12, 60, id)::text FROM parallel_tiny');

-- Serial results first.
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial (name text, result text);
\set ECHO none
SELECT format('INSERT INTO serial SELECT %L, (%s)', name, sql) FROM q ORDER BY name \gexec
\set ECHO all
SELECT result = '{}' AS empty_array_when_no_row_matches FROM serial WHERE name = 'no row matches';
SELECT cluster_agg(lat, lon, 2)::text = cluster_state_clusters(cluster_state_agg(lat, lon, 2, 60, NULL))::text
       AS state_path_equals_direct
  FROM parallel_markers;

-- Then parallel plans: forced, and with the leader not scanning so that every row goes through
-- a worker's partial state, its serialisation, the deserialiser and the combine function.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT cluster_agg(lat, lon, 6, 40, id) FROM parallel_markers;
EXPLAIN (COSTS OFF) SELECT category, cluster_agg(lat, lon, 5, 60, id) FROM parallel_markers GROUP BY category;
EXPLAIN (COSTS OFF) SELECT cluster_state_agg(lat, lon, 6, 50, id) FROM parallel_markers;

-- The plan's text with ANALYZE, for counting launched workers.
CREATE FUNCTION pg_temp.explain_analyze(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    plan := plan || line || E'\n';
  END LOOP;
  RETURN plan;
END $$;

-- Every query, as one top-level statement comparing its parallel result with the serial one
-- (INSERT ... SELECT would not run in parallel): the plan has a partial aggregate that ran in
-- at least one worker, and the result is the serial one, text for text (state: byte for byte).
CREATE TEMP TABLE stmt AS
SELECT name, format('SELECT (%s) = (SELECT result FROM serial WHERE name = %L)', sql, name) AS sql FROM q;
SELECT name, plan ~ 'Partial (Hash|Group)?Aggregate' AS partial, plan ~ 'Workers Launched: [1-9]' AS workers_ran
  FROM (SELECT name, pg_temp.explain_analyze(sql) AS plan FROM stmt) e ORDER BY name;
\set ECHO none
SELECT 'SELECT * FROM (' || string_agg(format('SELECT %L AS name, (%s) AS same_as_serial', name, sql), E'\nUNION ALL ' ORDER BY name) || ') r ORDER BY name' FROM stmt \gexec
\set ECHO all

-- force_parallel_mode: the same, and also with no partial plan at all (the whole aggregate
-- runs in one worker and its result crosses to the leader; EXPLAIN does not show the Gather
-- that force_parallel_mode adds).
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT cluster_agg(lat, lon, 6, 40, id) FROM parallel_markers;
\set ECHO none
SELECT 'SELECT * FROM (' || string_agg(format('SELECT %L AS name, (%s) AS same_as_serial', name, sql), E'\nUNION ALL ' ORDER BY name) || ') r ORDER BY name' FROM stmt \gexec
\set ECHO all
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT cluster_agg(lat, lon, 6, 40, id) FROM parallel_markers;
\set ECHO none
SELECT 'SELECT * FROM (' || string_agg(format('SELECT %L AS name, (%s) AS same_as_serial', name, sql), E'\nUNION ALL ' ORDER BY name) || ') r ORDER BY name' FROM stmt \gexec
\set ECHO all
RESET force_parallel_mode;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- ---- malformed states ---------------------------------------------------------------------------
-- A valid state of 100 markers with ids (9 bins: 24 header bytes, then 97 bytes per bin; the
-- format is documented in src/core/cluster_serial.cpp), and what a state's SQLSTATE is.
CREATE TEMP TABLE good AS
SELECT cluster_state_agg(lat, lon, 5, 60, id) AS s
  FROM (SELECT g::bigint AS id, (10 + g % 7 * 0.3)::float8 AS lat, (20 + g % 5 * 0.4)::float8 AS lon
          FROM generate_series(1, 100) g) m;
SELECT octet_length(s) AS bytes, (octet_length(s) - 24) / 97 AS bins, substring(s FROM 1 FOR 5) AS magic_and_version
  FROM good;
SELECT (SELECT sum(c.count) FROM unnest(cluster_state_clusters(s)) c) AS markers FROM good;

CREATE FUNCTION pg_temp.state_sqlstate(b bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cluster_state_clusters(b);
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- Named mutations, each with its SQLSTATE.
SELECT m.name, pg_temp.state_sqlstate(m.b) AS sqlstate
  FROM good, LATERAL (VALUES
    ('valid state',                    s),
    ('empty',                          ''::bytea),
    ('header only, n = 9',             substring(s FROM 1 FOR 24)),
    ('truncated by one byte',          substring(s FROM 1 FOR octet_length(s) - 1)),
    ('truncated by one bin',           substring(s FROM 1 FOR octet_length(s) - 97)),
    ('one byte too many',              s || '\x00'::bytea),
    ('a bin repeated, n = 10',         overlay(s || substring(s FROM octet_length(s) - 96) PLACING '\x0a'::bytea FROM 17 FOR 1)),
    ('bins out of order',              overlay(s PLACING substring(s FROM 25 + 97 FOR 97) || substring(s FROM 25 FOR 97) FROM 25 FOR 194)),
    ('bad magic',                      set_byte(s, 0, ascii('X'))),
    ('version 0',                      set_byte(s, 4, 0)),
    ('version 2',                      set_byte(s, 4, 2)),
    ('version 255',                    set_byte(s, 4, 255)),
    ('zoom 30',                        set_byte(s, 5, 30)),
    ('unknown header flag',            set_byte(s, 6, 3)),
    ('reserved byte set',              set_byte(s, 7, 1)),
    ('radius NaN',                     overlay(s PLACING '\x000000000000f87f'::bytea FROM 9 FOR 8)),
    ('radius 0',                       overlay(s PLACING '\x0000000000000000'::bytea FROM 9 FOR 8)),
    ('radius -60',                     overlay(s PLACING '\x0000000000004ec0'::bytea FROM 9 FOR 8)),
    ('n = 2^63, bytes for 9',          set_byte(s, 23, 128)),
    ('n = 2^64 - 1, bytes for 9',      overlay(s PLACING '\xffffffffffffffff'::bytea FROM 17 FOR 8)),
    ('bin count 0',                    overlay(s PLACING '\x0000000000000000'::bytea FROM 25 + 16 FOR 8)),
    ('bin min_lat NaN',                overlay(s PLACING '\x000000000000f87f'::bytea FROM 25 + 56 FOR 8)),
    ('bin min_lat > max_lat',          overlay(s PLACING '\x0000000000805640'::bytea FROM 25 + 56 FOR 8)),
    ('bin lon beyond 180',             overlay(s PLACING '\x0000000000c06740'::bytea FROM 25 + 80 FOR 8)),
    ('bin column beyond the world',    overlay(s PLACING '\xffffffffffffff7f'::bytea FROM 25 FOR 8)),
    ('bin sum outside the bin',        overlay(s PLACING '\xffffffffffffffff'::bytea FROM 25 + 24 FOR 8)),
    ('bin id without the id column',   set_byte(s, 6, 0)),
    ('unknown bin flag',               set_byte(s, 24 + 96, 2))) m(name, b);

-- Every truncation, and every single-bit flip of the whole state: the answer is 22P03 or a
-- valid state (a flip in a low mantissa bit of a bound, say, can give another valid state),
-- never any other error and never a crash. Flips of the magic, version, zoom, flags, reserved
-- byte, bin count, and of every bin's flags byte are all rejected.
SELECT count(*) AS truncations, bool_and(pg_temp.state_sqlstate(substring(s FROM 1 FOR n)) = '22P03') AS all_22P03
  FROM good, generate_series(0, octet_length(s) - 1) n;
CREATE TEMP TABLE flips AS
SELECT byte, bit, pg_temp.state_sqlstate(set_bit(s, byte * 8 + bit, 1 - get_bit(s, byte * 8 + bit))) AS sqlstate
  FROM good, generate_series(0, octet_length(s) - 1) byte, generate_series(0, 7) bit;
SELECT count(*) AS flips, bool_and(sqlstate IN ('22P03', 'ok')) AS only_22P03_or_valid,
       count(*) FILTER (WHERE sqlstate = '22P03') > count(*) / 3 AS most_rejected
  FROM flips;
SELECT bool_and(sqlstate = '22P03') AS header_flips_rejected
  FROM flips WHERE byte < 8 OR byte BETWEEN 16 AND 23;
SELECT bool_and(sqlstate = '22P03') AS bin_flag_flips_rejected
  FROM flips WHERE byte >= 24 AND (byte - 24) % 97 = 96;
-- The messages.
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT cluster_state_clusters(set_byte(s, 4, 2)) FROM good;
SELECT cluster_state_clusters(substring(s FROM 1 FOR 30)) FROM good;
\set ON_ERROR_STOP 1
-- After all that the session goes on, and the valid state still gives its clusters.
SELECT 'alive' AS still_alive, (SELECT sum(c.count) FROM unnest(cluster_state_clusters(s)) c) AS markers FROM good;

-- The index the README recommends for viewport queries: with (lat, lon) INCLUDE (id), the
-- aggregate over a viewport reads the index alone (Index Only Scan, no heap fetch), and gives
-- the same clusters as a sequential scan.
CREATE INDEX parallel_markers_lat_lon_id ON parallel_markers (lat, lon) INCLUDE (id);
VACUUM (ANALYZE) parallel_markers;
EXPLAIN (COSTS OFF)
SELECT cluster_agg(lat, lon, 12, 60, id) FROM parallel_markers
 WHERE lat BETWEEN 48.80 AND 48.95 AND lon BETWEEN 2.20 AND 2.50;
CREATE FUNCTION pg_temp.heap_fetches(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF line ~ 'Heap Fetches' THEN RETURN substring(line FROM 'Heap Fetches: ([0-9]+)')::int; END IF;
  END LOOP;
  RETURN NULL;
END $$;
SELECT pg_temp.heap_fetches('SELECT cluster_agg(lat, lon, 12, 60, id) FROM parallel_markers
 WHERE lat BETWEEN 48.80 AND 48.95 AND lon BETWEEN 2.20 AND 2.50') AS heap_fetches;
CREATE TEMP TABLE viewport_index AS
SELECT cluster_agg(lat, lon, 12, 60, id)::text AS clusters FROM parallel_markers
 WHERE lat BETWEEN 48.80 AND 48.95 AND lon BETWEEN 2.20 AND 2.50;
SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;
SELECT clusters = (SELECT cluster_agg(lat, lon, 12, 60, id)::text FROM parallel_markers
                    WHERE lat BETWEEN 48.80 AND 48.95 AND lon BETWEEN 2.20 AND 2.50) AS same_as_seqscan,
       clusters <> '{}' AS not_empty
  FROM viewport_index;
RESET enable_indexscan; RESET enable_indexonlyscan; RESET enable_bitmapscan;

DROP TABLE parallel_markers, parallel_tiny;
