-- The demo: what geocluster does, on sample markers. Run by scripts/demo against a throwaway
-- server; every statement here also runs in the regression suite's examples.
\pset footer off
\echo
\echo '== geocluster is installed'
CREATE EXTENSION geocluster;
SELECT extname, extversion, geocluster_version() AS library FROM pg_extension WHERE extname = 'geocluster';

\echo '== sample markers: 200,000 points around twelve cities plus a sparse background'
-- Deterministic: positions come from hashes of the row number, not from random().
CREATE TABLE markers (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL, category text NOT NULL);
WITH city(name, lat, lon, weight, spread_deg) AS (VALUES
  ('London', 51.507, -0.128, 14, 0.25), ('Paris', 48.857, 2.352, 12, 0.2),
  ('New York', 40.713, -74.006, 16, 0.3), ('Tokyo', 35.690, 139.692, 18, 0.35),
  ('Sao Paulo', -23.551, -46.633, 10, 0.3), ('Lagos', 6.524, 3.379, 8, 0.2),
  ('Sydney', -33.869, 151.209, 6, 0.25), ('Suva', -18.141, 178.442, 1, 0.05),
  ('Anadyr', 64.734, 177.515, 1, 0.05), ('Reykjavik', 64.147, -21.942, 1, 0.05),
  ('Toronto', 43.654, -79.383, 7, 0.2), ('Mumbai', 19.076, 72.878, 14, 0.25)),
cities AS (SELECT *, sum(weight) OVER (ORDER BY name) AS upto, sum(weight) OVER () AS total FROM city),
pts AS (
  SELECT g AS id,
         ('x' || substr(md5('a' || g), 1, 8))::bit(32)::bigint / 4294967296.0 AS u1,
         ('x' || substr(md5('b' || g), 1, 8))::bit(32)::bigint / 4294967296.0 AS u2,
         ('x' || substr(md5('c' || g), 1, 8))::bit(32)::bigint / 4294967296.0 AS u3,
         ('x' || substr(md5('d' || g), 1, 8))::bit(32)::bigint / 4294967296.0 AS u4
    FROM generate_series(1, 200000) g)
INSERT INTO markers
SELECT p.id,
       CASE WHEN p.u4 < 0.05 THEN -60 + 130 * p.u1
            ELSE greatest(-89.9, least(89.9, c.lat + c.spread_deg * sqrt(-2 * ln(greatest(p.u1, 1e-12))) * cos(2 * pi() * p.u2))) END,
       CASE WHEN p.u4 < 0.05 THEN -180 + 360 * p.u2
            ELSE (c.lon + c.spread_deg * sqrt(-2 * ln(greatest(p.u1, 1e-12))) * sin(2 * pi() * p.u2) + 540)::numeric % 360 - 180 END,
       (ARRAY['cafe', 'shop', 'park'])[1 + (p.id % 3)]
  FROM pts p
  JOIN cities c ON p.u3 * c.total >= c.upto - c.weight AND p.u3 * c.total < c.upto;
SELECT count(*) AS markers, round(min(lat)::numeric, 2) AS min_lat, round(max(lat)::numeric, 2) AS max_lat FROM markers;

\echo '== cell types: every marker gets a quadkey (zoom 29) and a geohash (12 characters)'
ALTER TABLE markers ADD COLUMN qk quadkey, ADD COLUMN gh geohash;
UPDATE markers SET qk = quadkey(lat, lon, 29), gh = geohash(lat, lon, 12);
CREATE INDEX markers_qk ON markers (qk);
ANALYZE markers;
SELECT id, round(lat::numeric, 5) AS lat, round(lon::numeric, 5) AS lon, qk, gh,
       quadkey_parent(qk, 10) AS tile_z10, quadkey_tile(quadkey_parent(qk, 10)) AS "tile (z,x,y)"
  FROM markers ORDER BY id LIMIT 3;

\echo '== the whole world at zoom 2 (1024 px wide): clusters 60 px apart, counts exact'
SELECT count, round(lat::numeric, 3) AS lat, round(lon::numeric, 3) AS lon,
       round(min_lon::numeric, 2) AS west, round(max_lon::numeric, 2) AS east, id
  FROM unnest((SELECT cluster_agg(lat, lon, 2, 60, id) FROM markers));
SELECT sum(count) AS clustered, (SELECT count(*) FROM markers) AS markers
  FROM unnest((SELECT cluster_agg(lat, lon, 2, 60, id) FROM markers));

\echo '== a 1280x800 px viewport over western Europe at zoom 6, markers picked with the quadkey index'
-- quadkey_cover(south, west, north, east, zoom) lists the zoom-6 tiles that touch the box, and
-- the planner turns `qk <@` it into index ranges on markers_qk (a bitmap scan, as EXPLAIN
-- shows); the lat/lon conditions keep the box's exact edges.
SELECT count(*) AS clusters, sum(count) AS markers, max(count) AS biggest
  FROM unnest((SELECT cluster_agg(lat, lon, 6, 60, id) FROM markers
                WHERE qk <@ quadkey_cover(43.0, -10.0, 55.5, 17.5, 6)
                  AND lat BETWEEN 43.0 AND 55.5 AND lon BETWEEN -10.0 AND 17.5));

\echo '== the same viewport, one cluster array per category (GROUP BY keeps categories apart)'
SELECT category, cardinality(cluster_agg(lat, lon, 6, 60, id)) AS clusters, count(*) AS markers
  FROM markers WHERE qk <@ quadkey_cover(43.0, -10.0, 55.5, 17.5, 6)
                AND lat BETWEEN 43.0 AND 55.5 AND lon BETWEEN -10.0 AND 17.5
 GROUP BY category ORDER BY category;

\echo '== zoom 12 over central London, straight from the zoom-29 quadkey column'
SELECT count, round(lat::numeric, 5) AS lat, round(lon::numeric, 5) AS lon, id
  FROM unnest((SELECT cluster_agg(qk, 12, 60, id) FROM markers
                WHERE lat BETWEEN 51.45 AND 51.56 AND lon BETWEEN -0.25 AND 0.0))
 LIMIT 8;

\echo '== clusters across the antimeridian (Fiji and Chukotka) at zoom 4'
SELECT count, round(lat::numeric, 3) AS lat, round(lon::numeric, 3) AS lon,
       round(min_lon::numeric, 3) AS west, round(max_lon::numeric, 3) AS east
  FROM unnest((SELECT cluster_agg(lat, lon, 4, 60, id) FROM markers WHERE abs(lon) > 170))
 LIMIT 6;

\echo '== GeoJSON for a map (supercluster / MapLibre property names): demo/out/world_z2.geojson'
\pset format unaligned
\pset tuples_only on
\o demo/out/world_z2.geojson
SELECT jsonb_pretty(cluster_geojson(cluster_agg(lat, lon, 2, 60, id))) FROM markers;
\o demo/out/europe_z6.geojson
SELECT cluster_geojson(cluster_agg(lat, lon, 6, 60, id)) FROM markers
 WHERE lat BETWEEN 43.0 AND 55.5 AND lon BETWEEN -10.0 AND 17.5;
\o
\pset format aligned
\pset tuples_only off
SELECT jsonb_pretty(cluster_geojson(cluster_agg(lat, lon, 2, 60, id)) -> 'features' -> 0) AS first_feature FROM markers;

\echo '== the error boundary: a failure inside the C++ core is an ordinary ERROR'
\set ON_ERROR_STOP 0
SELECT geocluster_selftest('exception');
\set ON_ERROR_STOP 1
SELECT 'the session goes on' AS after_error;
