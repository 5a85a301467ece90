-- Cells from Point geometries: quadkey(geom, zoom) and geohash(geom, "precision").
--
-- A marker geometry must be a non-empty Point (Z and M are ignored) with an SRID: 4326 is read
-- as longitude/latitude directly, any other SRID is transformed with ST_Transform(geom, 4326),
-- and SRID 0 (unknown) is refused. A wrong geometry is an ERROR with SQLSTATE 22023
-- (invalid_parameter_value), the same as cluster_agg(geometry, ...) raises; an SRID missing
-- from spatial_ref_sys is PostGIS's own ST_Transform error.
--
-- Why quadkey and geohash are SQL functions that are not STRICT, though NULL gives NULL: the
-- planner inlines a SQL function into the calling query, so that a scan calls PostGIS and
-- geocluster directly, only if a STRICT one's body is strict too, and a CASE is not; a call
-- that is not inlined costs a function call per row on top. (An argument that is itself a costly expression, such as ST_Transform(geom, 4326),
-- is not inlined: the planner will not evaluate it once per mention of `geom` in the body.)

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
CREATE FUNCTION @extschema@.quadkey(geom @extschema:postgis@.geometry, zoom int)
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

CREATE FUNCTION @extschema@.geohash(geom @extschema:postgis@.geometry, "precision" int)
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

$script$);
