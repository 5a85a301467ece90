-- A stored hierarchy's viewport as GeoJSON: cluster_geojson's FeatureCollection of the
-- viewport's clusters (cluster_viewport's rows), each with cluster_id (when it has one) and
-- expansion_zoom added to its properties. Built only on the hierarchy's public functions.
--  * A cluster's top-level id is 2^52 + its cluster_id (zoom << 47 | block and slot, below 2^52:
--    60_hierarchy.sql), below 2^53, a safe JavaScript integer: as long-lived as the hierarchy,
--    and never a marker's id, which is a top-level id only below 2^52
--    (cluster_marker_feature_id), where cluster_ids are too.
--    Drill-down (cluster_children, cluster_expansion_zoom, cluster_leaves) takes the
--    properties' cluster_id.
--  * A single marker's properties are its own, from marker_properties keyed by its id as text
--    (as cluster_geojson's), plus its cluster_id and expansion_zoom up to max_zoom. Not STRICT:
--    a viewport without single markers looks up a NULL object, which is no property (NULL
--    nodes give NULL).
CREATE FUNCTION @extschema@.cluster_viewport_geojson(nodes @extschema@.cluster_node[], marker_properties jsonb)
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN nodes IS NOT NULL THEN pg_catalog.jsonb_build_object('type'::pg_catalog.text, 'FeatureCollection'::pg_catalog.text,
                                         'features'::pg_catalog.text, COALESCE((
        SELECT pg_catalog.jsonb_agg(f.feature
                   OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                       'id'::pg_catalog.text, CASE WHEN n.count OPERATOR(pg_catalog.>) 1::bigint
                           THEN 4503599627370496::bigint OPERATOR(pg_catalog.+) n.cluster_id END))
                   OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('properties'::pg_catalog.text,
                       (f.feature OPERATOR(pg_catalog.->) 'properties'::pg_catalog.text)
                       OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                           'cluster_id'::pg_catalog.text, n.cluster_id,
                           'expansion_zoom'::pg_catalog.text, n.expansion_zoom)))
                   ORDER BY f.ord)
          FROM pg_catalog.jsonb_array_elements(@extschema@.cluster_geojson(ARRAY(
                   SELECT ROW(c.count, c.lat, c.lon, c.min_lat, c.min_lon, c.max_lat, c.max_lon, c.id)::@extschema@.marker_cluster
                     FROM pg_catalog.unnest(nodes) WITH ORDINALITY AS c ORDER BY c.ordinality), marker_properties)
                   OPERATOR(pg_catalog.->) 'features'::pg_catalog.text) WITH ORDINALITY AS f(feature, ord)
          JOIN pg_catalog.unnest(nodes) WITH ORDINALITY AS n ON n.ordinality OPERATOR(pg_catalog.=) f.ord),
        '[]'::pg_catalog.jsonb)) END
$$;
COMMENT ON FUNCTION @extschema@.cluster_viewport_geojson(@extschema@.cluster_node[], jsonb) IS
    'cluster_viewport''s rows as a GeoJSON FeatureCollection; single markers carry marker_properties->(id::pg_catalog.text) in their properties';

CREATE FUNCTION @extschema@.cluster_viewport_geojson(hierarchy regclass, south float8, west float8, north float8,
        east float8, zoom float8) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_viewport_geojson(ARRAY(
        SELECT ROW(v.cluster_id, v.zoom, v.count, v.lat, v.lon, v.min_lat, v.min_lon, v.max_lat, v.max_lon, v.id, v.expansion_zoom)::@extschema@.cluster_node
          FROM @extschema@.cluster_viewport(hierarchy, south, west, north, east, zoom) WITH ORDINALITY AS v
         ORDER BY v.ordinality), '{}'::pg_catalog.jsonb)
$$;
CREATE FUNCTION @extschema@.cluster_viewport_geojson(hierarchy regclass, south float8, west float8, north float8,
        east float8, zoom float8, "partition" text) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_viewport_geojson(ARRAY(
        SELECT ROW(v.cluster_id, v.zoom, v.count, v.lat, v.lon, v.min_lat, v.min_lon, v.max_lat, v.max_lon, v.id, v.expansion_zoom)::@extschema@.cluster_node
          FROM @extschema@.cluster_viewport(hierarchy, south, west, north, east, zoom, "partition") WITH ORDINALITY AS v
         ORDER BY v.ordinality), '{}'::pg_catalog.jsonb)
$$;
COMMENT ON FUNCTION @extschema@.cluster_viewport_geojson(regclass, float8, float8, float8, float8, float8) IS
    'cluster_viewport as a GeoJSON FeatureCollection (cluster_geojson''s properties, plus cluster_id and expansion_zoom)';
