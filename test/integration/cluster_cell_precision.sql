-- How far a marker can be from the centre of its quadkey / geohash cell, i.e. how far
-- cluster_agg("position" quadkey | geohash, ...) may move it: computed with the extension's own
-- quadkey_bounds/quadkey_center and geohash_bounds/geohash_center, printed as the README table.
-- cluster_properties.sh runs it with -v check=N: N random markers are checked against it.
--
-- Degrees: the largest |lat - centre lat| and |lon - centre lon| over the cell. Metres: the
-- largest great-circle distance from the centre to the cell's boundary (corners and 64 points
-- per edge) on a sphere of radius 6,371,008.8 m (the mean Earth radius). Cells are searched in
-- every row at coarse levels and in the rows next to the equator at fine ones (cells shrink in
-- metres, and quadkey cells in latitude, away from the equator). A quadkey's centre is its
-- Web Mercator centre, so it is not the middle of its latitude range. Markers beyond
-- +-85.0511 degrees are clamped into the top or bottom row of quadkeys: for them add up to
-- 4.95 degrees (550 km) of latitude.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION pg_temp.metres(lat1 float8, lon1 float8, lat2 float8, lon2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT 2 * 6371008.8 * asin(least(1.0, sqrt(sin(radians(lat2 - lat1) / 2) ^ 2
         + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2))) $$;

-- Largest distance (m) from (clat, clon) to the boundary of the box.
CREATE OR REPLACE FUNCTION pg_temp.box_reach(clat float8, clon float8, s float8, w float8, n float8, e float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT max(pg_temp.metres(clat, clon, p.lat, p.lon))
    FROM generate_series(0, 64) i,
         LATERAL (VALUES (s, w + (e - w) * i / 64.0), (n, w + (e - w) * i / 64.0),
                         (s + (n - s) * i / 64.0, w), (s + (n - s) * i / 64.0, e)) p(lat, lon) $$;

CREATE TEMP TABLE cell_precision (kind text, level int, max_dlat float8, max_dlon float8, max_m float8);

-- quadkey: tiles of column 0 (every column is alike in longitude), rows as described above
INSERT INTO cell_precision
SELECT 'quadkey', z, max(greatest(b.max_lat - c.lat, c.lat - b.min_lat)), max(c.lon - b.min_lon),
       max(pg_temp.box_reach(c.lat, c.lon, b.min_lat, b.min_lon, b.max_lat, b.max_lon))
  FROM generate_series(0, 29) z
  CROSS JOIN LATERAL (
    SELECT DISTINCT r FROM (
      SELECT generate_series(0, (2 ^ z)::bigint - 1) AS r WHERE z <= 10
      UNION ALL
      SELECT (2 ^ (z - 1))::bigint + d FROM generate_series(-2, 1) d WHERE z > 10) rr) rows
  CROSS JOIN LATERAL (SELECT quadkey_from_tile(z, 0, rows.r::int) AS q) t
  CROSS JOIN LATERAL quadkey_bounds(t.q) b
  CROSS JOIN LATERAL quadkey_center(t.q) c
 GROUP BY z;

-- geohash: cells at lon 0, in every row at precision <= 4, next to the equator beyond
INSERT INTO cell_precision
SELECT 'geohash', p, max(greatest(b.max_lat - c.lat, c.lat - b.min_lat)), max(c.lon - b.min_lon),
       max(pg_temp.box_reach(c.lat, c.lon, b.min_lat, b.min_lon, b.max_lat, b.max_lon))
  FROM generate_series(1, 12) p
  CROSS JOIN LATERAL (SELECT 180 / 2.0 ^ floor(5 * p / 2.0) AS h, 360 / 2.0 ^ ceil(5 * p / 2.0) AS w) cell
  CROSS JOIN LATERAL (
    SELECT -90 + (r + 0.5) * cell.h AS lat FROM generate_series(0, (180 / cell.h)::int - 1) r WHERE p <= 4
    UNION ALL
    SELECT d * cell.h + 0.5 * cell.h FROM generate_series(-2, 1) d WHERE p > 4) rows
  CROSS JOIN LATERAL (SELECT geohash(rows.lat::float8, (0.5 * cell.w)::float8, p) AS g) t
  CROSS JOIN LATERAL geohash_bounds(t.g) b
  CROSS JOIN LATERAL geohash_center(t.g) c
 GROUP BY p;

\pset format unaligned
\pset tuples_only on
\pset footer off
CREATE OR REPLACE FUNCTION pg_temp.len(m float8) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN m >= 10000 THEN to_char(round(m / 1000), 'FM999,999') || ' km'
              WHEN m >= 1000 THEN to_char(m / 1000, 'FM990.0') || ' km'
              WHEN m >= 1 THEN to_char(m, 'FM990.0') || ' m'
              WHEN m >= 0.01 THEN to_char(m * 100, 'FM990.0') || ' cm'
              ELSE to_char(m * 1000, 'FM990.0') || ' mm' END $$;
CREATE OR REPLACE FUNCTION pg_temp.deg(d float8) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN d >= 0.01 THEN trim_scale(round(d::numeric, 4))::text
              ELSE trim(to_char(d, '9.99EEEE')) END $$;
SELECT '| quadkey level | max distance | max lat offset (°) | max lon offset (°) |';
SELECT '| ---: | ---: | ---: | ---: |';
SELECT format('| %s | %s | %s | %s |', level, pg_temp.len(max_m), pg_temp.deg(max_dlat), pg_temp.deg(max_dlon))
  FROM cell_precision WHERE kind = 'quadkey' ORDER BY level;
SELECT '';
SELECT '| geohash precision | max distance | max lat offset (°) | max lon offset (°) |';
SELECT '| ---: | ---: | ---: | ---: |';
SELECT format('| %s | %s | %s | %s |', level, pg_temp.len(max_m), pg_temp.deg(max_dlat), pg_temp.deg(max_dlon))
  FROM cell_precision WHERE kind = 'geohash' ORDER BY level;

-- With -v check=N: N random markers (a tenth of them within a degree of the Mercator edge)
-- against the table, per kind and level: one line `cell_precision KIND LEVEL ok|FAIL ...`.
\if :{?check}
SELECT setseed(0.125) \g /dev/null
CREATE TEMP TABLE markers AS
SELECT CASE WHEN g % 10 = 0 THEN (84.05 + random()) * (CASE WHEN g % 20 = 0 THEN 1 ELSE -1 END)
            ELSE random() * 170 - 85 END AS lat,
       random() * 360 - 180 AS lon
  FROM generate_series(1, :check) g;
SELECT format('cell_precision %s %s %s', t.kind, t.level,
              CASE WHEN bool_and(o.dlat <= t.max_dlat + 1e-12 AND o.dlon <= t.max_dlon + 1e-12 AND o.m <= t.max_m * (1 + 1e-9))
                   THEN 'ok' ELSE format('FAIL: largest offsets %s deg lat, %s deg lon, %s m; table %s, %s, %s',
                                         max(o.dlat), max(o.dlon), max(o.m), t.max_dlat, t.max_dlon, t.max_m) END)
  FROM cell_precision t
  CROSS JOIN markers m
  CROSS JOIN LATERAL (SELECT CASE WHEN t.kind = 'quadkey' THEN (quadkey_center(quadkey(m.lat, m.lon, t.level))).lat
                                  ELSE (geohash_center(geohash(m.lat, m.lon, t.level))).lat END AS lat,
                             CASE WHEN t.kind = 'quadkey' THEN (quadkey_center(quadkey(m.lat, m.lon, t.level))).lon
                                  ELSE (geohash_center(geohash(m.lat, m.lon, t.level))).lon END AS lon) c
  CROSS JOIN LATERAL (SELECT abs(m.lat - c.lat) AS dlat, abs(m.lon - c.lon) AS dlon,
                             pg_temp.metres(m.lat, m.lon, c.lat, c.lon) AS m) o
 GROUP BY t.kind, t.level, t.max_dlat, t.max_dlon, t.max_m
 ORDER BY t.kind, t.level;
\endif
