-- Viewport covers (src/pg/cover.cpp over src/core/cover.hpp): quadkey_cover, geohash_cover and
-- their merged code ranges. Properties checked on many boxes: every point of the box (edges and
-- corners included) lies in a cover cell; every cover cell holds a point of the box (no cell
-- misses it); covers are ascending and of one level; boxes across the antimeridian; the
-- CoverTooLarge refusal and the other errors.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

-- Small examples, readable.
SELECT quadkey_cover(40.0, -75.0, 41.0, -73.0, 8);
SELECT geohash_cover(48.80, 2.25, 48.90, 2.42, 5);
-- Across the antimeridian: min_lon > max_lon is [170, 180] and [-180, -170].
SELECT quadkey_cover(-20.0, 170.0, -10.0, -170.0, 4);
SELECT geohash_cover(-20.0, 170.0, -10.0, -170.0, 2);
-- A box on one point is the point's cell.
SELECT quadkey_cover(10.0, 20.0, 10.0, 20.0, 12) = ARRAY[quadkey(10.0, 20.0, 12)] AS point_box,
       geohash_cover(10.0, 20.0, 10.0, 20.0, 7) = ARRAY[geohash(10.0, 20.0, 7)] AS point_box_geohash;
-- Level 0 is the whole world.
SELECT quadkey_cover(-90, -180, 90, 180, 0), geohash_cover(-90, -180, 90, 180, 0);
-- The ranges of a cover: consecutive cells share one range.
SELECT lo, hi FROM quadkey_cover_ranges(40.0, -75.0, 41.0, -73.0, 8);
SELECT lo, hi FROM geohash_cover_ranges(48.80, 2.25, 48.90, 2.42, 5);

-- 200 boxes of all sizes (some across the antimeridian, some touching the poles), each with a
-- level from 1 to 16 (quadkey) or 1 to 7 (geohash). Deterministic.
CREATE TABLE cv_boxes AS
WITH b AS (
  SELECT k,
         ((k * 7919) % 17000) / 100.0 - 85 AS lat0,
         ((k * 104723) % 36000) / 100.0 - 180 AS lon0,
         power(10.0, (k % 7) - 4) * (1 + (k * 31) % 9) AS size
    FROM generate_series(1, 200) k)
SELECT k,
       greatest(-90, lat0 - size / 2)::float8 AS min_lat,
       CASE WHEN k % 10 = 0 THEN 175.0 + (k % 5) ELSE lon0 END::float8 AS min_lon,
       least(90, lat0 + size / 2)::float8 AS max_lat,
       CASE WHEN k % 10 = 0 THEN -178.0 + (k % 7) ELSE least(180, lon0 + size) END::float8 AS max_lon,
       1 + k % 16 AS zoom,
       1 + k % 7 AS "precision"
  FROM b;
-- Shrink the level of boxes whose cover would be enormous (the limit is tested below).
UPDATE cv_boxes SET zoom = least(zoom, 7), "precision" = least("precision", 3)
 WHERE max_lat - min_lat > 1 OR min_lon > max_lon OR max_lon - min_lon > 1;
CREATE TABLE cv_covers AS
  SELECT k, quadkey_cover(min_lat, min_lon, max_lat, max_lon, zoom) AS qks,
            geohash_cover(min_lat, min_lon, max_lat, max_lon, "precision") AS ghs
    FROM cv_boxes;

-- Points of each box: the four corners, the middle of each edge, the centre, and 16 more
-- spread over it. Longitude runs east from min_lon, wrapping past 180.
CREATE TABLE cv_points AS
  SELECT b.k, lat, CASE WHEN lon > 180 THEN lon - 360 ELSE lon END AS lon
    FROM cv_boxes b,
         LATERAL (SELECT CASE WHEN b.min_lon <= b.max_lon THEN b.max_lon - b.min_lon
                              ELSE b.max_lon - b.min_lon + 360 END AS width) w,
         LATERAL (SELECT b.min_lat + (b.max_lat - b.min_lat) * fy AS lat,
                         b.min_lon + w.width * fx AS lon
                    FROM (VALUES (0.0), (0.5), (1.0)) y(fy), (VALUES (0.0), (0.5), (1.0)) x(fx)
                  UNION ALL
                  SELECT b.min_lat + (b.max_lat - b.min_lat) * ((j * 37) % 101) / 100.0,
                         b.min_lon + w.width * ((j * 61) % 101) / 100.0
                    FROM generate_series(1, 16) j) p;
SELECT count(*) AS boxes, sum(cardinality(qks)) AS quadkey_cells, sum(cardinality(ghs)) AS geohash_cells
  FROM cv_covers;
SELECT count(*) AS points FROM cv_points;

\pset tuples_only on
-- Every point of a box lies in a cell of its cover.
SELECT count(*) = 0 AS every_point_covered_quadkey
  FROM cv_points p JOIN cv_boxes b USING (k) JOIN cv_covers c USING (k)
 WHERE NOT quadkey(p.lat, p.lon, b.zoom) = ANY (c.qks);
SELECT count(*) = 0 AS every_point_covered_geohash
  FROM cv_points p JOIN cv_boxes b USING (k) JOIN cv_covers c USING (k)
 WHERE NOT geohash(p.lat, p.lon, b."precision") = ANY (c.ghs);

-- Every cover cell holds a point of the box: the cell's centre moved into the box (clamped
-- per axis; across the antimeridian, into the nearer of its two longitude intervals) lies in
-- the cell itself.
CREATE FUNCTION cv_clamp(v float8, lo float8, hi float8) RETURNS float8
  LANGUAGE sql IMMUTABLE AS 'SELECT least(greatest(v, lo), hi)';
CREATE FUNCTION cv_clamp_lon(v float8, lo float8, hi float8) RETURNS float8[]
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN lo <= hi THEN ARRAY[cv_clamp(v, lo, hi)]
                ELSE ARRAY[cv_clamp(v, lo, 180), cv_clamp(v, -180, hi)] END $$;
SELECT count(*) = 0 AS no_cell_misses_the_box_quadkey
  FROM cv_boxes b JOIN cv_covers c USING (k), unnest(c.qks) cell,
       LATERAL quadkey_center(cell) ctr
 WHERE NOT quadkey(cv_clamp(ctr.lat, b.min_lat, b.max_lat), (cv_clamp_lon(ctr.lon, b.min_lon, b.max_lon))[1], b.zoom) = cell
   AND NOT quadkey(cv_clamp(ctr.lat, b.min_lat, b.max_lat),
                   coalesce((cv_clamp_lon(ctr.lon, b.min_lon, b.max_lon))[2], 1000), b.zoom) = cell;
SELECT count(*) = 0 AS no_cell_misses_the_box_geohash
  FROM cv_boxes b JOIN cv_covers c USING (k), unnest(c.ghs) cell,
       LATERAL geohash_center(cell) ctr
 WHERE NOT geohash(cv_clamp(ctr.lat, b.min_lat, b.max_lat), (cv_clamp_lon(ctr.lon, b.min_lon, b.max_lon))[1], b."precision") = cell
   AND NOT geohash(cv_clamp(ctr.lat, b.min_lat, b.max_lat),
                   coalesce((cv_clamp_lon(ctr.lon, b.min_lon, b.max_lon))[2], 1000), b."precision") = cell;

-- Covers are ascending, without duplicates, all of the requested level.
SELECT count(*) = 0 AS sorted_one_level
  FROM cv_boxes b JOIN cv_covers c USING (k)
 WHERE c.qks <> ARRAY(SELECT DISTINCT x FROM unnest(c.qks) x ORDER BY x)
    OR c.ghs <> ARRAY(SELECT DISTINCT x FROM unnest(c.ghs) x ORDER BY x)
    OR EXISTS (SELECT FROM unnest(c.qks) x WHERE quadkey_zoom(x) <> b.zoom)
    OR EXISTS (SELECT FROM unnest(c.ghs) x WHERE geohash_precision(x) <> b."precision");

-- Across the antimeridian the cover has cells on both sides.
SELECT bool_and(EXISTS (SELECT FROM unnest(c.qks) x WHERE (quadkey_center(x)).lon > 0)
            AND EXISTS (SELECT FROM unnest(c.qks) x WHERE (quadkey_center(x)).lon < 0)) AS both_sides
  FROM cv_boxes b JOIN cv_covers c USING (k) WHERE b.min_lon > b.max_lon;

-- The ranges hold exactly the cover's cells' descendants, for values of the cover's level or
-- finer: the zoom-23 cells of the points.
SELECT count(*) = 0 AS ranges_match_cells
  FROM cv_points p JOIN cv_boxes b USING (k) JOIN cv_covers c USING (k),
       LATERAL (SELECT quadkey(p.lat, p.lon, 23) AS q, geohash(p.lat, p.lon, 12) AS g) v
 WHERE (v.q <@ ANY (c.qks)) <> EXISTS (SELECT FROM quadkey_cover_ranges(b.min_lat, b.min_lon, b.max_lat, b.max_lon, b.zoom) r
                                       WHERE v.q BETWEEN r.lo AND r.hi)
    OR (v.g <@ ANY (c.ghs)) <> EXISTS (SELECT FROM geohash_cover_ranges(b.min_lat, b.min_lon, b.max_lat, b.max_lon, b."precision") r
                                       WHERE v.g BETWEEN r.lo AND r.hi);
\pset tuples_only off

-- Errors. A cover above 1,000,000 cells is refused (54000) before anything is allocated.
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT quadkey_cover(-90, -180, 90, 180, 29);
SELECT geohash_cover(-90, -180, 90, 180, 12);
SELECT quadkey_cover('NaN', 0, 1, 1, 5);
SELECT quadkey_cover(2, 0, 1, 1, 5);
SELECT quadkey_cover(0, 0, 91, 1, 5);
SELECT quadkey_cover(0, 0, 1, 181, 5);
SELECT quadkey_cover(0, 0, 1, 1, 30);
SELECT geohash_cover(0, 0, 1, 1, 13);
SELECT count(*) FROM quadkey_cover_ranges(-90, -180, 90, 180, 29);
\set ON_ERROR_STOP 1
SET client_min_messages = notice;
DO $$
BEGIN
  PERFORM quadkey_cover(-90, -180, 90, 180, 29);
EXCEPTION WHEN program_limit_exceeded THEN
  RAISE NOTICE 'world at zoom 29 -> SQLSTATE %', SQLSTATE;
END $$;
SET client_min_messages = warning;
-- The limit itself: a box of exactly 1000 x 1000 tiles at zoom 12 is allowed, one more column
-- is not. (Tiles own their west and north edges, so the box stops just short of the others.)
SELECT (quadkey_bounds(quadkey_from_tile(12, 1000, 1000))).min_lon AS w,
       (quadkey_bounds(quadkey_from_tile(12, 1000, 1000))).max_lat AS n,
       (quadkey_bounds(quadkey_from_tile(12, 1999, 1999))).max_lon AS e,
       (quadkey_bounds(quadkey_from_tile(12, 2000, 1999))).max_lon AS e2,
       (quadkey_bounds(quadkey_from_tile(12, 1999, 1999))).min_lat AS s \gset
SELECT cardinality(quadkey_cover(:s + 1e-9, :w, :n, :e - 1e-9, 12)) AS one_million;
\set ON_ERROR_STOP 0
SELECT cardinality(quadkey_cover(:s + 1e-9, :w, :n, :e2 - 1e-9, 12));
\set ON_ERROR_STOP 1

-- cell <@ cells: inside one of the cells, NULL elements as in `= ANY`.
SELECT '0123'::quadkey <@ '{01,02}'::quadkey[] AS inside, '0123'::quadkey <@ '{02,03}'::quadkey[] AS outside,
       '0123'::quadkey <@ '{}'::quadkey[] AS empty, '0123'::quadkey <@ '{02,NULL}'::quadkey[] AS unknown,
       '0123'::quadkey <@ '{01,NULL}'::quadkey[] AS inside_despite_null,
       'u0nd'::geohash <@ '{u0,u1}'::geohash[] AS geohash_inside;

DROP TABLE cv_boxes, cv_covers, cv_points;
DROP FUNCTION cv_clamp, cv_clamp_lon;
