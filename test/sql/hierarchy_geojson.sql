-- A stored hierarchy's viewport as GeoJSON (cluster_viewport_geojson): top-level ids that never
-- name a marker and a cluster alike, and single markers' own columns in their features, looked
-- up in the same query.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

-- 60 places: a clump of 50 at one spot (a cluster up to max_zoom 12), 10 spread out (single
-- markers from zoom 3 on).
CREATE TABLE places (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL, name text NOT NULL);
INSERT INTO places
SELECT g, 48.85, 2.35, 'clump ' || g FROM generate_series(0, 49) g
UNION ALL SELECT g, -40 + (g - 50) * 8, -153 + (g - 50) * 30, 'place ' || g FROM generate_series(50, 59) g;
SELECT cluster_hierarchy_create('places', 'lat', 'lon', 'id', 60, 12) AS handle;

-- The recipe: the viewport's rows once, their single markers' names by primary key.
CREATE FUNCTION pg_temp.named(z float8) RETURNS jsonb LANGUAGE sql AS $$
    WITH v AS (SELECT ARRAY(SELECT n FROM cluster_viewport('places_clusters', -90, -180, 90, 180, z) AS n) AS nodes)
    SELECT cluster_viewport_geojson(v.nodes, (
             SELECT jsonb_object_agg(p.id, jsonb_build_object('name', p.name))
               FROM places p WHERE p.id IN (SELECT s.id FROM unnest(v.nodes) s WHERE s.count = 1)))
      FROM v
$$;

-- Why a cluster's top-level id is not its stored cluster_id: a stored cluster_id is any number
-- below 2^52, and so may a marker's id be; 2^52 + cluster_id names no marker of ids below 2^52
-- and stays a safe JavaScript integer (below 2^53).
SELECT count(*) AS zoom_0_clusters,
       bool_and(v.cluster_id >= 0 AND v.cluster_id < (1::bigint << 52)) AS cluster_ids_below_2_52
  FROM cluster_viewport('places_clusters', -90, -180, 90, 180, 0) v;

-- Zoom 5: the clump and 10 single markers; exactly.
SELECT jsonb_pretty(jsonb_path_query_first(pg_temp.named(5), '$.features[0]')) AS the_clump,
       jsonb_pretty(jsonb_path_query_first(pg_temp.named(5), '$.features[1]')) AS a_single_marker;

-- At every zoom, below and beyond max_zoom: one feature per viewport row, in its order; a
-- cluster's top-level id is 2^52 + its cluster_id and its properties cluster_viewport_geojson's;
-- a single marker's id is its marker id and its properties its own plus its cluster_id and
-- expansion_zoom (up to max_zoom); every id distinct and each kind in its own range.
SELECT z, count(*) AS features,
       count(*) FILTER (WHERE f -> 'properties' ? 'point_count') AS clusters,
       bool_and(f -> 'id' = to_jsonb(4503599627370496 + v.cluster_id)
                AND NOT f -> 'properties' ? 'name'
                AND f -> 'properties' -> 'cluster_id' = to_jsonb(v.cluster_id)
                AND f -> 'properties' -> 'point_count' = to_jsonb(v.count))
           FILTER (WHERE v.count > 1) AS clusters_right,
       bool_and(f -> 'id' = to_jsonb(v.id)
                AND f -> 'properties' = jsonb_strip_nulls(jsonb_build_object(
                        'name', (SELECT p.name FROM places p WHERE p.id = v.id),
                        'cluster_id', v.cluster_id, 'expansion_zoom', v.expansion_zoom))
                AND f -> 'geometry' -> 'coordinates' = jsonb_build_array(v.min_lon, v.min_lat))
           FILTER (WHERE v.count = 1) AS singles_right,
       count(DISTINCT f -> 'id') = count(*) AS ids_distinct,
       bool_and((f -> 'properties') - 'name'::text = g -> 'properties' AND f - 'properties'::text = g - 'properties'::text) AS else_as_without
  FROM generate_series(0, 14) z,
       LATERAL (SELECT * FROM cluster_viewport('places_clusters', -90, -180, 90, 180, z) WITH ORDINALITY) v,
       LATERAL (SELECT e.f FROM jsonb_array_elements(pg_temp.named(z) -> 'features') WITH ORDINALITY e(f, o)
                 WHERE e.o = v.ordinality) f,
       LATERAL (SELECT e.g FROM jsonb_array_elements(cluster_viewport_geojson('places_clusters', -90, -180, 90, 180, z)
                                                     -> 'features') WITH ORDINALITY e(g, o)
                 WHERE e.o = v.ordinality) g
 GROUP BY z ORDER BY z;

-- Without marker properties single markers have only cluster_viewport_geojson's; a marker left
-- out of the object, or a NULL object, gets no property of its own. NULL nodes: NULL.
SELECT cluster_viewport_geojson(ARRAY(SELECT n FROM cluster_viewport('places_clusters', -90, -180, 90, 180, 5) AS n),
                                '{}'::jsonb)
       = cluster_viewport_geojson('places_clusters', -90, -180, 90, 180, 5) AS empty_object_is_none,
       cluster_viewport_geojson(ARRAY(SELECT n FROM cluster_viewport('places_clusters', -90, -180, 90, 180, 5) AS n),
                                NULL::jsonb)
       = cluster_viewport_geojson('places_clusters', -90, -180, 90, 180, 5) AS null_object_is_none,
       cluster_viewport_geojson(NULL::cluster_node[], '{}'::jsonb) IS NULL AS null_nodes_null,
       cluster_viewport_geojson('{}'::cluster_node[], '{}'::jsonb) AS empty;

-- What maps send: Leaflet's longitudes past 180 across the antimeridian ("150.86,...,207.11,...",
-- never west > east), beyond +-180 at low zooms ("-215.156,...,234.84,..."), MapLibre's zoom
-- 11.5: the same as the wrapped box and the floored zoom.
SELECT cluster_viewport_geojson('places_clusters', -45.2, 150.86, 40, 207.11, 4)
       = cluster_viewport_geojson('places_clusters', -45.2, 150.86, 40, -152.89, 4) AS across_antimeridian,
       jsonb_array_length(cluster_viewport_geojson('places_clusters', -45.2, 150.86, 40, 207.11, 4) -> 'features') AS features,
       cluster_viewport_geojson('places_clusters', -85.05, -215.156, 85.05, 234.84, 1)
       = cluster_viewport_geojson('places_clusters', -85.05, -180, 85.05, 180, 1) AS world,
       cluster_viewport_geojson('places_clusters', -90, -180, 90, 180, 11.5)
       = cluster_viewport_geojson('places_clusters', -90, -180, 90, 180, 11) AS fractional_zoom;

SELECT cluster_hierarchy_drop('places_clusters');
DROP TABLE places;
