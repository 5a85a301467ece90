-- geohash: a geohash.org cell, precision 0..12 characters, stored in 8 bytes. Text form:
-- the base32 alphabet 0-9 b-h j k m n p-z ('' is the whole world); input is
-- case-insensitive, output lower case. The value order is the text order (C collation) and
-- every cell's descendants form one contiguous range of values; the bit layout is
-- documented in src/core/geohash.hpp.

-- Declared like quadkey (10_quadkey.sql), function for function: SQL has no generic types;
-- the C side is one template (src/pg/celltype.hpp).
CREATE TYPE @extschema@.geohash;

CREATE FUNCTION @extschema@.geohash_in(cstring) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_out(@extschema@.geohash) RETURNS cstring
    AS 'MODULE_PATHNAME', 'geohash_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_recv(internal) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_send(@extschema@.geohash) RETURNS bytea
    AS 'MODULE_PATHNAME', 'geohash_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.geohash (
    INPUT = @extschema@.geohash_in,
    OUTPUT = @extschema@.geohash_out,
    RECEIVE = @extschema@.geohash_recv,
    SEND = @extschema@.geohash_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT = double,
    STORAGE = plain,
    CATEGORY = 'U'
);
COMMENT ON TYPE @extschema@.geohash IS
    'geohash cell, precision 0..12, 8 bytes, ordered like its text';

CREATE FUNCTION @extschema@.geohash(lat float8, lon float8, "precision" int) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_from_latlon' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash(float8, float8, int) IS
    'the cell of precision 0..12 that holds the point, equal to PostGIS ST_GeoHash';

CREATE FUNCTION @extschema@.geohash_precision(@extschema@.geohash) RETURNS int
    AS 'MODULE_PATHNAME', 'geohash_precision' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.geohash_parent(@extschema@.geohash, "precision" int) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_parent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_parent(@extschema@.geohash, int) IS
    'the ancestor of that precision (0 .. the cell''s own precision)';

CREATE FUNCTION @extschema@.geohash_children(@extschema@.geohash) RETURNS SETOF @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_children' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 32;

CREATE FUNCTION @extschema@.geohash_center(@extschema@.geohash, OUT lat float8, OUT lon float8)
    AS 'MODULE_PATHNAME', 'geohash_center' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_center(@extschema@.geohash) IS
    'the cell''s centre, equal to ST_PointFromGeoHash';

CREATE FUNCTION @extschema@.geohash_bounds(@extschema@.geohash,
        OUT min_lat float8, OUT min_lon float8, OUT max_lat float8, OUT max_lon float8)
    AS 'MODULE_PATHNAME', 'geohash_bounds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_bounds(@extschema@.geohash) IS
    'the cell''s extent, equal to ST_Box2dFromGeoHash';

CREATE FUNCTION @extschema@.geohash_neighbors(@extschema@.geohash) RETURNS @extschema@.geohash[]
    AS 'MODULE_PATHNAME', 'geohash_neighbors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_neighbors(@extschema@.geohash) IS
    'neighbouring cells in the order N, NE, E, SE, S, SW, W, NW, wrapping in longitude; none beyond the poles';

CREATE FUNCTION @extschema@.geohash_precision_for_zoom(zoom int) RETURNS int
    AS 'MODULE_PATHNAME', 'geohash_precision_for_zoom' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_precision_for_zoom(int) IS
    'the geohash-prefix recipe''s zoom -> precision fit: trunc(e^(zoom * ln(12) / 17)) clamped to 1..12';

CREATE FUNCTION @extschema@.geohash_range_end(@extschema@.geohash) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_range_end' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_range_end(@extschema@.geohash) IS
    'the greatest value inside the cell: g <@ c is exactly g BETWEEN c AND geohash_range_end(c)';

-- Casts: text and varchar in, text out. varchar -> geohash is what
-- ALTER TABLE t ALTER gh TYPE geohash USING gh::geohash needs to migrate a varchar(12) column.
CREATE FUNCTION @extschema@.geohash(text) RETURNS @extschema@.geohash
    AS 'SELECT @extschema@.geohash_in(pg_catalog.textout($1))'
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.text(@extschema@.geohash) RETURNS text
    AS 'SELECT pg_catalog.textin(@extschema@.geohash_out($1))'
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (text AS @extschema@.geohash) WITH FUNCTION @extschema@.geohash(text);
CREATE CAST (varchar AS @extschema@.geohash) WITH FUNCTION @extschema@.geohash(text);
CREATE CAST (@extschema@.geohash AS text) WITH FUNCTION @extschema@.text(@extschema@.geohash);
CREATE CAST (@extschema@.geohash AS varchar) WITH FUNCTION @extschema@.text(@extschema@.geohash);
