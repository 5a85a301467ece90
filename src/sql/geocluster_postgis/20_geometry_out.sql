-- Geometries from cells and clusters: quadkey_envelope, geohash_envelope, cluster_point,
-- cluster_envelope. All STRICT (NULL in, NULL out); the planner inlines the first three into the
-- calling query, their bodies being strict expressions. PostGIS's schema may be one that other
-- users can create in, so each call into it passes arguments of exactly the declared types: a
-- literal 180 for a float8 parameter would let a function ST_MakePoint(integer, float8) created
-- there take the call (sql/security_search_path.sql).

SELECT @extschema@.geocluster_postgis_install($script$

-- The tile in EPSG:3857, exactly ST_TileEnvelope(zoom, x, y): the tile numbers come from the
-- quadkey and PostGIS draws the square, so vector-tile code that clips with ST_TileEnvelope
-- gets the identical polygon. Its two optional arguments are passed, with PostGIS's defaults
-- (the Web Mercator square as EWKB, no margin): a call that leaves them out also matches a
-- function ST_TileEnvelope(integer, integer, integer) that anyone who may create in PostGIS's
-- schema can add, and is then ambiguous.
CREATE FUNCTION @extschema@.quadkey_envelope(cell @extschema:geocluster@.quadkey)
    RETURNS @extschema:postgis@.geometry AS $$
    SELECT @extschema:postgis@.ST_TileEnvelope((@extschema:geocluster@.quadkey_tile(cell)).zoom,
                                              (@extschema:geocluster@.quadkey_tile(cell)).x,
                                              (@extschema:geocluster@.quadkey_tile(cell)).y,
        '0102000020110F00000200000093107C45F81B73C193107C45F81B73C193107C45F81B734193107C45F81B7341'::@extschema:postgis@.geometry,
        0.0::pg_catalog.float8)
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_envelope(@extschema:geocluster@.quadkey) IS
    'the tile as a Polygon in EPSG:3857, equal to ST_TileEnvelope(zoom, x, y)';

-- The cell in EPSG:4326 from geocluster's own bounds, which are exactly PostGIS's
-- ST_Box2dFromGeoHash: the polygon equals ST_GeomFromGeoHash(text) vertex for vertex (that one
-- has SRID 0).
CREATE FUNCTION @extschema@.geohash_envelope(cell @extschema:geocluster@.geohash)
    RETURNS @extschema:postgis@.geometry AS $$
    SELECT @extschema:postgis@.ST_MakeEnvelope((@extschema:geocluster@.geohash_bounds(cell)).min_lon,
                                              (@extschema:geocluster@.geohash_bounds(cell)).min_lat,
                                              (@extschema:geocluster@.geohash_bounds(cell)).max_lon,
                                              (@extschema:geocluster@.geohash_bounds(cell)).max_lat, 4326)
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_envelope(@extschema:geocluster@.geohash) IS
    'the cell as a Polygon in EPSG:4326, equal to ST_GeomFromGeoHash';

-- A cluster's centre as a Point in EPSG:4326.
CREATE FUNCTION @extschema@.cluster_point(cluster @extschema:geocluster@.marker_cluster)
    RETURNS @extschema:postgis@.geometry AS $$
    SELECT @extschema:postgis@.ST_SetSRID(@extschema:postgis@.ST_MakePoint((cluster).lon, (cluster).lat), 4326)
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_point(@extschema:geocluster@.marker_cluster) IS
    'the cluster''s centre as a Point in EPSG:4326';

-- A cluster's bounding box of its members in EPSG:4326, with ST_Envelope's conventions: a
-- Polygon, or a Point when every member is at one place and a LineString when they share a
-- latitude or a longitude. A box that crosses the antimeridian (min_lon > max_lon) comes back as
-- the collection of its two parts, [min_lon, 180] and [-180, max_lon]: a MultiPolygon in
-- general.
CREATE FUNCTION @extschema@.cluster_envelope(cluster @extschema:geocluster@.marker_cluster)
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
