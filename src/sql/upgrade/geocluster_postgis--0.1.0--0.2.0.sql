-- geocluster_postgis 0.1.0 -> 0.2.0 (ALTER EXTENSION geocluster_postgis UPDATE). Kept by hand:
-- after it, the extension's catalog must equal a fresh install of 0.2.0's script, object by
-- object, which test/integration/upgrade.sh checks (test/README.md, "Upgrades", says how to add a
-- step).
--
-- Sections follow the install script's pieces (src/sql/geocluster_postgis/NN_*.sql). As there,
-- each section runs through geocluster_postgis_install(), which replaces @extschema:geocluster@
-- and @extschema:postgis@ with those extensions' schemas (PostgreSQL 15 does not), and which
-- this script drops again at its end. Objects that 0.1.0 already had are changed in place; the
-- piece that is wholly new in 0.2.0 (50_hierarchy.sql) is copied whole.

\echo Use "ALTER EXTENSION geocluster_postgis UPDATE TO '0.2.0'" to load this file. \quit

-- Runs one piece of this script (any number of statements). It exists only while the script
-- runs: 99_footer.sql drops it.
CREATE FUNCTION @extschema@.geocluster_postgis_install(script text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $install$
DECLARE
    required text;
    schema_name text;
BEGIN
    FOREACH required IN ARRAY ARRAY['geocluster', 'postgis'] LOOP
        SELECT n.nspname INTO schema_name
          FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = required;
        IF schema_name IS NULL THEN
            RAISE EXCEPTION 'geocluster_postgis requires the extension %', required
                USING ERRCODE = 'undefined_object', HINT = 'Use CREATE EXTENSION geocluster_postgis CASCADE.';
        END IF;
        script := pg_catalog.replace(script, pg_catalog.format('@extschema:%s@', required),
                                     pg_catalog.quote_ident(schema_name));
    END LOOP;
    EXECUTE script;
END $install$;

-- 10_constructors.sql: geocluster_geometry_error is no longer polymorphic (returns text for the
-- caller to cast); quadkey(geometry, int) and geohash(geometry, int) call the new one and type
-- their literals, then the old one goes.
SELECT @extschema@.geocluster_postgis_install($script$

-- Raises the error for a geometry that is not a marker position, naming `caller`; never
-- returns (the text result is only there for the caller to cast to its own result type). Called
-- only for such a geometry, so its SET costs nothing on the normal path. Not polymorphic: an
-- argument declared anyelement is matched less well than an exact type, so a function of the
-- same name taking (text, geometry, quadkey), created in this schema by anyone who may create
-- there, would be called instead (sql/security_search_path.sql).
CREATE FUNCTION @extschema@.geocluster_geometry_error(caller text, geom @extschema:postgis@.geometry)
    RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF @extschema:postgis@.ST_GeometryType(geom) <> 'ST_Point' THEN
        RAISE EXCEPTION '% needs Point geometries', caller
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got a %s', @extschema:postgis@.GeometryType(geom)),
                  HINT = 'Place a marker for other geometries with ST_PointOnSurface(geom) or ST_Centroid(geom).';
    ELSIF @extschema:postgis@.ST_IsEmpty(geom) THEN
        RAISE EXCEPTION '% needs non-empty Point geometries', caller
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s EMPTY', @extschema:postgis@.GeometryType(geom));
    ELSIF @extschema:postgis@.ST_SRID(geom) = 0 THEN
        RAISE EXCEPTION '% needs geometries with a known SRID', caller
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'the geometry has SRID 0 (unknown)',
                  HINT = 'Set it with ST_SetSRID(geom, 4326) if the coordinates are longitude/latitude.';
    END IF;
    RAISE EXCEPTION 'geocluster_geometry_error called for a valid marker position'
        USING ERRCODE = 'internal_error', DETAIL = @extschema:postgis@.ST_AsEWKT(geom);
END $$;
COMMENT ON FUNCTION @extschema@.geocluster_geometry_error(text, @extschema:postgis@.geometry) IS
    'raises the 22023 error for a geometry that is not a marker position (internal)';

-- The two constructors are one CASE with the cell function swapped.
CREATE OR REPLACE FUNCTION @extschema@.quadkey(geom @extschema:postgis@.geometry, zoom int)
    RETURNS @extschema:geocluster@.quadkey AS $$
    SELECT CASE
        WHEN geom IS NULL OR zoom IS NULL THEN NULL
        WHEN @extschema:postgis@.ST_GeometryType(geom) OPERATOR(pg_catalog.<>) 'ST_Point'::pg_catalog.text
             OR @extschema:postgis@.ST_IsEmpty(geom) OR @extschema:postgis@.ST_SRID(geom) OPERATOR(pg_catalog.=) 0
            THEN @extschema@.geocluster_geometry_error('quadkey'::pg_catalog.text, geom)::@extschema:geocluster@.quadkey
        WHEN @extschema:postgis@.ST_SRID(geom) OPERATOR(pg_catalog.=) 4326
            THEN @extschema:geocluster@.quadkey(@extschema:postgis@.ST_Y(geom), @extschema:postgis@.ST_X(geom), zoom)
        ELSE @extschema:geocluster@.quadkey(@extschema:postgis@.ST_Y(@extschema:postgis@.ST_Transform(geom, 4326)),
                                            @extschema:postgis@.ST_X(@extschema:postgis@.ST_Transform(geom, 4326)), zoom)
    END
    $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey(@extschema:postgis@.geometry, int) IS
    'the tile at zoom 0..29 that holds the Point, = quadkey(ST_Y(p), ST_X(p), zoom) of the point in EPSG:4326';

CREATE OR REPLACE FUNCTION @extschema@.geohash(geom @extschema:postgis@.geometry, "precision" int)
    RETURNS @extschema:geocluster@.geohash AS $$
    SELECT CASE
        WHEN geom IS NULL OR "precision" IS NULL THEN NULL
        WHEN @extschema:postgis@.ST_GeometryType(geom) OPERATOR(pg_catalog.<>) 'ST_Point'::pg_catalog.text
             OR @extschema:postgis@.ST_IsEmpty(geom) OR @extschema:postgis@.ST_SRID(geom) OPERATOR(pg_catalog.=) 0
            THEN @extschema@.geocluster_geometry_error('geohash'::pg_catalog.text, geom)::@extschema:geocluster@.geohash
        WHEN @extschema:postgis@.ST_SRID(geom) OPERATOR(pg_catalog.=) 4326
            THEN @extschema:geocluster@.geohash(@extschema:postgis@.ST_Y(geom), @extschema:postgis@.ST_X(geom), "precision")
        ELSE @extschema:geocluster@.geohash(@extschema:postgis@.ST_Y(@extschema:postgis@.ST_Transform(geom, 4326)),
                                            @extschema:postgis@.ST_X(@extschema:postgis@.ST_Transform(geom, 4326)), "precision")
    END
    $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash(@extschema:postgis@.geometry, int) IS
    'the cell of precision 0..12 that holds the Point, = ST_GeoHash of the point in EPSG:4326';

DROP FUNCTION @extschema@.geocluster_geometry_error(text, @extschema:postgis@.geometry, anyelement);

$script$);

-- 20_geometry_out.sql: quadkey_envelope passes ST_TileEnvelope's optional arguments, and
-- cluster_envelope types its literals.
SELECT @extschema@.geocluster_postgis_install($script$

-- The tile in EPSG:3857, exactly ST_TileEnvelope(zoom, x, y): the tile numbers come from the
-- quadkey and PostGIS draws the square, so vector-tile code that clips with ST_TileEnvelope
-- gets the identical polygon. Its two optional arguments are passed, with PostGIS's defaults
-- (the Web Mercator square as EWKB, no margin): a call that leaves them out also matches a
-- function ST_TileEnvelope(integer, integer, integer) that anyone who may create in PostGIS's
-- schema can add, and is then ambiguous.
CREATE OR REPLACE FUNCTION @extschema@.quadkey_envelope(cell @extschema:geocluster@.quadkey)
    RETURNS @extschema:postgis@.geometry AS $$
    SELECT @extschema:postgis@.ST_TileEnvelope((@extschema:geocluster@.quadkey_tile(cell)).zoom,
                                              (@extschema:geocluster@.quadkey_tile(cell)).x,
                                              (@extschema:geocluster@.quadkey_tile(cell)).y,
        '0102000020110F00000200000093107C45F81B73C193107C45F81B73C193107C45F81B734193107C45F81B7341'::@extschema:postgis@.geometry,
        0.0::pg_catalog.float8)
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_envelope(@extschema:geocluster@.quadkey) IS
    'the tile as a Polygon in EPSG:3857, equal to ST_TileEnvelope(zoom, x, y)';

-- A cluster's bounding box of its members in EPSG:4326, with ST_Envelope's conventions: a
-- Polygon, or a Point when every member is at one place and a LineString when they share a
-- latitude or a longitude. A box that crosses the antimeridian (min_lon > max_lon) comes back as
-- the collection of its two parts, [min_lon, 180] and [-180, max_lon]: a MultiPolygon in
-- general.
CREATE OR REPLACE FUNCTION @extschema@.cluster_envelope(cluster @extschema:geocluster@.marker_cluster)
    RETURNS @extschema:postgis@.geometry AS $$
    SELECT @extschema:postgis@.ST_SetSRID(CASE
        WHEN (cluster).min_lon OPERATOR(pg_catalog.<=) (cluster).max_lon THEN
            @extschema:postgis@.ST_MakeBox2D(
                @extschema:postgis@.ST_MakePoint((cluster).min_lon, (cluster).min_lat),
                @extschema:postgis@.ST_MakePoint((cluster).max_lon, (cluster).max_lat))::@extschema:postgis@.geometry
        ELSE @extschema:postgis@.ST_Collect(
            @extschema:postgis@.ST_MakeBox2D(
                @extschema:postgis@.ST_MakePoint((cluster).min_lon, (cluster).min_lat),
                @extschema:postgis@.ST_MakePoint(180::pg_catalog.float8, (cluster).max_lat))::@extschema:postgis@.geometry,
            @extschema:postgis@.ST_MakeBox2D(
                @extschema:postgis@.ST_MakePoint((-180)::pg_catalog.float8, (cluster).min_lat),
                @extschema:postgis@.ST_MakePoint((cluster).max_lon, (cluster).max_lat))::@extschema:postgis@.geometry)
        END, 4326)
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_envelope(@extschema:geocluster@.marker_cluster) IS
    'the cluster''s bounding box in EPSG:4326 (like ST_Envelope); a box crossing the antimeridian gives its two parts, a MultiPolygon';

$script$);

-- 40_vector_tiles.sql: cluster_tile_boxes types its literals.
SELECT @extschema@.geocluster_postgis_install($script$

-- The boxes (EPSG:4326) to read markers from for tile zoom/x/y: the tile grown by radius_px
-- (pixels at 256 px tiles, as cluster_agg counts them) on every side. Longitudes past the
-- antimeridian are wrapped into a second box. A box that reaches beyond the top or bottom row
-- of the map extends to the pole: clustering clamps markers beyond +-85.05112878 to the map's
-- edge, so they belong to those rows. ST_TileEnvelope's own margin is no substitute here: it
-- wraps a grown tile at x = 0 into a polygon that covers the wrong side of the world.
-- Use as `geom && ANY (cluster_tile_boxes(z, x, y, 60))`, which a GiST index serves.
CREATE OR REPLACE FUNCTION @extschema@.cluster_tile_boxes(zoom int, x int, y int, radius_px float8 DEFAULT 60)
    RETURNS @extschema:postgis@.geometry[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
-- The pinned search_path keeps other schemas out of the body's own operators and functions;
-- the calls into PostGIS's schema, which other users may be able to create in, pass arguments
-- of exactly the declared types (float8 coordinates, an integer SRID).
DECLARE
    tiles float8;    -- tiles across the world at this zoom
    margin float8;   -- radius_px in tiles
    west float8;
    east float8;
    north float8;
    south float8;
    boxes @extschema:postgis@.geometry[] := '{}';
BEGIN
    PERFORM @extschema:geocluster@.quadkey_from_tile(zoom, x, y);  -- 22003 unless a valid tile
    IF NOT (radius_px >= 0 AND radius_px < 'Infinity') THEN
        RAISE EXCEPTION 'radius_px must be finite and >= 0'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', radius_px);
    END IF;
    tiles := 2.0::float8 ^ zoom;
    margin := radius_px / 256;
    west := (x - margin) / tiles * 360 - 180;
    east := (x + 1 + margin) / tiles * 360 - 180;
    north := CASE WHEN y - margin <= 0 THEN 90
                  ELSE degrees(atan(sinh(pi() * (1 - 2 * (y - margin) / tiles)))) END;
    south := CASE WHEN y + 1 + margin >= tiles THEN -90
                  ELSE degrees(atan(sinh(pi() * (1 - 2 * (y + 1 + margin) / tiles)))) END;
    IF east - west >= 360 THEN
        west := -180;
        east := 180;
    END IF;
    boxes := boxes || @extschema:postgis@.ST_MakeEnvelope(greatest(west, -180), south, least(east, 180), north, 4326);
    IF west < -180 THEN
        boxes := boxes || @extschema:postgis@.ST_MakeEnvelope(west + 360, south, 180::pg_catalog.float8, north, 4326);
    END IF;
    IF east > 180 THEN
        boxes := boxes || @extschema:postgis@.ST_MakeEnvelope((-180)::pg_catalog.float8, south, east - 360, north, 4326);
    END IF;
    RETURN boxes;
END $$;
COMMENT ON FUNCTION @extschema@.cluster_tile_boxes(int, int, int, float8) IS
    'EPSG:4326 boxes to read markers from for tile zoom/x/y: the tile grown by radius_px, wrapped at the antimeridian, to the poles at the map''s edge';

$script$);

-- 50_hierarchy.sql (new in 0.2.0), whole.
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

-- Internal: the tile of a hierarchy. Not STRICT: partition is NULL when it has none.
CREATE FUNCTION @extschema@.cluster_hierarchy_tile_of(hierarchy regclass, z int, x int, y int, "partition" text)
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
    SELECT @extschema:postgis@.ST_AsMVT(f, 'clusters', 4096, 'geom', 'fid') INTO result FROM (
        SELECT @extschema:postgis@.ST_AsMVTGeom(@extschema:postgis@.ST_Transform(@extschema:postgis@.ST_SetSRID(
                   @extschema:postgis@.ST_MakePoint(
                       -- a centre beyond the antimeridian from the tile is drawn on the tile's side
                       CASE WHEN v.lon < west THEN v.lon + 360 WHEN v.lon > east THEN v.lon - 360 ELSE v.lon END,
                       greatest(-85.0511287798, least(85.0511287798, v.lat))), 4326), 3857),
                   envelope, 4096, 64, true) AS geom,
               -- clusters (and single markers up to max_zoom) by cluster_id; single markers beyond
               -- max_zoom, where a tile holds no cluster, by their id (none when negative)
               CASE WHEN v.cluster_id IS NOT NULL THEN v.cluster_id WHEN v.id >= 0 THEN v.id END AS fid,
               v.count > 1 AS cluster,
               v.count AS point_count,
               @extschema:geocluster@.cluster_point_count_abbreviated(v.count) AS point_count_abbreviated,
               v.id,
               v.expansion_zoom
          FROM (SELECT * FROM @extschema:geocluster@.cluster_viewport(hierarchy, south, west, north, east, z)
                 WHERE "partition" IS NULL
                UNION ALL
                SELECT * FROM @extschema:geocluster@.cluster_viewport(hierarchy, south, west, north, east, z, "partition")
                 WHERE "partition" IS NOT NULL) AS v) AS f;
    RETURN coalesce(result, ''::bytea);
END $$;

-- A Mapbox Vector Tile of a hierarchy at zoom z: one layer, clusters, with a Point per cluster
-- of zoom z whose centre lies in tile (z, x, y) or within the 64-unit render buffer around it
-- (extent 4096), with cluster_geojson's properties (cluster, point_count,
-- point_count_abbreviated, id) and expansion_zoom. Every cluster is in exactly one tile, the
-- one holding its centre (tiles are half-open: a centre on an edge belongs east and south, as
-- quadkey() says); the buffer only draws neighbours' clusters that reach over the edge. The
-- feature id is the cluster_id; beyond max_zoom, where tiles hold single markers, their id.
CREATE FUNCTION @extschema@.cluster_hierarchy_tile(hierarchy regclass, z int, x int, y int) RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_hierarchy_tile_of(hierarchy, z, x, y, NULL::pg_catalog.text)
$$;
CREATE FUNCTION @extschema@.cluster_hierarchy_tile(hierarchy regclass, z int, x int, y int, "partition" text)
    RETURNS bytea
    LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED AS $$
    SELECT @extschema@.cluster_hierarchy_tile_of(hierarchy, z, x, y, "partition")
$$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_tile(regclass, int, int, int) IS
    'a Mapbox Vector Tile of the clusters of a stored hierarchy centred in tile z/x/y (and its render buffer)';

$script$);

-- The installer function of 00_header.sql has done its work; nothing of it stays behind.
DROP FUNCTION @extschema@.geocluster_postgis_install(text);
