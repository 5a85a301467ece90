-- GiST operator classes (src/pg/opclass_gist.cpp): quadkey_gist_ops and geohash_gist_ops,
-- the default GiST classes of the two types, for `= @> <@ &&` and `< <= > >=`.
--
-- The key of a subtree is its code range [lo, hi] (16 bytes, the type cell_gist_key; a leaf
-- stores [v, v]), exact at every level: a GiST scan never rechecks. Sorted builds (support
-- function 11) and index-only scans (fetch, support function 9) are supported. Strategy
-- numbers are PostgreSQL's R-tree numbers (access/stratnum.h).

-- Input and output functions declared the way the cell types declare theirs (10_, 20_).
CREATE TYPE @extschema@.cell_gist_key;
CREATE FUNCTION @extschema@.cell_gist_key_in(cstring) RETURNS @extschema@.cell_gist_key
    AS 'MODULE_PATHNAME', 'cell_gist_key_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_key_out(@extschema@.cell_gist_key) RETURNS cstring
    AS 'MODULE_PATHNAME', 'cell_gist_key_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.cell_gist_key (
    INPUT = @extschema@.cell_gist_key_in,
    OUTPUT = @extschema@.cell_gist_key_out,
    INTERNALLENGTH = 16,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.cell_gist_key IS
    'internal key of the cell GiST operator classes: the code range [lo, hi] of a subtree';

-- Shared by both types: these only see code ranges.
CREATE FUNCTION @extschema@.cell_gist_union(internal, internal) RETURNS @extschema@.cell_gist_key
    AS 'MODULE_PATHNAME', 'cell_gist_union' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_compress(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cell_gist_compress' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_penalty(internal, internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cell_gist_penalty' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_picksplit(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cell_gist_picksplit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_same(@extschema@.cell_gist_key, @extschema@.cell_gist_key, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cell_gist_same' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_fetch(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cell_gist_fetch' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cell_gist_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'cell_gist_sortsupport' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.quadkey_gist_consistent(internal, @extschema@.quadkey, smallint, oid, internal) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_gist_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_gist_consistent(internal, @extschema@.geohash, smallint, oid, internal) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_gist_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS @extschema@.quadkey_gist_ops
    DEFAULT FOR TYPE @extschema@.quadkey USING gist AS
        OPERATOR 3 @extschema@.&&,
        OPERATOR 7 @extschema@.@>,
        OPERATOR 8 @extschema@.<@,
        OPERATOR 18 @extschema@.=,
        OPERATOR 20 @extschema@.<,
        OPERATOR 21 @extschema@.<=,
        OPERATOR 22 @extschema@.>,
        OPERATOR 23 @extschema@.>=,
        FUNCTION 1 @extschema@.quadkey_gist_consistent(internal, @extschema@.quadkey, smallint, oid, internal),
        FUNCTION 2 @extschema@.cell_gist_union(internal, internal),
        FUNCTION 3 @extschema@.cell_gist_compress(internal),
        FUNCTION 5 @extschema@.cell_gist_penalty(internal, internal, internal),
        FUNCTION 6 @extschema@.cell_gist_picksplit(internal, internal),
        FUNCTION 7 @extschema@.cell_gist_same(@extschema@.cell_gist_key, @extschema@.cell_gist_key, internal),
        FUNCTION 9 @extschema@.cell_gist_fetch(internal),
        FUNCTION 11 @extschema@.cell_gist_sortsupport(internal),
        STORAGE @extschema@.cell_gist_key;

-- The geohash twin of the quadkey class above (SQL has no generic types).
CREATE OPERATOR CLASS @extschema@.geohash_gist_ops
    DEFAULT FOR TYPE @extschema@.geohash USING gist AS
        OPERATOR 3 @extschema@.&&,
        OPERATOR 7 @extschema@.@>,
        OPERATOR 8 @extschema@.<@,
        OPERATOR 18 @extschema@.=,
        OPERATOR 20 @extschema@.<,
        OPERATOR 21 @extschema@.<=,
        OPERATOR 22 @extschema@.>,
        OPERATOR 23 @extschema@.>=,
        FUNCTION 1 @extschema@.geohash_gist_consistent(internal, @extschema@.geohash, smallint, oid, internal),
        FUNCTION 2 @extschema@.cell_gist_union(internal, internal),
        FUNCTION 3 @extschema@.cell_gist_compress(internal),
        FUNCTION 5 @extschema@.cell_gist_penalty(internal, internal, internal),
        FUNCTION 6 @extschema@.cell_gist_picksplit(internal, internal),
        FUNCTION 7 @extschema@.cell_gist_same(@extschema@.cell_gist_key, @extschema@.cell_gist_key, internal),
        FUNCTION 9 @extschema@.cell_gist_fetch(internal),
        FUNCTION 11 @extschema@.cell_gist_sortsupport(internal),
        STORAGE @extschema@.cell_gist_key;
