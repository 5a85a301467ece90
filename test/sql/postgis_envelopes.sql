-- geocluster_postgis: geometries out of cells and clusters.
--
--   quadkey_envelope(q) = ST_TileEnvelope(z, x, y)              8.6k random tiles at zooms 0..29 + corners
--   geohash_envelope(g) = ST_GeomFromGeoHash(g) (SRID 4326)     12k random cells, precisions 1..12
--   cluster_point(c) is the centre; cluster_envelope(c) covers the members, split in two at the
--   antimeridian, degenerate like ST_Envelope.
--
-- Every assertion prints one `t`; the query after it lists offending rows (nothing when right).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster_postgis CASCADE;
\pset tuples_only on
\pset null '(null)'

-- Two examples.
SELECT ST_Equals(quadkey_envelope(quadkey_from_tile(12, 2074, 1409)), ST_TileEnvelope(12, 2074, 1409));
SELECT ST_AsText(geohash_envelope('u09tv'));

--------------------------------------------------------------------------------------------
-- quadkey_envelope = ST_TileEnvelope
--------------------------------------------------------------------------------------------
-- Tiles z/x/y: 10k random draws (8.6k distinct) and, at every zoom, the four corners of the
-- map. Their quadkeys are spelled here from the bits of x and y (Bing: one digit
-- x_bit + 2 * y_bit per level), not with geocluster's functions.
SELECT setseed(0.577);
CREATE TEMP TABLE tiles AS
SELECT z, floor(random() * 2^z)::int AS x, floor(random() * 2^z)::int AS y
  FROM (SELECT i % 30 AS z FROM generate_series(1, 10000) i) s
UNION
SELECT z, x, y FROM generate_series(0, 29) z,
       LATERAL (VALUES (0, 0), ((1 << z) - 1, 0), (0, (1 << z) - 1), ((1 << z) - 1, (1 << z) - 1)) AS c(x, y);
ALTER TABLE tiles ADD COLUMN q quadkey;
UPDATE tiles SET q = (SELECT coalesce(string_agg((((x >> (z - i)) & 1) + 2 * ((y >> (z - i)) & 1))::text, '' ORDER BY i), '')
                        FROM generate_series(1, z) i)::quadkey;
SELECT count(*) > 8000 AND count(DISTINCT z) = 30 AS enough_tiles FROM tiles;
SELECT count(*) = 0 AS spelled_quadkeys_match_tiles FROM tiles
 WHERE quadkey_tile(q) IS DISTINCT FROM (z, x, y);

SELECT z, x, y, ST_AsText(quadkey_envelope(q)), ST_AsText(ST_TileEnvelope(z, x, y)) FROM tiles
 WHERE NOT (ST_Equals(quadkey_envelope(q), ST_TileEnvelope(z, x, y))
            AND ST_OrderingEquals(quadkey_envelope(q), ST_TileEnvelope(z, x, y))
            AND ST_SRID(quadkey_envelope(q)) = 3857);
SELECT count(*) = (SELECT count(*) FROM tiles) AS quadkey_envelope_compared FROM tiles
 WHERE ST_OrderingEquals(quadkey_envelope(q), ST_TileEnvelope(z, x, y));
-- In degrees, the envelope is quadkey_bounds (within 1e-9: the transform rounds).
SELECT z, x, y FROM tiles, quadkey_bounds(q) b, ST_Transform(quadkey_envelope(q), 4326) e
 WHERE greatest(abs(ST_XMin(e) - b.min_lon), abs(ST_YMin(e) - b.min_lat),
                abs(ST_XMax(e) - b.max_lon), abs(ST_YMax(e) - b.max_lat)) > 1e-9;

--------------------------------------------------------------------------------------------
-- geohash_envelope = ST_GeomFromGeoHash
--------------------------------------------------------------------------------------------
-- Cells of every precision 1..12 around random points, and around the corners and axes.
CREATE TEMP TABLE cells AS
SELECT DISTINCT geohash(random() * 180 - 90, random() * 360 - 180, 1 + i % 12) AS g
  FROM generate_series(1, 12000) i
UNION
SELECT geohash(lat, lon, p) FROM unnest(ARRAY[-90, 0, 90]::float8[]) lat,
       unnest(ARRAY[-180, 0, 180]::float8[]) lon, generate_series(1, 12) p;
SELECT count(*) > 10000 AND count(DISTINCT geohash_precision(g)) = 12 AS enough_cells FROM cells;
-- ST_GeomFromGeoHash has SRID 0; the coordinates must be the same, vertex for vertex.
SELECT g, ST_AsText(geohash_envelope(g)), ST_AsText(ST_GeomFromGeoHash(g::text)) FROM cells
 WHERE NOT (ST_OrderingEquals(geohash_envelope(g), ST_SetSRID(ST_GeomFromGeoHash(g::text), 4326))
            AND ST_SRID(geohash_envelope(g)) = 4326);
SELECT count(*) = (SELECT count(*) FROM cells) AS geohash_envelope_compared FROM cells
 WHERE ST_Equals(geohash_envelope(g), ST_SetSRID(ST_GeomFromGeoHash(g::text), 4326));
-- Precision 0, the world.
SELECT ST_AsText(geohash_envelope(''));

-- STRICT: NULL in, NULL out.
SELECT quadkey_envelope(NULL) IS NULL AND geohash_envelope(NULL) IS NULL
   AND cluster_point(NULL) IS NULL AND cluster_envelope(NULL) IS NULL AS null_gives_null;
-- Inlined: a scan calls PostGIS and geocluster directly.
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP plan := plan || line || E'\n'; END LOOP;
  RETURN plan;
END $$;
SELECT plan_of LIKE '%st_tileenvelope((quadkey_tile(tiles.q)).zoom%' AND plan_of NOT LIKE '%quadkey_envelope%'
   AND plan_of LIKE '%st_makeenvelope((geohash_bounds(cells.g)).min_lon%' AND plan_of NOT LIKE '%geohash_envelope%'
   AS envelopes_inlined
  FROM pg_temp.plan_of('SELECT quadkey_envelope(q), geohash_envelope(g) FROM tiles, cells LIMIT 1');

--------------------------------------------------------------------------------------------
-- cluster_point, cluster_envelope
--------------------------------------------------------------------------------------------
-- Markers: random ones, groups on both sides of the antimeridian, a lone marker, and markers
-- on one parallel and on one meridian.
CREATE TEMP TABLE markers AS
SELECT i AS id, ST_SetSRID(ST_MakePoint(random() * 360 - 180, random() * 160 - 80), 4326) AS geom
  FROM generate_series(1, 2000) i
UNION ALL
SELECT 10000 + i, ST_SetSRID(ST_MakePoint(CASE WHEN i % 2 = 0 THEN 179.99 - i * 1e-4 ELSE -179.99 + i * 1e-4 END,
                                          -40 + i * 1e-3), 4326)
  FROM generate_series(1, 20) i
UNION ALL SELECT 20000, 'SRID=4326;POINT(60 -89)'
UNION ALL SELECT 20001 + i, ST_SetSRID(ST_MakePoint(100 + i * 1e-4, 85.5), 4326) FROM generate_series(0, 4) i
UNION ALL SELECT 20011 + i, ST_SetSRID(ST_MakePoint(-100, 10 + i * 1e-4), 4326) FROM generate_series(0, 4) i;
CREATE TEMP TABLE clusters AS
SELECT z, c FROM generate_series(0, 12, 3) z,
       LATERAL unnest((SELECT cluster_agg(geom, z, 60, id) FROM markers)) c;
CREATE TEMP TABLE cluster_geoms AS
SELECT z, (c).*, cluster_point(c) AS point, cluster_envelope(c) AS envelope FROM clusters;

SELECT count(*) = 0 AS cluster_point_is_the_centre FROM cluster_geoms
 WHERE NOT (ST_OrderingEquals(point, ST_SetSRID(ST_MakePoint(lon, lat), 4326)) AND ST_SRID(point) = 4326);

-- Every marker is covered by the envelope of a cluster of its zoom.
SELECT z, m.id FROM markers m, generate_series(0, 12, 3) z
 WHERE NOT EXISTS (SELECT FROM cluster_geoms c WHERE c.z = z AND ST_Covers(c.envelope, m.geom));
-- The envelope's extent is the bounds: directly, or split in two at the antimeridian.
SELECT z, id, ST_AsText(envelope) FROM cluster_geoms
 WHERE min_lon <= max_lon
   AND NOT (ST_XMin(envelope) = min_lon AND ST_XMax(envelope) = max_lon
            AND ST_YMin(envelope) = min_lat AND ST_YMax(envelope) = max_lat AND ST_SRID(envelope) = 4326);
SELECT z, id, ST_AsText(envelope) FROM cluster_geoms
 WHERE min_lon > max_lon
   AND NOT (ST_NumGeometries(envelope) = 2 AND ST_SRID(envelope) = 4326
            AND ST_OrderingEquals(ST_GeometryN(envelope, 1),
                  ST_SetSRID(ST_MakeEnvelope(min_lon, min_lat, 180, max_lat), 4326))
            AND ST_OrderingEquals(ST_GeometryN(envelope, 2),
                  ST_SetSRID(ST_MakeEnvelope(-180, min_lat, max_lon, max_lat), 4326)));
-- Which kind of geometry each case gives.
SELECT DISTINCT CASE WHEN min_lon > max_lon THEN 'crosses the antimeridian'
                     WHEN count = 1 THEN 'one marker'
                     WHEN min_lat = max_lat OR min_lon = max_lon THEN 'on one parallel or meridian'
                     ELSE 'box' END AS kind,
       GeometryType(envelope)
  FROM cluster_geoms ORDER BY 1, 2;

DROP EXTENSION geocluster_postgis;
