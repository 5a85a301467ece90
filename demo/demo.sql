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

\echo '== the error boundary: a failure inside the C++ core is an ordinary ERROR'
\set ON_ERROR_STOP 0
SELECT geocluster_selftest('exception');
\set ON_ERROR_STOP 1
SELECT 'the session goes on' AS after_error;
