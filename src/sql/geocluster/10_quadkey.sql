-- quadkey: a Web Mercator tile (Bing Maps tile system), levels 0..29, stored in 8 bytes.
-- Text form: one digit 0-3 per level ('' is the whole world). The value order is the text
-- order (C collation) and every cell's descendants form one contiguous range of values; the
-- bit layout is documented in src/core/quadkey.hpp.

CREATE TYPE @extschema@.quadkey;

CREATE FUNCTION @extschema@.quadkey_in(cstring) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_out(@extschema@.quadkey) RETURNS cstring
    AS 'MODULE_PATHNAME', 'quadkey_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_recv(internal) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_send(@extschema@.quadkey) RETURNS bytea
    AS 'MODULE_PATHNAME', 'quadkey_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.quadkey (
    INPUT = @extschema@.quadkey_in,
    OUTPUT = @extschema@.quadkey_out,
    RECEIVE = @extschema@.quadkey_recv,
    SEND = @extschema@.quadkey_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT = double,
    STORAGE = plain,
    CATEGORY = 'U'
);
COMMENT ON TYPE @extschema@.quadkey IS
    'Web Mercator tile (Bing quadkey), levels 0..29, 8 bytes, ordered like its text';

-- Constructors -------------------------------------------------------------------------

CREATE FUNCTION @extschema@.quadkey(lat float8, lon float8, zoom int) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_from_latlon' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey(float8, float8, int) IS
    'the tile at zoom 0..29 that holds the point; latitude beyond +-85.05112878 is clamped to the Web Mercator edge';

CREATE FUNCTION @extschema@.quadkey_from_tile(zoom int, x int, y int) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_from_tile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_from_tile(int, int, int) IS
    'the tile (zoom, x, y), x west to east and y north to south, each 0 .. 2^zoom - 1';

CREATE FUNCTION @extschema@.quadkey_from_bigint(value bigint, zoom int) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_from_bigint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_from_bigint(bigint, int) IS
    'reads the bigint quadkeys of older schemas: base-4 digits as an integer, padded to zoom digits';

-- Accessors ----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.quadkey_to_bigint(@extschema@.quadkey) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quadkey_to_bigint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_to_bigint(@extschema@.quadkey) IS
    'the base-4 digits read as an integer (the bigint form of older schemas; the level is not kept)';

CREATE FUNCTION @extschema@.quadkey_tile(@extschema@.quadkey, OUT zoom int, OUT x int, OUT y int)
    AS 'MODULE_PATHNAME', 'quadkey_tile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.quadkey_zoom(@extschema@.quadkey) RETURNS int
    AS 'MODULE_PATHNAME', 'quadkey_zoom' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.quadkey_parent(@extschema@.quadkey, zoom int) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_parent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_parent(@extschema@.quadkey, int) IS
    'the ancestor at level zoom (0 .. the cell''s own level)';

CREATE FUNCTION @extschema@.quadkey_children(@extschema@.quadkey) RETURNS SETOF @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_children' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;

CREATE FUNCTION @extschema@.quadkey_center(@extschema@.quadkey, OUT lat float8, OUT lon float8)
    AS 'MODULE_PATHNAME', 'quadkey_center' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_center(@extschema@.quadkey) IS
    'the tile''s centre in Web Mercator, as lat/lon degrees';

CREATE FUNCTION @extschema@.quadkey_bounds(@extschema@.quadkey,
        OUT min_lat float8, OUT min_lon float8, OUT max_lat float8, OUT max_lon float8)
    AS 'MODULE_PATHNAME', 'quadkey_bounds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_bounds(@extschema@.quadkey) IS
    'the tile''s extent in degrees, equal to ST_Transform(ST_TileEnvelope(z, x, y), 4326)';

CREATE FUNCTION @extschema@.quadkey_neighbors(@extschema@.quadkey) RETURNS @extschema@.quadkey[]
    AS 'MODULE_PATHNAME', 'quadkey_neighbors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_neighbors(@extschema@.quadkey) IS
    'neighbouring tiles in the order N, NE, E, SE, S, SW, W, NW, wrapping in longitude; none beyond the poles';

CREATE FUNCTION @extschema@.quadkey_range_end(@extschema@.quadkey) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_range_end' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_range_end(@extschema@.quadkey) IS
    'the greatest value inside the cell: q <@ c is exactly q BETWEEN c AND quadkey_range_end(c)';

-- Casts: text in and out (explicit, like any type's I/O cast) ---------------------------

CREATE FUNCTION @extschema@.quadkey(text) RETURNS @extschema@.quadkey
    AS 'SELECT @extschema@.quadkey_in(pg_catalog.textout($1))'
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.text(@extschema@.quadkey) RETURNS text
    AS 'SELECT pg_catalog.textin(@extschema@.quadkey_out($1))'
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (text AS @extschema@.quadkey) WITH FUNCTION @extschema@.quadkey(text);
CREATE CAST (@extschema@.quadkey AS text) WITH FUNCTION @extschema@.text(@extschema@.quadkey);
