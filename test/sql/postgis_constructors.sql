-- geocluster_postgis: quadkey(geom, zoom) and geohash(geom, "precision") from Point geometries.
--
--   quadkey(geom, z) = quadkey(ST_Y(geom), ST_X(geom), z)        SRID 4326, 20k points x zooms 0..29
--   geohash(geom, p)::text = ST_GeoHash(geom, p)                 the same points x precisions 1..12
--   the tile's ST_TileEnvelope holds the point                   3k points x zooms 0..29
--   other SRIDs go through ST_Transform(geom, 4326)              5k points in 3857; UTM 32631
--   NULL in, NULL out; wrong geometries are 22023 errors; the functions are inlined.
--
-- Every assertion prints one `t`; the query after it lists offending rows (nothing when right).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster_postgis CASCADE;
\pset tuples_only on
\pset null '(null)'

-- The error a query raises, as 'SQLSTATE: message (detail) [hint]', or 'no error'.
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text; hint text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || ': ' || msg || coalesce(' (' || nullif(detail, '') || ')', '')
         || coalesce(' [' || nullif(hint, '') || ']', '');
END $$;

-- An example: central Paris.
SELECT quadkey(ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 12),
       geohash(ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 7);

-- 20k random points, with latitudes over the whole range (beyond the Mercator clamp too), and
-- the corners and axes of the map.
SELECT setseed(0.1414);
CREATE TEMP TABLE pts AS
SELECT i, ST_SetSRID(ST_MakePoint(random() * 360 - 180, random() * 180 - 90), 4326) AS geom
  FROM generate_series(1, 20000) i;
INSERT INTO pts
SELECT 100000 + row_number() OVER (), ST_SetSRID(ST_MakePoint(lon, lat), 4326)
  FROM unnest(ARRAY[-90, -85.05112878, 0, 85.05112878, 90]::float8[]) lat,
       unnest(ARRAY[-180, -90, 0, 90, 180]::float8[]) lon;

--------------------------------------------------------------------------------------------
-- SRID 4326: the lat/lon constructors on ST_Y / ST_X
--------------------------------------------------------------------------------------------
SELECT count(*) = 0 AS quadkey_geom_equals_quadkey_latlon FROM pts, generate_series(0, 29) z
 WHERE quadkey(geom, z) IS DISTINCT FROM quadkey(ST_Y(geom), ST_X(geom), z);
SELECT count(*) = 0 AS geohash_geom_equals_geohash_latlon FROM pts, generate_series(0, 12) p
 WHERE geohash(geom, p) IS DISTINCT FROM geohash(ST_Y(geom), ST_X(geom), p);
-- ...and PostGIS's own geohash, an independent oracle.
SELECT i, p, geohash(geom, p), ST_GeoHash(geom, p) FROM pts, generate_series(1, 12) p
 WHERE geohash(geom, p)::text IS DISTINCT FROM ST_GeoHash(geom, p);
SELECT count(*) = 20025 * 12 AS geohash_compared FROM pts, generate_series(1, 12) p;
-- ...and Web Mercator tile math: the tile's ST_TileEnvelope holds the point (to 1 micrometre,
-- for the transform's rounding; inside the Mercator latitude range, where the point exists).
SELECT i, z, quadkey(geom, z) FROM pts, generate_series(0, 29) z
 WHERE abs(ST_Y(geom)) < 85.05112878 AND (i <= 3000 OR i > 100000)
   AND NOT ST_DWithin(quadkey_envelope(quadkey(geom, z)), ST_Transform(geom, 3857), 1e-6);

-- Z and M are ignored.
SELECT quadkey('SRID=4326;POINT Z (2.3522 48.8566 35)'::geometry, 12) = quadkey(48.8566, 2.3522, 12)
   AND quadkey('SRID=4326;POINT M (2.3522 48.8566 7)'::geometry, 12) = quadkey(48.8566, 2.3522, 12)
   AND geohash('SRID=4326;POINT ZM (2.3522 48.8566 35 7)'::geometry, 9) = geohash(48.8566, 2.3522, 9)
   AS z_and_m_ignored;

--------------------------------------------------------------------------------------------
-- Other SRIDs: transformed to 4326 first
--------------------------------------------------------------------------------------------
CREATE TEMP TABLE pts_3857 AS
SELECT i, ST_Transform(geom, 3857) AS geom FROM pts WHERE abs(ST_Y(geom)) < 85 AND i <= 5000;
SELECT count(*) = 0 AS quadkey_3857_via_transform FROM pts_3857, generate_series(0, 29) z
 WHERE quadkey(geom, z) IS DISTINCT FROM
       quadkey(ST_Y(ST_Transform(geom, 4326)), ST_X(ST_Transform(geom, 4326)), z);
SELECT count(*) = 0 AS geohash_3857_via_transform FROM pts_3857, generate_series(1, 12) p
 WHERE geohash(geom, p)::text IS DISTINCT FROM ST_GeoHash(ST_Transform(geom, 4326), p);
-- A projected system far from Web Mercator: UTM zone 31N, around Paris.
SELECT quadkey(ST_Transform(ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 32631), 18)
       = quadkey(ST_Y(ST_Transform(ST_Transform(ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 32631), 4326)),
                 ST_X(ST_Transform(ST_Transform(ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 32631), 4326)), 18)
   AND geohash(ST_Transform(ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 32631), 8)::text = 'u09tvw0f'
   AS utm_via_transform;

--------------------------------------------------------------------------------------------
-- NULL in, NULL out
--------------------------------------------------------------------------------------------
SELECT quadkey(NULL::geometry, 5) IS NULL
   AND quadkey('SRID=4326;POINT(1 2)'::geometry, NULL) IS NULL
   AND geohash(NULL::geometry, 5) IS NULL
   AND geohash('SRID=4326;POINT(1 2)'::geometry, NULL) IS NULL AS null_gives_null;
-- ...also row by row, where nothing is folded at plan time.
SELECT count(*) = 3 AS null_rows_give_null
  FROM (VALUES (NULL::geometry, 3), ('SRID=4326;POINT(1 2)', NULL), (NULL, NULL)) v(g, n)
 WHERE quadkey(g, n) IS NULL AND geohash(g, n) IS NULL;

--------------------------------------------------------------------------------------------
-- Wrong geometries: 22023 invalid_parameter_value, naming the function
--------------------------------------------------------------------------------------------
SELECT pg_temp.error_of($$SELECT quadkey('SRID=4326;LINESTRING(0 0, 1 1)'::geometry, 5)$$);
SELECT pg_temp.error_of($$SELECT geohash('SRID=4326;MULTIPOINT((0 0))'::geometry, 5)$$);
SELECT pg_temp.error_of($$SELECT quadkey('SRID=4326;POINT EMPTY'::geometry, 5)$$);
SELECT pg_temp.error_of($$SELECT geohash('POINT(2.35 48.85)'::geometry, 5)$$);
-- An SRID that spatial_ref_sys does not know is ST_Transform's own error.
SELECT pg_temp.error_of($$SELECT quadkey('SRID=990000;POINT(1 1)'::geometry, 5)$$);
-- The same errors from rows of a table (not folded at plan time), and the core's own range
-- checks still apply after the conversion.
CREATE TEMP TABLE bad(kind text, g geometry);
INSERT INTO bad VALUES ('polygon', 'SRID=4326;POLYGON((0 0, 1 0, 1 1, 0 0))'),
                       ('collection', 'SRID=4326;GEOMETRYCOLLECTION(POINT(1 1))'),
                       ('empty', 'SRID=3857;POINT EMPTY'), ('srid 0', 'POINT(1 1)');
SELECT kind, pg_temp.error_of(format('SELECT quadkey(g, 3) FROM bad WHERE kind = %L', kind)) FROM bad ORDER BY kind;
SELECT pg_temp.error_of($$SELECT quadkey('SRID=4326;POINT(1 1)'::geometry, 30)$$);
SELECT pg_temp.error_of($$SELECT geohash('SRID=4326;POINT(181 1)'::geometry, 5)$$);

--------------------------------------------------------------------------------------------
-- Plans: the functions are inlined, so a scan calls PostGIS and geocluster directly
--------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP plan := plan || line || E'\n'; END LOOP;
  RETURN plan;
END $$;
SELECT plan_of LIKE '%quadkey(st_y(geom), st_x(geom), 12)%' AND plan_of NOT LIKE '%quadkey(geom, 12)%'
   AS quadkey_inlined
  FROM pg_temp.plan_of('SELECT quadkey(geom, 12) FROM pts');
SELECT plan_of LIKE '%geohash(st_y(geom), st_x(geom), 7)%' AND plan_of NOT LIKE '%geohash(geom, 7)%'
   AS geohash_inlined
  FROM pg_temp.plan_of('SELECT geohash(geom, 7) FROM pts');

DROP EXTENSION geocluster_postgis;
