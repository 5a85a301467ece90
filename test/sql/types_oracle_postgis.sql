-- quadkey and geohash against an independent oracle: PostGIS.
--
--   geohash(lat, lon, p)::text = ST_GeoHash(point, p)     1M random points x precisions 1..12,
--                                                         and every kind of edge value
--   geohash_bounds / geohash_center = ST_Box2dFromGeoHash / ST_PointFromGeoHash (exactly)
--   quadkey_bounds = ST_Transform(ST_TileEnvelope(z, x, y), 4326)  within 1e-9 degrees,
--                                                         100k random tiles at zooms 0..29
--   quadkey(lat, lon, z) is the tile that Web Mercator tile math on ST_Transform(point, 3857)
--   gives, and its bounds hold the point under the documented edge conventions.
--
-- Every assertion prints one `t`; the query after it lists offending rows (nothing when right).
-- The random data is deterministic (setseed), so a failure reproduces.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
CREATE EXTENSION IF NOT EXISTS postgis;
\pset tuples_only on
\pset null '(null)'
-- Scratch tables live in their own schema (ordinary tables, not temporary ones, so that the
-- big comparisons can run in parallel workers), dropped at the end.
DROP SCHEMA IF EXISTS types_oracle CASCADE;
CREATE SCHEMA types_oracle;
SET search_path = types_oracle, public;

-- nextafter() for doubles, exact: the IEEE bits through float8send, one step, and back with
-- exact float arithmetic (mantissa and power-of-two scaling are exact for normal numbers).
CREATE FUNCTION pg_temp.float8_from_bits(b bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN (b >> 52) & 2047 = 0
              THEN (b & 4503599627370495)::float8 * power(2::float8, -1074)
              ELSE (1 + (b & 4503599627370495)::float8 / 4503599627370496::float8)
                   * power(2::float8, ((b >> 52) & 2047)::int - 1023) END
$$;
CREATE FUNCTION pg_temp.float8_bits(x float8) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT ('x' || encode(float8send(x), 'hex'))::bit(64)::bigint & 9223372036854775807
$$;
-- The next double above x (toward +Infinity) and below it.
CREATE FUNCTION pg_temp.next_up(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x >= 0 THEN pg_temp.float8_from_bits(pg_temp.float8_bits(x) + 1)
              WHEN x = -power(2::float8, -1074) THEN -0.0::float8
              ELSE -pg_temp.float8_from_bits(pg_temp.float8_bits(x) - 1) END
$$;
CREATE FUNCTION pg_temp.next_down(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT -pg_temp.next_up(-x)
$$;
-- The helpers themselves: one ulp around 1, 180 and 0.
SELECT pg_temp.next_up(1) = 1 + power(2::float8, -52)
   AND pg_temp.next_down(1) = 1 - power(2::float8, -53)
   AND pg_temp.next_up(180) = 180 + power(2::float8, -45)
   AND pg_temp.next_down(-180) = -180 - power(2::float8, -45)
   AND pg_temp.next_down(180) = 180 - power(2::float8, -45)
   AND pg_temp.next_up(0) = power(2::float8, -1074)
   AND pg_temp.next_down(0) = -power(2::float8, -1074) AS nextafter_helpers_ok;

--------------------------------------------------------------------------------------------
-- geohash(lat, lon, p) = ST_GeoHash
--------------------------------------------------------------------------------------------

-- 1M uniform random points. Doubles from random() have 52 random bits, more than the 30 bits
-- per axis a precision-12 geohash resolves.
SELECT setseed(0.2718281828) \g /dev/null
CREATE UNLOGGED TABLE gh_pts AS
SELECT i, random() * 180 - 90 AS lat, random() * 360 - 180 AS lon
  FROM generate_series(1, 1000000) i;

-- The edge values, every combination of them: the poles, the antimeridian, the equator and
-- the prime meridian (also -0.0: UNION ALL, because -0.0 = 0.0 would merge them), the
-- Mercator clamp latitude, and one ulp either side.
CREATE UNLOGGED TABLE gh_edge_lat AS
SELECT v FROM unnest(ARRAY[-90, 90, 0, '-0'::float8, 45, -45, 85.05112878, -85.05112878,
                           89.99999999999999, -89.99999999999999, 1e-300, -1e-300]::float8[]) v
UNION ALL SELECT pg_temp.next_up(v) FROM unnest(ARRAY[-90, 0, 45, -45]::float8[]) v
UNION ALL SELECT pg_temp.next_down(v) FROM unnest(ARRAY[90, 0, 45, -45]::float8[]) v;
CREATE UNLOGGED TABLE gh_edge_lon AS
SELECT v FROM unnest(ARRAY[-180, 180, 0, '-0'::float8, 90, -90, 179.99999999999997,
                           -179.99999999999997, 1e-300, -1e-300]::float8[]) v
UNION ALL SELECT pg_temp.next_up(v) FROM unnest(ARRAY[-180, 0, 90, -90]::float8[]) v
UNION ALL SELECT pg_temp.next_down(v) FROM unnest(ARRAY[180, 0, 90, -90]::float8[]) v;
INSERT INTO gh_pts SELECT 2000000 + row_number() OVER (), a.v, o.v FROM gh_edge_lat a, gh_edge_lon o;

-- Cell boundaries: with n bisection bits an axis has edges lo + k * span / 2^n. For every
-- n = 1..30 take the edges k = 0, 1, 2^(n-1), 2^n - 1, 2^n and 200 random k; use each edge
-- exactly, one ulp either side, and 1e-12 either side, against a random other coordinate.
-- The edges are exact doubles: span / 2^n is exact, k * 360 / 2^n needs at most 39
-- significant bits, and adding lo lands on a multiple of span / 2^n no larger than span.
CREATE UNLOGGED TABLE gh_edges AS
WITH ks AS (
  SELECT n, k FROM generate_series(1, 30) n,
       LATERAL (SELECT unnest(ARRAY[0, 1, 2^(n - 1), 2^n - 1, 2^n]::float8[]) AS k
                UNION SELECT floor(random() * 2^n) FROM generate_series(1, 200)) k
)
SELECT 'lon' AS axis, -180 + k * (360 / 2^n) AS edge FROM ks
UNION SELECT 'lat', -90 + k * (180 / 2^n) FROM ks;
CREATE UNLOGGED TABLE gh_edge_vals AS
SELECT axis, v FROM gh_edges,
       LATERAL unnest(ARRAY[edge, pg_temp.next_up(edge), pg_temp.next_down(edge),
                            edge + 1e-12, edge - 1e-12]) v
 WHERE v BETWEEN (CASE axis WHEN 'lon' THEN -180 ELSE -90 END)
             AND (CASE axis WHEN 'lon' THEN 180 ELSE 90 END);
INSERT INTO gh_pts
SELECT 3000000 + row_number() OVER (),
       CASE axis WHEN 'lat' THEN v ELSE random() * 180 - 90 END,
       CASE axis WHEN 'lon' THEN v ELSE random() * 360 - 180 END
  FROM gh_edge_vals;
-- ...and both coordinates on edges at once (a random pairing of the two lists).
INSERT INTO gh_pts
SELECT 4000000 + row_number() OVER (), a.v, o.v
  FROM (SELECT v, row_number() OVER (ORDER BY random()) r FROM gh_edge_vals WHERE axis = 'lat') a
  JOIN (SELECT v, row_number() OVER (ORDER BY random()) r FROM gh_edge_vals WHERE axis = 'lon') o
    USING (r);

SELECT count(*) >= 1000000 + 60000 AS enough_points FROM gh_pts;
SELECT count(*) >= 60000 AS enough_edge_points FROM gh_pts WHERE i > 3000000;
SELECT count(*) = 2 AND count(*) FILTER (WHERE v::text = '-0') = 1 AS minus_zero_kept
  FROM gh_edge_lat WHERE v = 0;

-- The comparison itself, at every precision 1..12 (13M pairs of texts).
CREATE UNLOGGED TABLE gh_mismatch AS
SELECT i, lat, lon, p, geohash(lat, lon, p)::text AS ours,
       ST_GeoHash(ST_SetSRID(ST_MakePoint(lon, lat), 4326), p) AS postgis
  FROM gh_pts, generate_series(1, 12) p
 WHERE geohash(lat, lon, p)::text IS DISTINCT FROM ST_GeoHash(ST_SetSRID(ST_MakePoint(lon, lat), 4326), p);
SELECT count(*) = 0 AS geohash_equals_st_geohash FROM gh_mismatch;
SELECT * FROM gh_mismatch ORDER BY i, p LIMIT 5;

-- Precision 0 is the world (ST_GeoHash has no precision-0 form).
SELECT geohash(12.5, -33.25, 0)::text = '' AS precision_0_is_empty;

-- A few literal values, to show what the comparison is about.
SELECT geohash(43.653785705566406, -79.3778076171875, 12)::text = 'dpz83dyvep2w'
   AND geohash(57.64911, 10.40744, 11)::text = 'u4pruydqqvj'
   AND geohash(-90, -180, 12)::text = '000000000000'
   AND geohash(90, 180, 12)::text = 'zzzzzzzzzzzz'
   AND geohash(0, 0, 1)::text = 's'
   AND geohash('-0'::float8, '-0'::float8, 1)::text = 's'
   AND geohash(pg_temp.next_down(0), pg_temp.next_down(0), 12)::text = '7zzzzzzzzzzz' AS geohash_examples;

--------------------------------------------------------------------------------------------
-- geohash_bounds = ST_Box2dFromGeoHash, geohash_center = ST_PointFromGeoHash
--------------------------------------------------------------------------------------------

-- 200k cells of every precision 1..12 from the random points, and 100k from the edge points,
-- compared exactly: the edges are dyadic, so both sides compute them without rounding.
-- Sort-based DISTINCT: with the default work_mem, PostgreSQL 15's spilling hash aggregate
-- was seen to spend minutes resetting its hash table batch after batch on this statement
-- (ResetTupleHashTable), an executor behaviour this test is not about.
SET enable_hashagg = off;
CREATE UNLOGGED TABLE gh_cells AS
SELECT DISTINCT geohash(lat, lon, p) AS g
  FROM gh_pts, generate_series(1, 12) p
 WHERE i <= 200000 / 12 OR (i > 2000000 AND i % 8 = 0);
RESET enable_hashagg;
CREATE UNLOGGED TABLE gh_box_mismatch AS
SELECT g, b.*, ST_AsText(pg) AS postgis_box, ST_AsText(pc) AS postgis_center, c.*
  FROM gh_cells,
       LATERAL geohash_bounds(g) b,
       LATERAL geohash_center(g) c,
       LATERAL ST_Box2dFromGeoHash(g::text) pb,
       LATERAL ST_PointFromGeoHash(g::text) pc,
       LATERAL (SELECT pb::geometry) pg(pg)
 WHERE b.min_lon IS DISTINCT FROM ST_XMin(pb) OR b.max_lon IS DISTINCT FROM ST_XMax(pb)
    OR b.min_lat IS DISTINCT FROM ST_YMin(pb) OR b.max_lat IS DISTINCT FROM ST_YMax(pb)
    OR c.lon IS DISTINCT FROM ST_X(pc) OR c.lat IS DISTINCT FROM ST_Y(pc);
SELECT count(*) >= 200000 AS enough_cells FROM gh_cells;
SELECT count(*) = 0 AS geohash_bounds_center_equal_postgis FROM gh_box_mismatch;
SELECT * FROM gh_box_mismatch LIMIT 5;
-- Precision 0: the whole world, centred on (0, 0).
SELECT b = ROW(-90::float8, -180::float8, 90::float8, 180::float8)::record AND c = ROW(0::float8, 0::float8)::record AS world_bounds
  FROM geohash_bounds('') b, geohash_center('') c;
-- Every point lies in the bounds of its own cell, west/south edges included (100k random
-- points and every edge point, at precisions 1, 6 and 12).
SELECT count(*) = 0 AS point_inside_own_cell
  FROM gh_pts, unnest(ARRAY[1, 6, 12]) p, LATERAL geohash_bounds(geohash(lat, lon, p)) b
 WHERE (i <= 100000 OR i > 2000000) AND NOT (lon BETWEEN b.min_lon AND b.max_lon AND lat BETWEEN b.min_lat AND b.max_lat
            AND (lon < b.max_lon OR lon = 180) AND (lat < b.max_lat OR lat = 90));


--------------------------------------------------------------------------------------------
-- quadkey_bounds = ST_Transform(ST_TileEnvelope(z, x, y), 4326)
--------------------------------------------------------------------------------------------

-- Bing's documented example (Bing Maps Tile System): tile (3, 5) at level 3 is "213".
SELECT quadkey_from_tile(3, 3, 5)::text = '213' AND quadkey_tile('213') = ROW(3, 3, 5)::record
    AS bing_example;
-- The bigint quadkey schema's worked example: a Toronto point at zoom 23, and its bigint form.
SELECT quadkey(43.653785705566406, -79.3778076171875, 23)::text = '03022313122033033011213'
   AND quadkey_to_bigint(quadkey(43.653785705566406, -79.3778076171875, 23)) = 13940830302567
   AND quadkey_from_bigint(13940830302567, 23)::text = '03022313122033033011213' AS toronto_bigint_example;

-- 100k random tiles, zooms 0..29 in turn, plus the four corner tiles of every zoom.
SELECT setseed(0.5772156649) \g /dev/null
CREATE UNLOGGED TABLE qk_tiles AS
SELECT z, floor(random() * 2^z)::int AS x, floor(random() * 2^z)::int AS y
  FROM generate_series(0, 99999) i, LATERAL (SELECT i % 30 AS z) zz
UNION ALL
SELECT z, x, y FROM generate_series(0, 29) z,
       LATERAL (VALUES (0, 0), (0, (2^z - 1)::int), ((2^z - 1)::int, 0),
                       ((2^z - 1)::int, (2^z - 1)::int)) c(x, y);
SELECT count(*) >= 100000 AND count(DISTINCT z) = 30 AS enough_tiles FROM qk_tiles;

CREATE UNLOGGED TABLE qk_box_mismatch AS
SELECT z, x, y, b.*, ST_AsText(e) AS postgis
  FROM qk_tiles,
       LATERAL quadkey_bounds(quadkey_from_tile(z, x, y)) b,
       LATERAL ST_Transform(ST_TileEnvelope(z, x, y), 4326) e
 WHERE NOT (abs(b.min_lon - ST_XMin(e)) <= 1e-9 AND abs(b.max_lon - ST_XMax(e)) <= 1e-9
            AND abs(b.min_lat - ST_YMin(e)) <= 1e-9 AND abs(b.max_lat - ST_YMax(e)) <= 1e-9)
    OR b.min_lon IS NULL;
SELECT count(*) = 0 AS quadkey_bounds_equal_tile_envelope FROM qk_box_mismatch;
SELECT * FROM qk_box_mismatch ORDER BY z, x, y LIMIT 5;
-- quadkey_tile is the inverse of quadkey_from_tile, and the level is the zoom.
SELECT count(*) = 0 AS tile_round_trip FROM qk_tiles
 WHERE quadkey_tile(quadkey_from_tile(z, x, y)) <> ROW(z, x, y)::record
    OR quadkey_zoom(quadkey_from_tile(z, x, y)) <> z;
-- The centre is the tile's Mercator midpoint: the centre of ST_TileEnvelope, transformed.
SELECT count(*) = 0 AS quadkey_center_is_mercator_midpoint
  FROM qk_tiles,
       LATERAL quadkey_center(quadkey_from_tile(z, x, y)) c,
       LATERAL ST_Transform(ST_Centroid(ST_TileEnvelope(z, x, y)), 4326) pc
 WHERE NOT (abs(c.lon - ST_X(pc)) <= 1e-9 AND abs(c.lat - ST_Y(pc)) <= 1e-9);
-- The digits are Bing's: digit i = (bit of x) + 2 * (bit of y), most significant first,
-- computed here from x and y with SQL integer arithmetic.
SELECT count(*) = 0 AS digits_interleave_x_and_y FROM qk_tiles
 WHERE quadkey_from_tile(z, x, y)::text IS DISTINCT FROM
       (SELECT coalesce(string_agg((((x >> (z - i)) & 1) + 2 * ((y >> (z - i)) & 1))::text, '' ORDER BY i), '')
          FROM generate_series(1, z) i);
-- The bigint form of older schemas is the same digits read in base 4.
SELECT count(*) = 0 AS bigint_is_base4_digits FROM qk_tiles
 WHERE quadkey_to_bigint(quadkey_from_tile(z, x, y)) IS DISTINCT FROM
       (SELECT coalesce(sum((((x >> (z - i)) & 1) + 2 * ((y >> (z - i)) & 1))::numeric * 4::numeric ^ (z - i)), 0)::bigint
          FROM generate_series(1, z) i)
    OR quadkey_from_bigint(quadkey_to_bigint(quadkey_from_tile(z, x, y)), z) <> quadkey_from_tile(z, x, y);

--------------------------------------------------------------------------------------------
-- quadkey(lat, lon, z): the tile of Web Mercator tile math, under the edge conventions
--------------------------------------------------------------------------------------------

-- 200k random points (latitude over the whole -90..90, so ~5% are beyond the Mercator clamp)
-- at zooms 0..29 in turn, plus points on tile edges taken from quadkey_bounds.
SELECT setseed(0.6180339887) \g /dev/null
CREATE UNLOGGED TABLE qk_pts AS
SELECT i, random() * 180 - 90 AS lat, random() * 360 - 180 AS lon, i % 30 AS z
  FROM generate_series(0, 199999) i;
INSERT INTO qk_pts
SELECT 1000000 + row_number() OVER (), v.lat, v.lon, z
  FROM generate_series(0, 29) z,
       unnest(ARRAY[-90, 90, 0, '-0'::float8, 85.05112878, -85.05112878, 85.0511287798066,
                    -85.0511287798066, 85.06, -85.06, 45, -45]::float8[]) lat(lat),
       unnest(ARRAY[-180, 180, 0, '-0'::float8, pg_temp.next_down(180), pg_temp.next_up(-180),
                    90, -90]::float8[]) lon(lon),
       LATERAL (SELECT lat.lat, lon.lon) v;
-- Tile corners, exactly and one ulp away: 5000 random tiles, each corner of its bounds.
INSERT INTO qk_pts
SELECT 2000000 + row_number() OVER (), lat, lon, t.z
  FROM (SELECT * FROM qk_tiles ORDER BY random() LIMIT 5000) t,
       LATERAL quadkey_bounds(quadkey_from_tile(t.z, t.x, t.y)) b,
       LATERAL unnest(ARRAY[b.min_lat, b.max_lat, pg_temp.next_up(b.min_lat), pg_temp.next_down(b.max_lat)]) lat,
       LATERAL unnest(ARRAY[b.min_lon, b.max_lon, pg_temp.next_up(b.min_lon), pg_temp.next_down(b.max_lon)]) lon
 WHERE lon BETWEEN -180 AND 180;
SELECT count(*) >= 200000 AS enough_points FROM qk_pts;

-- Our tile, and the one that plain Mercator math on PostGIS's projection of the clamped
-- point gives: x = floor((X + R) / 2R * 2^z), y = floor((R - Y) / 2R * 2^z), clamped.
CREATE UNLOGGED TABLE qk_check AS
SELECT i, lat, lon, z, t.x, t.y,
       greatest(least(lat, 85.05112878), -85.05112878) AS clat,
       (ST_X(m) + r) / (2 * r) * 2^z AS sx, (r - ST_Y(m)) / (2 * r) * 2^z AS sy
  FROM qk_pts,
       LATERAL quadkey_tile(quadkey(lat, lon, z)) t,
       LATERAL (SELECT pi() * 6378137 AS r) rr,
       LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(lon,
                            greatest(least(lat, 85.05112878), -85.05112878)), 4326), 3857) m;
-- Exactly the same tile, except for points within 1e-6 of a tile edge in the oracle's own
-- arithmetic (there the edge convention decides, checked next against our exact bounds).
CREATE UNLOGGED TABLE qk_tile_mismatch AS
SELECT * FROM qk_check
 WHERE (x <> greatest(0, least(floor(sx), 2^z - 1)) AND abs(sx - round(sx)) > 1e-6)
    OR (y <> greatest(0, least(floor(sy), 2^z - 1)) AND abs(sy - round(sy)) > 1e-6)
    OR abs(x - greatest(0, least(floor(sx), 2^z - 1))) > 1
    OR abs(y - greatest(0, least(floor(sy), 2^z - 1))) > 1;
SELECT count(*) = 0 AS quadkey_equals_mercator_tile_math FROM qk_tile_mismatch;
SELECT * FROM qk_tile_mismatch ORDER BY i LIMIT 5;
-- The random points are almost never near an edge, so the comparison above is exact there.
SELECT count(*) FILTER (WHERE abs(sx - round(sx)) > 1e-6 AND abs(sy - round(sy)) > 1e-6) > 0.999 * count(*)
    AS random_points_checked_exactly FROM qk_check WHERE i < 1000000 AND abs(lat) < 85;

-- Edge conventions, against our own exact bounds: a column holds lon in [west, east) and a
-- row holds lat in (south, north], i.e. a point on an edge goes east / south; lon 180 is in
-- the last column; latitudes beyond +-85.05112878 are clamped into the top / bottom row.
CREATE UNLOGGED TABLE qk_convention_mismatch AS
SELECT c.*, b.*
  FROM qk_check c, LATERAL quadkey_bounds(quadkey_from_tile(z, x, y)) b
 WHERE NOT ((b.min_lon <= lon AND (lon < b.max_lon OR (lon = 180 AND b.max_lon = 180)))
            AND (clat <= b.max_lat OR y = 0)
            AND (b.min_lat < clat OR y = 2^z - 1));
SELECT count(*) = 0 AS quadkey_edge_conventions FROM qk_convention_mismatch;
SELECT * FROM qk_convention_mismatch ORDER BY i LIMIT 5;
-- The clamp: beyond it, the result is the clamped point's tile (top or bottom row).
SELECT count(*) = 0 AS quadkey_clamps_latitude FROM qk_check
 WHERE abs(lat) > 85.05112878
   AND (quadkey(lat, lon, z) <> quadkey(sign(lat) * 85.05112878, lon, z)
        OR y <> CASE WHEN lat > 0 THEN 0 ELSE 2^z - 1 END);
-- quadkey(lat, lon, z) is the ancestor at z of the zoom-29 quadkey of the same point.
SELECT count(*) = 0 AS quadkey_zooms_nest FROM qk_pts
 WHERE quadkey(lat, lon, z) <> quadkey_parent(quadkey(lat, lon, 29), z);

DROP SCHEMA types_oracle CASCADE;
RESET search_path;
SELECT 'types_oracle_postgis done' AS done;
