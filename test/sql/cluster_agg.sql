-- cluster_agg at the SQL level: the result type, degenerate inputs, errors and their SQLSTATEs,
-- ids, order, the antimeridian and the poles, GROUP BY, unnest, cluster_geojson, and quadkey /
-- geohash positions. The engine's guarantees over random data are property-tested in
-- test/integration/cluster_properties.sh; parallel plans and malformed states are in
-- cluster_agg_parallel, memory in cluster_agg_memory.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

-- The SQLSTATE a statement raises ('ok' when it raises none), so that the expected file shows
-- error classes rather than message wording.
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- Markers: three categories, ids 1..3000, 3000 distinct deterministic positions in Paris.
CREATE TEMP TABLE markers AS
SELECT g::bigint AS id, (ARRAY['cafe', 'shop', 'park'])[1 + g % 3] AS category,
       (48.80 + (g * 7919 % 3001) / 15000.0)::float8 AS lat, (2.25 + (g * 104729 % 3001) / 12000.0)::float8 AS lon
  FROM generate_series(1, 3000) g;

-- ---- result type ----------------------------------------------------------------------------
-- The array elements are marker_cluster rows; unnest gives plain columns.
SELECT * FROM unnest((SELECT cluster_agg(lat, lon, 12) FROM markers WHERE category = 'cafe')) \gdesc
SELECT count(*) > 1 AS several_clusters, sum(count) = 1000 AS all_counted
  FROM unnest((SELECT cluster_agg(lat, lon, 12) FROM markers WHERE category = 'cafe'));
-- A worked example with exact values: two markers on the equator 10 px apart at zoom 0 and a
-- third one far away. (lat 0 is y = 0.5 and lon 0 is x = 0.5 exactly, so the centres are exact.)
SELECT * FROM unnest((SELECT cluster_agg(lat, lon, 0, 60, id)
                        FROM (VALUES (0.0, -7.03125, 1), (0.0, 7.03125, 2), (0.0, 135.0, 3)) v(lat, lon, id)));

-- ---- degenerate inputs ------------------------------------------------------------------------
-- No rows: an empty array, not NULL.
SELECT cluster_agg(lat, lon, 10) = '{}' AND cluster_agg(lat, lon, 10) IS NOT NULL AS empty_array
  FROM markers WHERE false;
-- (The state of no rows, though, is NULL, like array_agg's; and so are its clusters.)
SELECT cluster_state_agg(lat, lon, 10, 60, id) IS NULL AS no_state,
       cluster_state_clusters(cluster_state_agg(lat, lon, 10, 60, id)) IS NULL AS no_clusters
  FROM markers WHERE false;
SELECT cluster_agg(lat, lon, 10, 60, id) = '{}' AS empty_array_with_ids FROM markers WHERE false;
SELECT cluster_geojson(cluster_agg(lat, lon, 10)) FROM markers WHERE false;
-- Only rows without a position: also an empty array.
SELECT cluster_agg(lat, lon, 10) = '{}' AS null_positions_only
  FROM (VALUES (NULL::float8, 1.0::float8), (1.0, NULL), (NULL, NULL)) v(lat, lon);

-- One row: one cluster, its own position, bounds and id.
SELECT c.count = 1 AS one, c.min_lat = 48.85 AND c.max_lat = 48.85 AND c.min_lon = 2.35 AND c.max_lon = 2.35 AS bounds,
       abs(c.lat - 48.85) < 1e-12 AND abs(c.lon - 2.35) < 1e-12 AS centre, c.id = 42 AS id
  FROM unnest((SELECT cluster_agg(48.85, 2.35, 15, 60, 42::bigint))) c;
SELECT count(*) = 1 AS one_cluster_for_one_row FROM unnest((SELECT cluster_agg(48.85, 2.35, 15)));

-- Rows with a NULL lat or lon are ignored, ids included (the smallest id is on such a row).
SELECT c.count = 3 AS three, c.id = 10 AS smallest_id_with_a_position
  FROM unnest((SELECT cluster_agg(lat, lon, 5, 60, id)
                 FROM (VALUES (48.85, 2.35, 10), (48.851, 2.351, 11), (48.852, 2.352, 12),
                              (NULL, 2.35, 1), (48.85, NULL, 2)) v(lat, lon, id))) c;

-- NULL ids: a cluster whose members have no id has id NULL; otherwise the smallest non-NULL id.
SELECT c.id IS NULL AS no_id FROM unnest((SELECT cluster_agg(48.85, 2.35, 15, 60, NULL::bigint))) c;
SELECT array_agg(c.id ORDER BY c.count DESC) AS ids
  FROM unnest((SELECT cluster_agg(lat, lon, 5, 60, id)
                 FROM (VALUES (10.0, 10.0, NULL), (10.001, 10.001, NULL), (10.002, 10.0, 7),
                              (-30.0, -30.0, NULL), (-30.001, -30.0, NULL)) v(lat, lon, id))) c;
-- Without an id column the id is NULL everywhere.
SELECT bool_and(c.id IS NULL) AS ids_null_without_id_column
  FROM unnest((SELECT cluster_agg(lat, lon, 14, 40) FROM markers)) c;
-- With ids, a single marker keeps its own id and a cluster gets its smallest member id. SQL
-- sees the members of a cluster whose box holds exactly `count` markers (members lie in their
-- box): there the id must be the smallest id in the box.
SELECT count(*) FILTER (WHERE b.n = c.count) >= 5 AS several_observable,
       bool_and(c.id = b.min_id) FILTER (WHERE b.n = c.count) AS id_is_smallest_member_id
  FROM unnest((SELECT cluster_agg(lat, lon, 13, 60, id) FROM markers)) c
  CROSS JOIN LATERAL (SELECT count(*) AS n, min(m.id) AS min_id FROM markers m
                       WHERE m.lat BETWEEN c.min_lat AND c.max_lat AND m.lon BETWEEN c.min_lon AND c.max_lon) b;

-- ---- errors -------------------------------------------------------------------------------------
-- zoom outside 0..29 -> 22003; radius <= 0, NaN or infinite -> 22023; NULL zoom or radius -> 22004;
-- a position out of range or not finite -> 22003; zoom or radius changing within a group -> 22023.
SELECT q, pg_temp.sqlstate_of(q) FROM (VALUES
  ('SELECT cluster_agg(lat, lon, -1) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 30) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 2147483647) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 29) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 0) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, 0) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, -0.0) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, -5) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, ''NaN'') FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, ''Infinity'') FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, ''-Infinity'') FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, 1e-300) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, 1e300) FROM markers'),
  ('SELECT cluster_agg(lat, lon, NULL) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, NULL) FROM markers'),
  ('SELECT cluster_agg(90.5, 0, 10)'),
  ('SELECT cluster_agg(0, -180.5, 10)'),
  ('SELECT cluster_agg(''NaN'', 0, 10)'),
  ('SELECT cluster_agg(0, ''Infinity'', 10)'),
  ('SELECT cluster_agg(90, 180, 10)'),
  ('SELECT cluster_agg(-90, -180, 10)'),
  ('SELECT cluster_agg(lat, lon, (id % 2)::int) FROM markers'),
  ('SELECT cluster_agg(lat, lon, 10, (id % 2 + 1)::float8) FROM markers'),
  ('SELECT cluster_state_agg(lat, lon, 30, 60, id) FROM markers'),
  ('SELECT cluster_agg(quadkey(lat, lon, 20), 30) FROM markers'),
  ('SELECT cluster_agg(geohash(lat, lon, 9), 10, 0) FROM markers')) v(q);
-- Zooms may differ between groups, just not within one.
SELECT count(*) = 3 AS zoom_per_group_is_fine
  FROM (SELECT z, cluster_agg(lat, lon, z) FROM markers, (VALUES (3), (9), (15)) v(z) GROUP BY z) g;
-- The messages say what is wrong and with which value.
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT cluster_agg(lat, lon, 30) FROM markers;
SELECT cluster_agg(lat, lon, 10, 'NaN') FROM markers;
SELECT cluster_agg(lat, lon, (id % 2)::int) FROM markers;
SELECT cluster_agg(95, 0, 10);
\set ON_ERROR_STOP 1
-- The session goes on.
SELECT 'alive' AS still_alive;

-- ---- order, antimeridian, poles -------------------------------------------------------------------
-- Count descending; equal counts: north first, then west first.
SELECT array_agg(format('%s@(%s,%s)', c.count, round(c.lat::numeric, 6), round(c.lon::numeric, 6)) ORDER BY o) AS clusters
  FROM unnest((SELECT cluster_agg(lat, lon, 4)
                 FROM (VALUES (10.0, 50.0), (10.0, -50.0), (-10.0, 0.0), (40.0, 0.0),
                              (-60.0, 100.0), (-60.0, 100.0), (-60.0, 100.0)) v(lat, lon)))
       WITH ORDINALITY c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, o);

-- Markers on both sides of 180 degrees form one cluster whose box crosses the antimeridian
-- (min_lon > max_lon, RFC 7946) and whose centre is between them, not at lon 0.
SELECT c.count = 4 AS one_cluster, c.min_lon = 179.9 AND c.max_lon = -179.8 AS crossing_box,
       c.min_lat = -0.1 AND c.max_lat = 0.2 AS lat_bounds,
       abs(abs(c.lon) - 180) < 0.2 AS centre_near_180,
       abs(c.lon - (-179.975)) < 1e-9 AS centre_is_mean
  FROM unnest((SELECT cluster_agg(lat, lon, 3)
                 FROM (VALUES (0.0, 179.9), (0.1, 179.95), (0.2, -179.95), (-0.1, -179.8)) v(lat, lon))) c;
-- lon 180 and lon -180 are the same meridian.
SELECT c.count = 2 AS same_place, c.min_lon = 180 AND c.max_lon = -180 AS crossing_box,
       abs(abs(c.lon) - 180) < 1e-9 AS centre_on_180
  FROM unnest((SELECT cluster_agg(lat, lon, 20) FROM (VALUES (0.0, 180.0), (0.0, -180.0)) v(lat, lon))) c;
-- Two markers 1 px apart across the antimeridian at zoom 29 are one cluster at radius 2 px...
SELECT count(*) AS clusters
  FROM unnest((SELECT cluster_agg(0, lon, 29, 2) FROM (VALUES (180 - 0.5 * 360 / 2.0 ^ 37), (-180 + 0.5 * 360 / 2.0 ^ 37)) v(lon)));
-- ...and 3 px apart they are not within 2 px.
SELECT count(*) AS clusters
  FROM unnest((SELECT cluster_agg(0, lon, 29, 2) FROM (VALUES (180 - 1.5 * 360 / 2.0 ^ 37), (-180 + 1.5 * 360 / 2.0 ^ 37)) v(lon)));

-- Web Mercator ends at +-85.05112878 degrees: markers beyond count at the edge for the centre,
-- and the bounds keep their true latitudes.
SELECT c.count = 4 AS all_counted, c.max_lat = 90 AND c.min_lat = 85.06 AS true_bounds,
       abs(c.lat - 85.0511287798066) < 1e-9 AS centre_on_the_edge
  FROM unnest((SELECT cluster_agg(lat, lon, 2)
                 FROM (VALUES (90.0, 10.0), (89.0, 10.0), (85.06, 10.0), (87.0, 10.0)) v(lat, lon))) c;
SELECT count(*) AS clusters, sum(count) AS markers
  FROM unnest((SELECT cluster_agg(lat, 0, 0, 1) FROM (VALUES (90.0), (-90.0), (85.1), (-85.1)) v(lat)));

-- ---- GROUP BY and unnest ----------------------------------------------------------------------
-- Each category is clustered on its own: the same result as running the category alone.
SELECT count(*) AS categories,
       bool_and(g.c::text = (SELECT cluster_agg(m.lat, m.lon, 13, 50, m.id)::text FROM markers m
                             WHERE m.category = g.category)) AS same_as_alone
  FROM (SELECT category, cluster_agg(lat, lon, 13, 50, id) AS c FROM markers GROUP BY category) g;
-- The common query shape: clusters of a viewport as plain rows.
SELECT count(*) > 0 AS rows_out, sum(count) = (SELECT count(*) FROM markers WHERE lat BETWEEN 48.8 AND 48.9
                                                                    AND lon BETWEEN 2.25 AND 2.4) AS viewport_counted
  FROM unnest((SELECT cluster_agg(lat, lon, 14, 60, id) FROM markers
                WHERE lat BETWEEN 48.8 AND 48.9 AND lon BETWEEN 2.25 AND 2.4));
SELECT count(*) = sum(count) AS zoom_29_separates_every_marker
  FROM unnest((SELECT cluster_agg(lat, lon, 29, 1) FROM markers));
SELECT count(*) AS clusters_at_zoom_0 FROM unnest((SELECT cluster_agg(lat, lon, 0) FROM markers));

-- ---- cluster_geojson ------------------------------------------------------------------------------
-- supercluster's point_count_abbreviated: below 1000 the count, below 10000 one decimal and
-- 'k' (no trailing .0), else rounded thousands and 'k'.
SELECT n, cluster_point_count_abbreviated(n)
  FROM unnest(ARRAY[0, 1, 999, 1000, 1049, 1050, 1234, 1500, 9949, 9950, 9999, 10000, 10499,
                    10500, 12345, 123456, 999499, 999500, 1234567]::bigint[]) n;
-- The same rule written the way supercluster (JavaScript) computes it, Math.round(v) being
-- floor(v + 0.5) and a number printed in its shortest form, over every count up to 200,000.
SELECT bool_and(cluster_point_count_abbreviated(n) = CASE
         WHEN n >= 10000 THEN floor(n / 1000.0::float8 + 0.5)::text || 'k'
         WHEN n >= 1000 THEN (floor(n / 100.0::float8 + 0.5) / 10)::text || 'k'
         ELSE n::text END) AS same_as_supercluster
  FROM generate_series(0::bigint, 200000) n;
-- An exact example (a hand-made array): a cluster with an id, a single marker without one, a
-- cluster across the antimeridian, a single marker with an id.
SELECT jsonb_pretty(cluster_geojson(ARRAY[
         ROW(1234, 48.5, 2.5, 48.0, 2.0, 49.0, 3.0, 7)::marker_cluster,
         ROW(1, -33.5, 179.5, -33.5, 179.5, -33.5, 179.5, NULL)::marker_cluster,
         ROW(2, 0.25, -179.75, 0.0, 179.5, 0.5, -179.0, 3)::marker_cluster,
         ROW(1, 30.1, -97.99999999999997, 30.1, -98.0, 30.1, -98.0, 60)::marker_cluster]));
-- Empty array: an empty FeatureCollection.
SELECT cluster_geojson('{}'::marker_cluster[]);
-- Over real clusters: a valid FeatureCollection (RFC 7946) that matches the array feature by
-- feature, in order; clusters shaped as supercluster's (cluster, cluster_id, point_count,
-- point_count_abbreviated: a number below 1000, text from 1000 on), single markers as input
-- points (their id, their exact position, no cluster property, so that MapLibre's
-- ['has', 'point_count'] filter does not take them for clusters). Zooms 9 and 14 give both kinds and
-- counts over 1000.
WITH a AS (SELECT cluster_agg(lat, lon, z, 60, id) AS c FROM markers, (VALUES (9), (14)) v(z) GROUP BY z),
     f AS (SELECT e.f, u.* FROM a,
                  jsonb_array_elements(cluster_geojson(a.c) -> 'features') WITH ORDINALITY e(f, o)
             JOIN unnest(a.c) WITH ORDINALITY u(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, uo)
               ON u.uo = e.o),
     k AS (SELECT f.*, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(f -> 'properties') k) AS keys FROM f)
SELECT (SELECT bool_and(jsonb_array_length(cluster_geojson(c) -> 'features') = cardinality(c)) FROM a) AS one_feature_each,
       count(*) FILTER (WHERE count = 1) > 10 AND count(*) FILTER (WHERE count > 1000) > 0 AS both_kinds,
       bool_and(f ->> 'type' = 'Feature' AND f -> 'geometry' ->> 'type' = 'Point'
                AND jsonb_array_length(f -> 'geometry' -> 'coordinates') = 2) AS point_geometries,
       bool_and(f -> 'geometry' -> 'coordinates' = jsonb_build_array(lon, lat)
                AND f -> 'bbox' = jsonb_build_array(min_lon, min_lat, max_lon, max_lat)
                AND keys = ARRAY['cluster', 'cluster_id', 'point_count', 'point_count_abbreviated']
                AND f -> 'properties' -> 'cluster' = 'true'
                AND f -> 'properties' -> 'cluster_id' = to_jsonb(id)
                AND f -> 'properties' -> 'point_count' = to_jsonb(count)
                AND f -> 'properties' -> 'point_count_abbreviated' = CASE WHEN count < 1000 THEN to_jsonb(count)
                    ELSE to_jsonb(cluster_point_count_abbreviated(count)) END
                AND f -> 'id' = to_jsonb(cluster_feature_id(count, min_lat, min_lon, max_lat, max_lon, id)))
           FILTER (WHERE count > 1) AS clusters,
       bool_and(f -> 'geometry' -> 'coordinates' = jsonb_build_array(min_lon, min_lat)
                AND f -> 'id' = to_jsonb(id) AND f -> 'properties' = '{}' AND NOT f ? 'bbox')
           FILTER (WHERE count = 1) AS single_markers
  FROM k;
-- A single marker comes back where it is stored, not at its Mercator round trip.
SELECT cluster_geojson(cluster_agg(30.1, -98.0, 10, 60, 60::bigint)) -> 'features' -> 0 -> 'geometry'
       AS exact_position;
-- Top-level ids: every feature has one, distinct; markers' are their ids (below 2^52), clusters'
-- lie in [2^52, 2^53) (integers that JavaScript holds exactly), so no id names both a cluster
-- and a marker, in this response or any other.
SELECT count(*) FILTER (WHERE f ? 'id') = count(*)
       AND count(DISTINCT f -> 'id') = count(*)
       AND bool_and((f ->> 'id')::bigint < 4503599627370496) FILTER (WHERE f -> 'properties' = '{}')
       AND bool_and((f ->> 'id')::bigint >= 4503599627370496 AND (f ->> 'id')::bigint < 9007199254740992)
           FILTER (WHERE f -> 'properties' ? 'point_count')
       AND count(*) FILTER (WHERE f -> 'properties' = '{}') > 10 AND count(*) FILTER (WHERE f ? 'bbox') > 10
       AS ids_are_markers
  FROM jsonb_array_elements(cluster_geojson((SELECT cluster_agg(lat, lon, 14, 60, id) FROM markers)) -> 'features') f;
-- The same members give the same cluster id, whatever the query around them: here the rows in
-- two orders.
WITH a AS (SELECT cluster_geojson(cluster_agg(lat, lon, 11, 60, id ORDER BY id)) AS j FROM markers),
     b AS (SELECT cluster_geojson(cluster_agg(lat, lon, 11, 60, id ORDER BY id DESC)) AS j FROM markers)
SELECT a.j = b.j AS same_ids FROM a, b;
-- A marker id outside [0, 2^52) is no top-level id: above lie the clusters', below zero vector
-- tiles have none.
SELECT cluster_marker_feature_id('-1'::bigint) AS minus_one, cluster_marker_feature_id(0) AS zero,
       cluster_marker_feature_id(4503599627370495) AS below_2_52, cluster_marker_feature_id(4503599627370496) AS at_2_52;
SELECT jsonb_path_query_array(cluster_geojson(ARRAY[ROW(1, 1, 2, 1, 2, 1, 2, -5)::marker_cluster,
                                                    ROW(1, 1, 2, 1, 2, 1, 2, 4503599627370496)::marker_cluster,
                                                    ROW(1, 1, 2, 1, 2, 1, 2, 5)::marker_cluster]),
                              '$.features[*].id') AS top_level_ids;
-- A Feature's id must be a string or a number (RFC 7946 3.2): without an id there is none, and
-- a cluster without ids has no cluster_id.
SELECT NOT (j -> 'features' -> 0 ? 'id') AND j -> 'features' -> 0 -> 'properties' = '{}'
       AND NOT (j -> 'features' -> 1 -> 'properties' ? 'cluster_id') AS no_null_ids
  FROM cluster_geojson(ARRAY[ROW(1, 0, 0, 0, 0, 0, 0, NULL)::marker_cluster,
                             ROW(2, 0, 0, 0, 0, 0, 0, NULL)::marker_cluster]) j;
-- A NULL array gives NULL (the function is STRICT).
SELECT cluster_geojson(NULL) IS NULL AS null_in_null_out;

-- Single markers' own columns, in the same query: the ids of the single markers are looked up
-- by primary key (one index probe each, never a second scan of the viewport) into an object
-- keyed by id, which cluster_geojson puts in their features. A marker missing from it gets {}.
CREATE TEMP TABLE named AS SELECT id, lat, lon, 'marker ' || id AS name FROM markers;
ALTER TABLE named ADD PRIMARY KEY (id);
ANALYZE named;
WITH g AS (
    WITH c AS (SELECT cluster_agg(lat, lon, 14, 60, id) AS clusters FROM named
                WHERE lat BETWEEN 48.80 AND 49.00 AND lon BETWEEN 2.25 AND 2.50)
    SELECT cluster_geojson(c.clusters, (
             SELECT jsonb_object_agg(m.id, jsonb_build_object('name', m.name, 'url', '/m/' || m.id))
               FROM named m WHERE m.id IN (SELECT s.id FROM unnest(c.clusters) s WHERE s.count = 1))) AS j
      FROM c),
     f AS (SELECT e.f FROM g, jsonb_array_elements(g.j -> 'features') e(f))
SELECT count(*) FILTER (WHERE NOT f ? 'bbox') > 10 AS several_single_markers,
       bool_and(f -> 'properties' = jsonb_build_object('name', 'marker ' || (f ->> 'id'), 'url', '/m/' || (f ->> 'id')))
           FILTER (WHERE NOT f ? 'bbox') AS their_own_properties,
       bool_and(f -> 'properties' ? 'point_count' AND NOT f -> 'properties' ? 'name')
           FILTER (WHERE f ? 'bbox') AS clusters_unchanged
  FROM f;
-- No single marker in the box: the lookup is NULL, and so is a missing key: {} for each.
SELECT cluster_geojson(ARRAY[ROW(1, 1, 1, 1, 1, 1, 1, 5)::marker_cluster], NULL) -> 'features' -> 0 -> 'properties'
       AS null_lookup,
       cluster_geojson(ARRAY[ROW(1, 1, 1, 1, 1, 1, 1, 5)::marker_cluster], '{"6": {"name": "x"}}') -> 'features' -> 0 -> 'properties'
       AS missing_key,
       cluster_geojson(NULL, '{}') IS NULL AS null_clusters;

-- ---- quadkey and geohash positions --------------------------------------------------------------
-- Each position stands for its cell's centre. At level 29 (quadkey) or precision 12 (geohash)
-- a cell is centimetres wide, so at a coarse zoom the clusters are those of lat/lon: the same
-- counts in the same order, centres within the cell-centre precision (half a level-29 cell is
-- 2^-30 world widths; a precision-12 geohash centre is within 1.7e-7 degrees of the point).
WITH ll AS (SELECT u.* FROM unnest((SELECT cluster_agg(lat, lon, 11, 60, id) FROM markers))
                             WITH ORDINALITY u(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, o)),
     qk AS (SELECT u.* FROM unnest((SELECT cluster_agg(quadkey(lat, lon, 29), 11, 60, id) FROM markers))
                             WITH ORDINALITY u(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, o)),
     gh AS (SELECT u.* FROM unnest((SELECT cluster_agg(geohash(lat, lon, 12), 11, 60, id) FROM markers))
                             WITH ORDINALITY u(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, o))
SELECT (SELECT count(*) FROM ll) > 5 AS several_clusters,
       (SELECT array_agg(count ORDER BY o) FROM ll) = (SELECT array_agg(count ORDER BY o) FROM qk) AS quadkey_same_counts,
       (SELECT array_agg(id ORDER BY o) FROM ll) = (SELECT array_agg(id ORDER BY o) FROM qk) AS quadkey_same_ids,
       (SELECT bool_and(abs(ll.lon - qk.lon) <= 360 * 2.0 ^ -30 + 1e-12
                        AND abs(ll.lat - qk.lat) <= 360 * 2.0 ^ -30 + 1e-12) FROM ll JOIN qk USING (o)) AS quadkey_centres_close,
       (SELECT array_agg(count ORDER BY o) FROM ll) = (SELECT array_agg(count ORDER BY o) FROM gh) AS geohash_same_counts,
       (SELECT bool_and(abs(ll.lon - gh.lon) <= 180 * 2.0 ^ -30 + 1e-12 AND abs(ll.lat - gh.lat) <= 90 * 2.0 ^ -30 + 1e-12)
          FROM ll JOIN gh USING (o)) AS geohash_centres_close;
-- A quadkey's marker is at its cell's exact Mercator centre; bounds are the centres' lat/lon.
SELECT c.count = 1 AS one, abs(c.lat - q.lat) < 1e-12 AND abs(c.lon - q.lon) < 1e-12 AS at_cell_centre,
       c.min_lat = q.lat AND c.min_lon = q.lon AS bounds_at_centre
  FROM unnest((SELECT cluster_agg(quadkey('120'), 10))) c, quadkey_center(quadkey('120')) q;
SELECT c.count = 1 AS one, c.min_lat = g.lat AND c.min_lon = g.lon AS bounds_at_centre,
       abs(c.lat - g.lat) < 1e-9 AND abs(c.lon - g.lon) < 1e-9 AS at_cell_centre
  FROM unnest((SELECT cluster_agg(geohash('u09tv'), 10))) c, geohash_center(geohash('u09tv')) g;
-- Cells of different levels mix; NULL positions are ignored; the level-0 cell is the world's centre.
SELECT sum(c.count) AS markers
  FROM unnest((SELECT cluster_agg(q, 3) FROM (VALUES (quadkey('')), (quadkey('0')), (quadkey('0123')),
                                                     (NULL::quadkey), (quadkey('33333'))) v(q))) c;
SELECT c.lat = 0 AND c.lon = 0 AS world_centre FROM unnest((SELECT cluster_agg(quadkey(''), 0))) c;
SELECT sum(c.count) AS markers
  FROM unnest((SELECT cluster_agg(g, 3, 40, 5) FROM (VALUES (geohash('u')), (geohash('u09')), (NULL::geohash),
                                                            (geohash('zzzzzzzzzzzz'))) v(g))) c;
-- Cells on both sides of the antimeridian cluster across it, as lat/lon markers do.
SELECT c.count = 2 AS one_cluster, c.min_lon > c.max_lon AS crossing_box
  FROM unnest((SELECT cluster_agg(quadkey(0, lon, 29), 3) FROM (VALUES (179.99), (-179.99)) v(lon))) c;
SELECT c.count = 2 AS one_cluster, c.min_lon > c.max_lon AS crossing_box
  FROM unnest((SELECT cluster_agg(geohash(0, lon, 12), 3) FROM (VALUES (179.99), (-179.99)) v(lon))) c;

DROP TABLE markers;
