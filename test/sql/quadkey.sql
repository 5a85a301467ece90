-- The quadkey type: values, accessors, children, parents, neighbours, bigint form, casts.
-- (The PostGIS oracle is in types_oracle_postgis.sql, order and containment over 1M random
-- pairs in types_order.sql, indexes in types_index.sql, bad input in types_bad_input.sql.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset tuples_only on
\pset null '(null)'
DROP SCHEMA IF EXISTS quadkey_test CASCADE;
CREATE SCHEMA quadkey_test;
SET search_path = quadkey_test, public;

-- Values -----------------------------------------------------------------------------------

-- '' is the whole world, level 0, tile (0, 0, 0).
SELECT ''::quadkey::text = '' AND quadkey_zoom('') = 0 AND quadkey_tile('') = ROW(0, 0, 0)::record
   AND quadkey_from_tile(0, 0, 0) = '' AND quadkey(12.5, 99.75, 0) = '' AS world_is_empty_text;
-- Bing's example (level 3, x = 3, y = 5 is "213"), and the four level-1 tiles: digit = x + 2y.
SELECT quadkey_from_tile(3, 3, 5) = '213' AND quadkey_tile('213') = ROW(3, 3, 5)::record
   AND quadkey_from_tile(1, 0, 0) = '0' AND quadkey_from_tile(1, 1, 0) = '1'
   AND quadkey_from_tile(1, 0, 1) = '2' AND quadkey_from_tile(1, 1, 1) = '3' AS bing_digits;
-- The deepest level, 29: the corners of the world.
SELECT quadkey_from_tile(29, 0, 0)::text = repeat('0', 29)
   AND quadkey_from_tile(29, 536870911, 536870911)::text = repeat('3', 29)
   AND quadkey_tile(repeat('3', 29)::quadkey) = ROW(29, 536870911, 536870911)::record
   AND quadkey(-85.05112878, 180, 29)::text = repeat('3', 29)
   AND quadkey(85.05112878, -180, 29)::text = repeat('0', 29) AS level_29_corners;
-- A Toronto point's zoom-23 quadkey and its bigint form (a published worked example), both ways.
SELECT quadkey(43.653785705566406, -79.3778076171875, 23) = '03022313122033033011213'
   AND quadkey_to_bigint('03022313122033033011213') = 13940830302567
   AND quadkey_from_bigint(13940830302567, 23) = '03022313122033033011213' AS toronto_bigint_example;
-- The bigint keeps no level: leading zeros need the zoom back.
SELECT quadkey_to_bigint('') = 0 AND quadkey_to_bigint('0') = 0 AND quadkey_to_bigint('000') = 0
   AND quadkey_to_bigint('3') = 3 AND quadkey_to_bigint('10') = 4
   AND quadkey_from_bigint(0, 0) = '' AND quadkey_from_bigint(0, 3) = '000'
   AND quadkey_from_bigint(4, 2) = '10' AND quadkey_from_bigint(4, 5) = '00010'
   AND quadkey_to_bigint(repeat('3', 29)::quadkey) = 4::bigint ^ 29 - 1
   AND quadkey_from_bigint((4::numeric ^ 29 - 1)::bigint, 29) = repeat('3', 29)::quadkey AS bigint_form;
-- The type is 8 bytes, passed by value.
SELECT typlen = 8 AND typbyval AND typalign = 'd' AS eight_bytes_by_value
  FROM pg_type WHERE typname = 'quadkey';
SELECT pg_column_size('0123'::quadkey) = 8 AS stored_in_8_bytes;

-- Children -----------------------------------------------------------------------------------

-- Four children, in ascending order, each the parent's text plus one digit, each inside it.
SELECT array_agg(c::text) = ARRAY['0', '1', '2', '3'] AS world_children FROM quadkey_children('') c;
SELECT setseed(0.31) \g /dev/null
CREATE TABLE cells AS   -- 20k random tiles at levels 0..28, without repeats
SELECT DISTINCT quadkey_from_tile(z, floor(random() * 2^z)::int, floor(random() * 2^z)::int) AS q
  FROM generate_series(1, 20000) i, LATERAL (SELECT i % 29 AS z) zz;
SELECT count(*) = 0 AS children_are_four_ordered_and_inside FROM (
  SELECT q, array_agg(c ORDER BY ord) AS cs, array_agg(c::text ORDER BY ord) AS ts,
         bool_and(c <@ q AND q @> c AND c <> q AND quadkey_parent(c, quadkey_zoom(q)) = q
                  AND quadkey_zoom(c) = quadkey_zoom(q) + 1) AS inside
    FROM cells, LATERAL quadkey_children(q) WITH ORDINALITY AS k(c, ord)
   GROUP BY q) s
 WHERE NOT inside OR cardinality(cs) <> 4
    OR ts <> ARRAY[q::text || '0', q::text || '1', q::text || '2', q::text || '3']
    OR NOT (cs[1] < cs[2] AND cs[2] < cs[3] AND cs[3] < cs[4]);
-- A child's tile is (2x + dx, 2y + dy).
SELECT count(*) = 0 AS children_tiles FROM cells, LATERAL quadkey_tile(q) t,
       LATERAL quadkey_children(q) WITH ORDINALITY AS k(c, ord)
 WHERE quadkey_tile(c) <> ROW(t.zoom + 1, 2 * t.x + (ord - 1)::int % 2, 2 * t.y + (ord - 1)::int / 2)::record;

-- Parents ------------------------------------------------------------------------------------

SELECT quadkey_parent('0123', 0) = '' AND quadkey_parent('0123', 2) = '01'
   AND quadkey_parent('0123', 4) = '0123' AS parent_examples;
-- Every ancestor contains the cell and is a prefix of its text.
SELECT count(*) = 0 AS every_ancestor_contains FROM cells, LATERAL generate_series(0, quadkey_zoom(q)) z
 WHERE NOT quadkey_parent(q, z) @> q OR quadkey_parent(q, z)::text <> left(q::text, z)
    OR quadkey_zoom(quadkey_parent(q, z)) <> z;
-- The parent of a tile at zoom z is the tile (x >> d, y >> d) at zoom z - d.
SELECT count(*) = 0 AS parent_tiles FROM cells, LATERAL quadkey_tile(q) t,
       LATERAL generate_series(0, t.zoom) z
 WHERE quadkey_tile(quadkey_parent(q, z)) <> ROW(z, t.x >> (t.zoom - z), t.y >> (t.zoom - z))::record;

-- Bounds and centre --------------------------------------------------------------------------

-- The world: lon -180..180, lat +-85.0511287798 (atan(sinh(pi))), centre (0, 0).
SELECT b.min_lon = -180 AND b.max_lon = 180 AND b.min_lat = -b.max_lat
   AND abs(b.max_lat - degrees(atan(sinh(pi())))) < 1e-12
   AND c.lat = 0 AND c.lon = 0 AS world_bounds
  FROM quadkey_bounds('') b, quadkey_center('') c;
-- A cell's children tile it exactly: their bounds share edges and cover the parent's.
SELECT count(*) = 0 AS children_tile_the_parent FROM cells,
       LATERAL quadkey_bounds(q) b,
       LATERAL (SELECT min(cb.min_lon) AS w, max(cb.max_lon) AS e, min(cb.min_lat) AS s, max(cb.max_lat) AS n,
                       count(DISTINCT cb.min_lon) AS nx, count(DISTINCT cb.max_lat) AS ny
                  FROM quadkey_children(q) c, LATERAL quadkey_bounds(c) cb) k
 WHERE (k.w, k.e, k.s, k.n) <> (b.min_lon, b.max_lon, b.min_lat, b.max_lat) OR k.nx <> 2 OR k.ny <> 2;
-- The centre is inside the bounds, and quadkey() of the centre is the cell again.
SELECT count(*) = 0 AS centre_inside FROM cells, LATERAL quadkey_bounds(q) b, LATERAL quadkey_center(q) c
 WHERE NOT (c.lat > b.min_lat AND c.lat < b.max_lat AND c.lon > b.min_lon AND c.lon < b.max_lon)
    OR quadkey(c.lat, c.lon, quadkey_zoom(q)) <> q;

-- Neighbours ---------------------------------------------------------------------------------

-- Against an independent computation from the tile: directions N, NE, E, SE, S, SW, W, NW
-- (y grows southwards), x taken modulo 2^zoom (wrap at the antimeridian), rows beyond the
-- poles left out, then the cell itself and repeats dropped, keeping the first occurrence.
CREATE TABLE nb_cells AS
SELECT q FROM cells
UNION SELECT quadkey_from_tile(z, x, y) FROM generate_series(0, 2) z,        -- every tile of zooms 0..2
       LATERAL generate_series(0, (2^z)::int - 1) x, LATERAL generate_series(0, (2^z)::int - 1) y
UNION SELECT quadkey_from_tile(z, x, y) FROM generate_series(0, 29) z,       -- edges and corners
       LATERAL (SELECT (2^z)::int - 1 AS m) mm,
       LATERAL (VALUES (0, 0), (m, 0), (0, m), (m, m), (0, m / 2), (m, m / 2), (m / 2, 0), (m / 2, m)) v(x, y);
CREATE TABLE nb_expected AS
SELECT q, coalesce((SELECT array_agg(c ORDER BY o) FROM (
          SELECT c, min(o) AS o FROM (
            SELECT quadkey_from_tile(t.zoom, ((t.x + d.dx) % n + n) % n, t.y + d.dy) AS c, d.o
              FROM (VALUES (1, 0, -1), (2, 1, -1), (3, 1, 0), (4, 1, 1),
                           (5, 0, 1), (6, -1, 1), (7, -1, 0), (8, -1, -1)) d(o, dx, dy)
             WHERE t.y + d.dy BETWEEN 0 AND n - 1) cand
           WHERE c <> q GROUP BY c) uniq), '{}') AS expected
  FROM nb_cells, LATERAL quadkey_tile(q) t, LATERAL (SELECT (2 ^ t.zoom)::int AS n) nn;
SELECT count(*) > 15000 AS enough_cells FROM nb_expected;
SELECT count(*) = 0 AS neighbors_match_tile_math FROM nb_expected WHERE quadkey_neighbors(q) <> expected;
SELECT q, quadkey_neighbors(q), expected FROM nb_expected WHERE quadkey_neighbors(q) <> expected LIMIT 5;
-- How many: 0 at zoom 0, 3 at zoom 1, 5 in the top and bottom rows, else 8.
SELECT count(*) = 0 AS neighbor_counts FROM nb_expected, LATERAL quadkey_tile(q) t
 WHERE cardinality(quadkey_neighbors(q)) <> CASE WHEN t.zoom = 0 THEN 0 WHEN t.zoom = 1 THEN 3
                                                 WHEN t.y = 0 OR t.y = 2^t.zoom - 1 THEN 5 ELSE 8 END;
-- Examples: a cell in the middle of level 2, and a top-left corner wrapping west.
SELECT quadkey_neighbors('03')::text[] = ARRAY['01', '10', '12', '30', '21', '20', '02', '00']
   AND quadkey_neighbors('00')::text[] = ARRAY['01', '03', '02', '13', '11']
   AND quadkey_neighbors('0')::text[] = ARRAY['1', '3', '2']
   AND quadkey_neighbors('') = '{}' AS neighbor_examples;
-- Being neighbours is symmetric.
SELECT count(*) = 0 AS neighbors_symmetric FROM nb_expected, LATERAL unnest(quadkey_neighbors(q)) nb
 WHERE NOT q = ANY (quadkey_neighbors(nb));

-- Casts --------------------------------------------------------------------------------------

SELECT '0123'::text::quadkey = '0123' AND '0123'::quadkey::text = '0123'
   AND '0123'::varchar::quadkey = '0123' AND '0123'::quadkey::varchar = '0123'
   AND quadkey('0123'::text) = '0123' AND text('0123'::quadkey) = '0123' AS text_casts;
-- Migrating a bigint quadkey column (zoom 23) keeps every value.
CREATE TABLE markers (id int PRIMARY KEY, lat float8, lon float8, qk bigint);
INSERT INTO markers
SELECT i, random() * 170 - 85, random() * 360 - 180, NULL FROM generate_series(1, 1000) i;
UPDATE markers SET qk = quadkey_to_bigint(quadkey(lat, lon, 23));
ALTER TABLE markers ALTER qk TYPE quadkey USING quadkey_from_bigint(qk, 23);
SELECT count(*) = 1000 AND bool_and(qk = quadkey(lat, lon, 23)) AS bigint_column_migrated FROM markers;

-- Min / max and DISTINCT.
SELECT min(q) = '' AND max(q) = '3' AND count(DISTINCT q) = 3
    AS min_max_distinct FROM unnest(ARRAY['3', '', '0', '3', '10']::quadkey[]) q
   WHERE q <> '10';

DROP SCHEMA quadkey_test CASCADE;
RESET search_path;
SELECT 'quadkey done' AS done;
