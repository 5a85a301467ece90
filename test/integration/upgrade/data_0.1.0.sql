-- Data made with geocluster 0.1.0's objects only, before ALTER EXTENSION ... UPDATE
-- (upgrade.sh): markers with both cell types and a geometry, one index per operator class of the
-- start version, stored cluster_state_agg states, a materialized view holding marker_cluster
-- arrays, views that call the extensions' functions, and the answers of every aggregate and
-- operator over them (upgrade_test.answers, recomputed after the update by after.sql).
-- Prints one row `check|result` per coverage check (every type, operator class and aggregate of
-- the start version is exercised here), result t when it holds.
SET client_min_messages = warning;
CREATE SCHEMA upgrade_test;

CREATE TABLE markers (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,
                      qk quadkey, gh geohash, geom geometry(Point, 4326), cat text NOT NULL);
-- Deterministic positions: a spread over the world, three dense spots (one across the
-- antimeridian), a NULL cell now and then.
INSERT INTO markers
SELECT g, p.lat, p.lon,
       CASE WHEN g % 97 = 0 THEN NULL ELSE quadkey(p.lat, p.lon, 10 + g % 9) END,
       CASE WHEN g % 89 = 0 THEN NULL ELSE geohash(p.lat, p.lon, 4 + g % 6) END,
       ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326),
       (ARRAY['a', 'b', 'c'])[1 + g % 3]
  FROM generate_series(1, 20000) g,
       LATERAL (SELECT CASE g % 4
                         WHEN 0 THEN -80 + (g * 7919 % 16001) / 100.0
                         WHEN 1 THEN 48.8 + (g * 104729 % 1000) / 2000.0
                         WHEN 2 THEN -33.9 + (g * 7919 % 1000) / 4000.0
                         ELSE -17 + (g * 104729 % 1000) / 1000.0 END::float8 AS lat,
                       CASE g % 4
                         WHEN 0 THEN -179.9 + (g * 104729 % 35981) / 100.0
                         WHEN 1 THEN 2.2 + (g * 7919 % 1000) / 1500.0
                         WHEN 2 THEN 151.1 + (g * 104729 % 1000) / 3000.0
                         ELSE CASE WHEN g % 8 = 3 THEN 179.5 + (g % 50) / 100.0
                                   ELSE -180 + (g % 50) / 100.0 END END::float8 AS lon) p;

-- One index per operator class of the cell types (found in pg_opclass, so a class that a later
-- start version adds is indexed without a change here).
CREATE TABLE upgrade_test.indexes (name text PRIMARY KEY, opclass text, am text, col text);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.opcname, a.amname, CASE c.opcintype WHEN 'quadkey'::regtype THEN 'qk' ELSE 'gh' END AS col
               FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
              WHERE c.opcintype IN ('quadkey'::regtype, 'geohash'::regtype) ORDER BY 1
    LOOP
        EXECUTE format('CREATE INDEX %I ON markers USING %I (%I %I)', 'ix_' || r.opcname, r.amname, r.col, r.opcname);
        INSERT INTO upgrade_test.indexes VALUES ('ix_' || r.opcname, r.opcname, r.amname, r.col);
    END LOOP;
END $$;
CREATE INDEX markers_geom ON markers USING gist (geom);
ANALYZE markers;

-- Stored states and stored clusters.
CREATE TABLE states AS SELECT cat, cluster_state_agg(lat, lon, 9, 60, id) AS state FROM markers GROUP BY cat;
CREATE MATERIALIZED VIEW clusters_mv AS SELECT cat, cluster_agg(lat, lon, 4, 60, id) AS clusters FROM markers GROUP BY cat;
-- Views over the extensions' functions (a function changed by the update keeps serving them).
CREATE VIEW markers_geojson AS SELECT cluster_geojson(cluster_agg(lat, lon, 3, 60, id)) AS fc FROM markers;
CREATE VIEW markers_cells AS
SELECT id, quadkey(geom, 12) AS qk12, geohash(geom, 6) AS gh6, quadkey_envelope(quadkey(geom, 8)) AS tile,
       geohash_envelope(geohash(geom, 4)) AS cell
  FROM markers;

-- The queries whose answers must not change across the update: each aggregate by its
-- signature, the operators, covers and companions. upgrade_test.answer(sql) digests the rows.
CREATE TABLE upgrade_test.answers (name text PRIMARY KEY, sql text NOT NULL, before text, after text);
CREATE FUNCTION upgrade_test.answer(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE format('SELECT md5(coalesce(string_agg(t::text, E''\n''), '''')) FROM (%s) t', q) INTO r;
    RETURN r;
END $$;
INSERT INTO upgrade_test.answers (name, sql) VALUES
  ('cluster_agg(double precision,double precision,integer)', 'SELECT cluster_agg(lat, lon, 5) FROM markers'),
  ('cluster_agg(double precision,double precision,integer,double precision)', 'SELECT cluster_agg(lat, lon, 6, 40) FROM markers'),
  ('cluster_agg(double precision,double precision,integer,double precision,bigint)', 'SELECT cat, cluster_agg(lat, lon, 7, 60, id) FROM markers GROUP BY cat ORDER BY cat'),
  ('cluster_agg(quadkey,integer)', 'SELECT cluster_agg(qk, 5) FROM markers'),
  ('cluster_agg(quadkey,integer,double precision)', 'SELECT cluster_agg(qk, 6, 40) FROM markers'),
  ('cluster_agg(quadkey,integer,double precision,bigint)', 'SELECT cluster_agg(qk, 7, 60, id) FROM markers'),
  ('cluster_agg(geohash,integer)', 'SELECT cluster_agg(gh, 5) FROM markers'),
  ('cluster_agg(geohash,integer,double precision)', 'SELECT cluster_agg(gh, 6, 40) FROM markers'),
  ('cluster_agg(geohash,integer,double precision,bigint)', 'SELECT cluster_agg(gh, 7, 60, id) FROM markers'),
  ('cluster_agg(geometry,integer)', 'SELECT cluster_agg(geom, 5) FROM markers'),
  ('cluster_agg(geometry,integer,double precision)', 'SELECT cluster_agg(geom, 6, 40) FROM markers'),
  ('cluster_agg(geometry,integer,double precision,bigint)', 'SELECT cluster_agg(geom, 7, 60, id) FROM markers'),
  ('cluster_state_agg(double precision,double precision,integer,double precision,bigint)',
   'SELECT cluster_state_clusters(cluster_state_agg(lat, lon, 9, 60, id)) FROM markers'),
  ('cluster_agg(bytea)', 'SELECT cluster_agg(state) FROM states'),
  ('cluster_state_agg(bytea)', 'SELECT cluster_state_clusters(cluster_state_agg(state)) FROM states'),
  ('stored states', 'SELECT cat, cluster_state_clusters(state) FROM states ORDER BY cat'),
  ('stored clusters', 'SELECT * FROM clusters_mv ORDER BY cat'),
  ('min(quadkey)', 'SELECT min(qk) FROM markers'),
  ('max(quadkey)', 'SELECT max(qk) FROM markers'),
  ('min(geohash)', 'SELECT min(gh) FROM markers'),
  ('max(geohash)', 'SELECT max(gh) FROM markers'),
  ('quadkey operators', $q$SELECT count(*) FILTER (WHERE qk <@ '1202'), count(*) FILTER (WHERE qk @> '120210'),
     count(*) FILTER (WHERE qk && '12021'), count(*) FILTER (WHERE qk = quadkey(48.9, 2.3, 12)),
     count(*) FILTER (WHERE qk < '2'), count(*) FILTER (WHERE qk <@ ANY (quadkey_cover(48, 1, 50, 4, 9))) FROM markers$q$),
  ('geohash operators', $q$SELECT count(*) FILTER (WHERE gh <@ 'u09'), count(*) FILTER (WHERE gh @> 'u09tv'),
     count(*) FILTER (WHERE gh && 'u0'), count(*) FILTER (WHERE gh >= 'r'),
     count(*) FILTER (WHERE gh <@ ANY (geohash_cover(48, 1, 50, 4, 4))) FROM markers$q$),
  ('cells and text', 'SELECT qk::text, gh::text, quadkey_tile(qk), geohash_center(gh), quadkey_parent(qk, 3), geohash_parent(gh, 2) FROM markers ORDER BY id LIMIT 200'),
  ('postgis companions', 'SELECT id, qk12, gh6, ST_AsEWKT(tile), ST_AsEWKT(cell) FROM markers_cells ORDER BY id LIMIT 200'),
  ('cluster geometries', 'SELECT ST_AsEWKT(cluster_point(c)), ST_AsEWKT(cluster_envelope(c)) FROM clusters_mv, unnest(clusters) c ORDER BY 1, 2'),
  ('cluster_tile_boxes', 'SELECT ST_AsEWKT(unnest(cluster_tile_boxes(3, 0, 2, 60)))');
UPDATE upgrade_test.answers SET before = upgrade_test.answer(sql);

-- Coverage: every aggregate, operator class and type of the start version is exercised above.
SELECT 'every aggregate of ' || e.extname || ' has an answer',
       coalesce((SELECT string_agg(p.oid::regprocedure::text, ', ')
                   FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid AND p.prokind = 'a'
                  WHERE d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                    AND d.classid = 'pg_proc'::regclass
                    AND p.oid::regprocedure::text NOT IN (SELECT name FROM upgrade_test.answers)), 't')
  FROM pg_extension e WHERE e.extname IN ('geocluster', 'geocluster_postgis')
UNION ALL
SELECT 'every type is in a stored column or index', coalesce(string_agg(t.typname, ', '), 't')
  FROM pg_extension e JOIN pg_depend d ON d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
 WHERE e.extname = 'geocluster'
   AND NOT EXISTS (SELECT FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
                    WHERE r.relnamespace = 'public'::regnamespace AND a.atttypid IN (t.oid, t.typarray))
UNION ALL
SELECT 'every operator class has an index', coalesce(string_agg(c.opcname, ', '), 't')
  FROM pg_opclass c WHERE c.opcintype IN ('quadkey'::regtype, 'geohash'::regtype)
   AND c.opcname NOT IN (SELECT opclass FROM upgrade_test.indexes);
