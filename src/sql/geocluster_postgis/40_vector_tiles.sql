-- Vector tiles of clusters. The tile function itself is a recipe the user creates over their
-- own table (README, "PostGIS companion"; tested in sql/postgis_mvt.sql): this piece gives it
-- the one thing that is easy to get wrong, the area to read markers from.
--
-- Clustering only a tile's own markers would cut clusters at its edges: a clump on an edge
-- would show as two clusters, one in each tile. So a tile clusters the markers of its area
-- grown by one cluster radius, then keeps the clusters whose centre lies in the tile: a cluster
-- is drawn in exactly one tile, and its count includes its members across the edge.

SELECT @extschema@.geocluster_postgis_install($script$

-- The boxes (EPSG:4326) to read markers from for tile zoom/x/y: the tile grown by radius_px
-- (pixels at 256 px tiles, as cluster_agg counts them) on every side. Longitudes past the
-- antimeridian are wrapped into a second box. A box that reaches beyond the top or bottom row
-- of the map extends to the pole: clustering clamps markers beyond +-85.05112878 to the map's
-- edge, so they belong to those rows. ST_TileEnvelope's own margin is no substitute here: it
-- wraps a grown tile at x = 0 into a polygon that covers the wrong side of the world.
-- Use as `geom && ANY (cluster_tile_boxes(z, x, y, 60))`, which a GiST index serves.
CREATE FUNCTION @extschema@.cluster_tile_boxes(zoom int, x int, y int, radius_px float8 DEFAULT 60)
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
