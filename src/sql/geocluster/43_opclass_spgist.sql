-- SP-GiST operator classes (src/pg/opclass_spgist.cpp): quadkey_spgist_ops, a quad-tree (4
-- children per cell), and geohash_spgist_ops, a 32-way radix tree, the default SP-GiST classes
-- of the two types, for `= @> <@ &&` and `< <= > >=`. Inner tuples carry their cell as prefix
-- and one node per next digit (label 0..3 or 0..31), plus a node labelled -1 for values that
-- end at that cell; leaves hold the full value (index-only scans work). Strategy numbers are
-- the R-tree numbers, as in the GiST classes.

CREATE FUNCTION @extschema@.cell_spgist_config(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'cell_spgist_config' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The per-type support functions, declared like the GiST classes' (42_opclass_gist.sql): each
-- type has its own C entry points (one template, src/pg/opclass_spgist.cpp).
CREATE FUNCTION @extschema@.quadkey_spgist_choose(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'quadkey_spgist_choose' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_spgist_picksplit(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'quadkey_spgist_picksplit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_spgist_inner_consistent(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'quadkey_spgist_inner_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_spgist_leaf_consistent(internal, internal) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_spgist_leaf_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The operators of the GiST classes (42_opclass_gist.sql), answered by the same
-- cell_matches (src/pg/cell_matches.hpp).
CREATE OPERATOR CLASS @extschema@.quadkey_spgist_ops
    DEFAULT FOR TYPE @extschema@.quadkey USING spgist AS
        OPERATOR 3 @extschema@.&&,
        OPERATOR 7 @extschema@.@>,
        OPERATOR 8 @extschema@.<@,
        OPERATOR 18 @extschema@.=,
        OPERATOR 20 @extschema@.<,
        OPERATOR 21 @extschema@.<=,
        OPERATOR 22 @extschema@.>,
        OPERATOR 23 @extschema@.>=,
        FUNCTION 1 @extschema@.cell_spgist_config(internal, internal),
        FUNCTION 2 @extschema@.quadkey_spgist_choose(internal, internal),
        FUNCTION 3 @extschema@.quadkey_spgist_picksplit(internal, internal),
        FUNCTION 4 @extschema@.quadkey_spgist_inner_consistent(internal, internal),
        FUNCTION 5 @extschema@.quadkey_spgist_leaf_consistent(internal, internal);

-- The geohash twin of the quadkey class above (SQL has no generic types; the C side is one
-- template, src/pg/opclass_spgist.cpp).
CREATE FUNCTION @extschema@.geohash_spgist_choose(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'geohash_spgist_choose' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_spgist_picksplit(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'geohash_spgist_picksplit' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_spgist_inner_consistent(internal, internal) RETURNS void
    AS 'MODULE_PATHNAME', 'geohash_spgist_inner_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_spgist_leaf_consistent(internal, internal) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_spgist_leaf_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS @extschema@.geohash_spgist_ops
    DEFAULT FOR TYPE @extschema@.geohash USING spgist AS
        OPERATOR 3 @extschema@.&&,
        OPERATOR 7 @extschema@.@>,
        OPERATOR 8 @extschema@.<@,
        OPERATOR 18 @extschema@.=,
        OPERATOR 20 @extschema@.<,
        OPERATOR 21 @extschema@.<=,
        OPERATOR 22 @extschema@.>,
        OPERATOR 23 @extschema@.>=,
        FUNCTION 1 @extschema@.cell_spgist_config(internal, internal),
        FUNCTION 2 @extschema@.geohash_spgist_choose(internal, internal),
        FUNCTION 3 @extschema@.geohash_spgist_picksplit(internal, internal),
        FUNCTION 4 @extschema@.geohash_spgist_inner_consistent(internal, internal),
        FUNCTION 5 @extschema@.geohash_spgist_leaf_consistent(internal, internal);
