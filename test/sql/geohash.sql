-- The geohash type: values, accessors, children, parents, neighbours, zoom -> precision,
-- casts and the migration of a varchar(12) geohash column.
-- (The PostGIS oracle is in types_oracle_postgis.sql, order and containment over 1M random
-- pairs in types_order.sql, indexes in types_index.sql, bad input in types_bad_input.sql.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset tuples_only on
\pset null '(null)'
DROP SCHEMA IF EXISTS geohash_test CASCADE;
CREATE SCHEMA geohash_test;
SET search_path = geohash_test, public;

-- Values -----------------------------------------------------------------------------------

-- '' is the whole world, precision 0.
SELECT ''::geohash::text = '' AND geohash_precision('') = 0 AND geohash(-12.5, 99.75, 0) = ''
    AS world_is_empty_text;
-- The worked example of src/core/geohash.hpp: "u4" is lon 0..11.25, lat 56.25..61.875.
SELECT b = ROW(56.25::float8, 0::float8, 61.875::float8, 11.25::float8)::record AS u4_bounds
  FROM geohash_bounds('u4') b;
-- Input is case-insensitive, output lower case; every character of the alphabet is accepted.
SELECT 'U4PRUYDQQVJ'::geohash::text = 'u4pruydqqvj' AND 'U4'::geohash = 'u4'
   AND (SELECT bool_and(c::geohash::text = c AND upper(c)::geohash::text = c)
          FROM regexp_split_to_table('0123456789bcdefghjkmnpqrstuvwxyz', '') c) AS case_and_alphabet;
SELECT typlen = 8 AND typbyval AND typalign = 'd' AS eight_bytes_by_value
  FROM pg_type WHERE typname = 'geohash';
SELECT pg_column_size('u4pruydqqvjn'::geohash) = 8 AS stored_in_8_bytes;

-- Children -----------------------------------------------------------------------------------

SELECT setseed(0.41) \g /dev/null
CREATE TABLE cells AS   -- 20k random cells of precision 0..11, without repeats
SELECT DISTINCT geohash(random() * 180 - 90, random() * 360 - 180, i % 12) AS g
  FROM generate_series(1, 20000) i;
-- 32 children in ascending order, the parent's text plus one character of the alphabet in
-- alphabet order, each inside the parent.
SELECT count(*) = 0 AS children_are_32_ordered_and_inside FROM (
  SELECT g, array_agg(c ORDER BY ord) AS cs, array_agg(c::text ORDER BY ord) AS ts,
         bool_and(c <@ g AND g @> c AND c <> g AND geohash_parent(c, geohash_precision(g)) = g
                  AND geohash_precision(c) = geohash_precision(g) + 1) AS inside
    FROM cells, LATERAL geohash_children(g) WITH ORDINALITY AS k(c, ord)
   GROUP BY g) s
 WHERE NOT inside OR cardinality(cs) <> 32
    OR ts <> (SELECT array_agg(g::text || ch ORDER BY n)
                FROM regexp_split_to_table('0123456789bcdefghjkmnpqrstuvwxyz', '') WITH ORDINALITY a(ch, n))
    OR EXISTS (SELECT FROM generate_series(1, 31) i WHERE NOT cs[i] < cs[i + 1]);
-- The children tile the parent: together they cover its bounds exactly (4 x 8 or 8 x 4).
SELECT count(*) = 0 AS children_tile_the_parent FROM cells,
       LATERAL geohash_bounds(g) b,
       LATERAL (SELECT min(cb.min_lon) AS w, max(cb.max_lon) AS e, min(cb.min_lat) AS s, max(cb.max_lat) AS n,
                       count(DISTINCT cb.min_lon) * count(DISTINCT cb.min_lat) AS grid,
                       sum((cb.max_lon - cb.min_lon) * (cb.max_lat - cb.min_lat)) AS area
                  FROM geohash_children(g) c, LATERAL geohash_bounds(c) cb) k
 WHERE (k.w, k.e, k.s, k.n) <> (b.min_lon, b.max_lon, b.min_lat, b.max_lat) OR k.grid <> 32
    OR k.area <> (b.max_lon - b.min_lon) * (b.max_lat - b.min_lat);

-- Parents ------------------------------------------------------------------------------------

SELECT geohash_parent('u4pruydqqvj', 0) = '' AND geohash_parent('u4pruydqqvj', 2) = 'u4'
   AND geohash_parent('u4pruydqqvj', 11) = 'u4pruydqqvj' AS parent_examples;
SELECT count(*) = 0 AS every_ancestor_contains FROM cells, LATERAL generate_series(0, geohash_precision(g)) p
 WHERE NOT geohash_parent(g, p) @> g OR geohash_parent(g, p)::text <> left(g::text, p)
    OR geohash_precision(geohash_parent(g, p)) <> p;
-- An ancestor's bounds contain the cell's.
SELECT count(*) = 0 AS ancestor_bounds_contain FROM cells, LATERAL generate_series(0, geohash_precision(g)) p,
       LATERAL geohash_bounds(g) b, LATERAL geohash_bounds(geohash_parent(g, p)) pb
 WHERE NOT (pb.min_lon <= b.min_lon AND b.max_lon <= pb.max_lon
            AND pb.min_lat <= b.min_lat AND b.max_lat <= pb.max_lat);

-- Neighbours ---------------------------------------------------------------------------------

-- Against an independent computation from the bounds: step one cell width / height from the
-- centre in the directions N, NE, E, SE, S, SW, W, NW, wrap the longitude into -180..180,
-- leave out steps beyond a pole, and take geohash() of that point; then drop the cell itself
-- and repeats, keeping the first occurrence. The centres are exact dyadic values.
CREATE TABLE nb_cells AS
SELECT g FROM cells
UNION SELECT geohash(lat, lon, p)                                    -- cells at the poles and the antimeridian
        FROM generate_series(1, 12) p,
             unnest(ARRAY[-90, 90, 0, -45, 45, 89.9, -89.9]::float8[]) lat,
             unnest(ARRAY[-180, 180, 0, 179.9, -179.9]::float8[]) lon
UNION SELECT c FROM geohash_children('') c;                          -- every precision-1 cell
CREATE TABLE nb_expected AS
SELECT g, coalesce((SELECT array_agg(c ORDER BY o) FROM (
          SELECT c, min(o) AS o FROM (
            SELECT geohash(ctr.lat + d.dlat * h, lon_wrapped, geohash_precision(g)) AS c, d.o
              FROM (VALUES (1, 0, 1), (2, 1, 1), (3, 1, 0), (4, 1, -1),
                           (5, 0, -1), (6, -1, -1), (7, -1, 0), (8, -1, 1)) d(o, dlon, dlat),
                   LATERAL (SELECT ctr.lon + d.dlon * w AS lon_raw) r,
                   LATERAL (SELECT CASE WHEN lon_raw > 180 THEN lon_raw - 360
                                        WHEN lon_raw < -180 THEN lon_raw + 360
                                        ELSE lon_raw END AS lon_wrapped) lw
             WHERE ctr.lat + d.dlat * h BETWEEN -90 AND 90) cand
           WHERE c <> g GROUP BY c) uniq), '{}') AS expected
  FROM nb_cells, LATERAL geohash_center(g) ctr, LATERAL geohash_bounds(g) b,
       LATERAL (SELECT b.max_lon - b.min_lon AS w, b.max_lat - b.min_lat AS h) wh;
SELECT count(*) > 15000 AS enough_cells FROM nb_expected;
SELECT count(*) = 0 AS neighbors_match_bounds_math FROM nb_expected WHERE geohash_neighbors(g) <> expected;
SELECT g, geohash_neighbors(g), expected FROM nb_expected WHERE geohash_neighbors(g) <> expected LIMIT 5;
-- How many: 0 at precision 0, 5 next to a pole, else 8.
SELECT count(*) = 0 AS neighbor_counts FROM nb_expected, LATERAL geohash_bounds(g) b
 WHERE cardinality(geohash_neighbors(g)) <> CASE WHEN g = '' THEN 0
                                                 WHEN b.max_lat = 90 OR b.min_lat = -90 THEN 5 ELSE 8 END;
-- Examples (worked out by hand from the bit layout): around "u4"; "s" at (0, 0); "b" at the
-- north-west corner, wrapping west to "z" and "x"; "0" at the south-west corner.
SELECT geohash_neighbors('u4')::text[] = ARRAY['u5', 'u7', 'u6', 'u3', 'u1', 'gc', 'gf', 'gg']
   AND geohash_neighbors('s')::text[] = ARRAY['u', 'v', 't', 'm', 'k', '7', 'e', 'g']
   AND geohash_neighbors('b')::text[] = ARRAY['c', '9', '8', 'x', 'z']
   AND geohash_neighbors('0')::text[] = ARRAY['2', '3', '1', 'p', 'r']
   AND geohash_neighbors('') = '{}' AS neighbor_examples;
SELECT count(*) = 0 AS neighbors_symmetric FROM nb_expected, LATERAL unnest(geohash_neighbors(g)) nb
 WHERE NOT g = ANY (geohash_neighbors(nb));

-- Zoom -> precision ---------------------------------------------------------------------------

-- The geohash-prefix recipe's exponential fit through (zoom 0, precision 1) and (zoom 17, precision 12),
-- truncated and clamped to 1..12, computed here in SQL for every zoom 0..29.
SELECT count(*) = 30 AS precision_for_zoom_is_the_formula
  FROM generate_series(0, 29) z
 WHERE geohash_precision_for_zoom(z) = greatest(1, least(12, trunc(exp(ln(12::float8) / 17 * z))))::int;
SELECT array_agg(geohash_precision_for_zoom(z) ORDER BY z)
     = '{1,1,1,1,1,2,2,2,3,3,4,4,5,6,7,8,10,12,12,12,12,12,12,12,12,12,12,12,12,12}'
    AS precision_for_zoom_table FROM generate_series(0, 29) z;

-- Casts and the varchar(12) migration ---------------------------------------------------------

SELECT 'u4pr'::text::geohash = 'u4pr' AND 'u4pr'::geohash::text = 'u4pr'
   AND 'U4PR'::varchar::geohash = 'u4pr' AND 'u4pr'::geohash::varchar = 'u4pr'
   AND 'u4pr'::varchar(12)::geohash = 'u4pr' AND geohash('u4pr'::text) = 'u4pr'
   AND text('u4pr'::geohash) = 'u4pr' AS text_casts;
-- A varchar(12) geohash column (the usual schema) becomes a geohash column in place, keeping every
-- value (read back as text) and its NULLs; its plain index is rebuilt with geohash_ops.
CREATE TABLE places (id int PRIMARY KEY, lat float8, lon float8, gh varchar(12));
INSERT INTO places
SELECT i, random() * 180 - 90, random() * 360 - 180, NULL FROM generate_series(1, 2000) i;
UPDATE places SET gh = geohash(lat, lon, 1 + id % 12)::text WHERE id % 10 <> 0;
CREATE INDEX places_gh ON places (gh);
CREATE TABLE places_before AS SELECT id, gh FROM places;
ALTER TABLE places ALTER gh TYPE geohash USING gh::geohash;
SELECT atttypid = 'geohash'::regtype AS column_is_geohash FROM pg_attribute
 WHERE attrelid = 'places'::regclass AND attname = 'gh';
SELECT count(*) = 2000 AND count(*) FILTER (WHERE p.gh IS NULL) = 200
   AND bool_and(p.gh::text IS NOT DISTINCT FROM b.gh) AS values_kept
  FROM places p JOIN places_before b USING (id);
SELECT opcname = 'geohash_ops' AS index_rebuilt_with_geohash_ops
  FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
 WHERE i.indexrelid = 'places_gh'::regclass;
SELECT count(*) = 0 AS migrated_cells_contain_points FROM places, LATERAL geohash_bounds(gh) b
 WHERE gh IS NOT NULL AND NOT (lat BETWEEN b.min_lat AND b.max_lat AND lon BETWEEN b.min_lon AND b.max_lon);

DROP SCHEMA geohash_test CASCADE;
RESET search_path;
SELECT 'geohash done' AS done;
