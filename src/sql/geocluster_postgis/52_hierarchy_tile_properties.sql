-- A hierarchy's vector tile with the single markers' own columns, as cluster_viewport_geojson
-- gives them in GeoJSON: marker_properties names a table or view with an id column (the
-- hierarchy's marker ids); the other columns of a single marker's row become properties of its
-- feature (those named like the tile's own properties are left out). Its rows are read by id,
-- with the caller's rights: a view can pick, rename or compute the columns a map needs.

SELECT @extschema@.geocluster_postgis_install($script$

CREATE FUNCTION @extschema@.cluster_hierarchy_tile_with_properties(hierarchy regclass, z int, x int, y int,
        marker_properties regclass) RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_hierarchy_tile_of(hierarchy, z, x, y, NULL::pg_catalog.text, marker_properties)
$$;
CREATE FUNCTION @extschema@.cluster_hierarchy_tile_with_properties(hierarchy regclass, z int, x int, y int,
        marker_properties regclass, "partition" text) RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_hierarchy_tile_of(hierarchy, z, x, y, "partition", marker_properties)
$$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_tile_with_properties(regclass, int, int, int, regclass) IS
    'cluster_hierarchy_tile with the single markers'' own columns, read by id from a table or view';

$script$);
