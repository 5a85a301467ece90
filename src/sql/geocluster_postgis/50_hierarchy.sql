-- The stored cluster hierarchy (geocluster's cluster_hierarchy_create) over a geometry column,
-- and its vector tiles.
--
-- SRID rule: as cluster_agg(geom): Points (Z and M ignored) in EPSG:4326 are read as they are,
-- Points of any other SRID that ST_Transform knows are transformed to 4326; anything else (not a
-- Point, empty, SRID 0) is the 22023 error of cluster_agg(geom). NULL geometries are skipped.

SELECT @extschema@.geocluster_postgis_install($script$

-- Internal: a marker's position in EPSG:4326, validated as above (the hierarchy's rows query
-- reads the geometry column through it).
CREATE FUNCTION @extschema@.cluster_hierarchy_point(geom @extschema:postgis@.geometry)
    RETURNS @extschema:postgis@.geometry AS $$
    SELECT CASE
        WHEN @extschema:postgis@.ST_GeometryType(geom) OPERATOR(pg_catalog.<>) 'ST_Point'::pg_catalog.text
             OR @extschema:postgis@.ST_IsEmpty(geom) OR @extschema:postgis@.ST_SRID(geom) OPERATOR(pg_catalog.=) 0
            THEN @extschema@.geocluster_geometry_error('cluster_hierarchy_create'::pg_catalog.text, geom)::@extschema:postgis@.geometry
        WHEN @extschema:postgis@.ST_SRID(geom) OPERATOR(pg_catalog.=) 4326 THEN geom
        ELSE @extschema:postgis@.ST_Transform(geom, 4326)
    END
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;

-- cluster_hierarchy_create over a Point geometry column: the same hierarchy, tables and
-- functions as over lat/lon columns. Not STRICT: a NULL partition_column means none (the other
-- NULL arguments are 22004).
-- It starts as the lat/lon one does (60_hierarchy.sql), with the same shared source checks.
CREATE FUNCTION @extschema@.cluster_hierarchy_create(source regclass, geom_column name, id_column name,
        radius_px float8 DEFAULT 60, max_zoom int DEFAULT 16, partition_column name DEFAULT NULL) RETURNS regclass
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp name;
    t regtype;
BEGIN
    nsp := @extschema:geocluster@.cluster_hierarchy_check_source(source, radius_px, max_zoom, id_column, partition_column);
    IF geom_column IS NULL THEN
        RAISE EXCEPTION 'cluster_hierarchy_create: geom_column must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    t := @extschema:geocluster@.cluster_hierarchy_column_type(source, geom_column);
    IF t IS DISTINCT FROM '@extschema:postgis@.geometry'::regtype THEN
        RAISE EXCEPTION 'the column % must be a geometry', geom_column
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('%I is %s', geom_column, t);
    END IF;
    RETURN @extschema:geocluster@.cluster_hierarchy_make(source, nsp, NULL, NULL, geom_column, id_column,
                                                         radius_px, max_zoom, partition_column);
END $$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_create(regclass, name, name, float8, int, name) IS
    'builds the cluster hierarchy of a table of Points at every zoom 0..max_zoom and returns its handle';

-- Internal: the tile of a hierarchy. Not STRICT: partition is NULL when it has none, and
-- marker_properties (a relation with an id column: its other columns are the single markers'
-- own properties, as in cluster_viewport_geojson) NULL without it.
CREATE FUNCTION @extschema@.cluster_hierarchy_tile_of(hierarchy regclass, z int, x int, y int, "partition" text,
        marker_properties regclass)
    RETURNS bytea
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tiles float8;
    margin float8 := 64.0 / 4096;  -- the render buffer, in tiles
    west float8;
    east float8;
    north float8;
    south float8;
    envelope @extschema:postgis@.box2d;
    nodes @extschema:geocluster@.cluster_node[];
    own jsonb;
    result bytea;
BEGIN
    PERFORM @extschema:geocluster@.quadkey_from_tile(z, x, y);  -- 22003 unless a tile
    tiles := 2.0::float8 ^ z;
    west := (x - margin) / tiles * 360 - 180;
    east := (x + 1 + margin) / tiles * 360 - 180;
    north := CASE WHEN y - margin <= 0 THEN 90 ELSE degrees(atan(sinh(pi() * (1 - 2 * (y - margin) / tiles)))) END;
    south := CASE WHEN y + 1 + margin >= tiles THEN -90 ELSE degrees(atan(sinh(pi() * (1 - 2 * (y + 1 + margin) / tiles)))) END;
    -- PostGIS's default bounds and margin, passed explicitly: a three-argument call is ambiguous
    -- once someone adds an ST_TileEnvelope(integer, integer, integer) (quadkey_envelope says more).
    envelope := @extschema:postgis@.ST_TileEnvelope(z, x, y,
        '0102000020110F00000200000093107C45F81B73C193107C45F81B73C193107C45F81B734193107C45F81B7341'::@extschema:postgis@.geometry,
        0.0::pg_catalog.float8)::@extschema:postgis@.box2d;
    nodes := ARRAY(
        SELECT ROW(v.cluster_id, v.zoom, v.count, v.lat, v.lon, v.min_lat, v.min_lon, v.max_lat, v.max_lon, v.id,
                   v.expansion_zoom)::@extschema:geocluster@.cluster_node
          FROM (SELECT * FROM @extschema:geocluster@.cluster_viewport(hierarchy, south, west, north, east, z::pg_catalog.float8)
                 WHERE "partition" IS NULL
                UNION ALL
                SELECT * FROM @extschema:geocluster@.cluster_viewport(hierarchy, south, west, north, east, z::pg_catalog.float8, "partition")
                 WHERE "partition" IS NOT NULL) AS v);
    IF marker_properties IS NOT NULL THEN
        -- The single markers' rows by id (an index probe each); columns named like the tile's
        -- own properties are left out rather than written twice into a feature.
        EXECUTE format('SELECT jsonb_object_agg(p.id, to_jsonb(p) - $2) FROM %s p WHERE p.id = ANY ($1)',
                       marker_properties)
           INTO own
          USING ARRAY(SELECT n.id FROM unnest(nodes) n WHERE n.count = 1),
                ARRAY['id', 'cluster', 'cluster_id', 'point_count', 'point_count_abbreviated', 'expansion_zoom'];
    END IF;
    SELECT @extschema:postgis@.ST_AsMVT(f, 'clusters', 4096, 'geom', 'fid') INTO result FROM (
        SELECT @extschema:postgis@.ST_AsMVTGeom(@extschema:postgis@.ST_Transform(@extschema:postgis@.ST_SetSRID(
                   @extschema:postgis@.ST_MakePoint(
                       -- a centre beyond the antimeridian from the tile is drawn on the tile's side
                       CASE WHEN v.lon < west THEN v.lon + 360 WHEN v.lon > east THEN v.lon - 360 ELSE v.lon END,
                       greatest(-85.0511287798, least(85.0511287798, v.lat))), 4326), 3857),
                   envelope, 4096, 64, true) AS geom,
               -- cluster_viewport_geojson's ids: a cluster 2^52 + its cluster_id, a single marker
               -- its id (none outside [0, 2^52)), so that no id names a cluster and a marker
               CASE WHEN v.count > 1 THEN 4503599627370496::bigint + v.cluster_id
                    ELSE @extschema:geocluster@.cluster_marker_feature_id(v.id) END AS fid,
               v.cluster_id,
               v.count > 1 AS cluster,
               v.count AS point_count,
               @extschema:geocluster@.cluster_point_count_abbreviated(v.count) AS point_count_abbreviated,
               v.id,
               v.expansion_zoom,
               CASE WHEN v.count = 1 THEN own -> v.id::text END AS own  -- its keys, each a property
          FROM unnest(nodes) AS v) AS f;
    RETURN coalesce(result, ''::bytea);
END $$;

-- A Mapbox Vector Tile of a hierarchy at zoom z: one layer, clusters, with a Point per cluster
-- of zoom z whose centre lies in tile (z, x, y) or within the 64-unit render buffer around it
-- (extent 4096), with cluster_geojson's properties (cluster, point_count,
-- point_count_abbreviated, id), cluster_id and expansion_zoom. Every cluster is in exactly one tile, the
-- one holding its centre (tiles are half-open: a centre on an edge belongs east and south, as
-- quadkey() says); the buffer only draws neighbours' clusters that reach over the edge. The
-- feature id is cluster_viewport_geojson's: 2^52 + cluster_id for a cluster, the marker id for a
-- single marker.
CREATE FUNCTION @extschema@.cluster_hierarchy_tile(hierarchy regclass, z int, x int, y int) RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_hierarchy_tile_of(hierarchy, z, x, y, NULL::pg_catalog.text, NULL::pg_catalog.regclass)
$$;
CREATE FUNCTION @extschema@.cluster_hierarchy_tile(hierarchy regclass, z int, x int, y int, "partition" text)
    RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_hierarchy_tile_of(hierarchy, z, x, y, "partition", NULL::pg_catalog.regclass)
$$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_tile(regclass, int, int, int) IS
    'a Mapbox Vector Tile of the clusters of a stored hierarchy centred in tile z/x/y (and its render buffer)';

$script$);
