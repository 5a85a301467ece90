-- Comparison, containment, min/max, and the default btree and hash operator classes of both
-- cell types. The two halves are the same text with the type name swapped: the types share
-- their glue (src/pg/celltype.hpp) and behave alike.

-- quadkey: comparison -----------------------------------------------------------------------
CREATE FUNCTION @extschema@.quadkey_cmp(@extschema@.quadkey, @extschema@.quadkey) RETURNS int
    AS 'MODULE_PATHNAME', 'quadkey_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_eq(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_ne(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_lt(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_le(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_gt(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_ge(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_larger(@extschema@.quadkey, @extschema@.quadkey) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_larger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_smaller(@extschema@.quadkey, @extschema@.quadkey) RETURNS @extschema@.quadkey
    AS 'MODULE_PATHNAME', 'quadkey_smaller' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'quadkey_sortsupport' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_hash(@extschema@.quadkey) RETURNS int
    AS 'MODULE_PATHNAME', 'quadkey_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_hash_extended(@extschema@.quadkey, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quadkey_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_eq,
    COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>),
    RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel, HASHES, MERGES);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_ne,
    COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=),
    RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_lt,
    COMMUTATOR = OPERATOR(@extschema@.>), NEGATOR = OPERATOR(@extschema@.>=),
    RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_le,
    COMMUTATOR = OPERATOR(@extschema@.>=), NEGATOR = OPERATOR(@extschema@.>),
    RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_gt,
    COMMUTATOR = OPERATOR(@extschema@.<), NEGATOR = OPERATOR(@extschema@.<=),
    RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_ge,
    COMMUTATOR = OPERATOR(@extschema@.<=), NEGATOR = OPERATOR(@extschema@.<),
    RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel);

CREATE AGGREGATE @extschema@.min(@extschema@.quadkey) (
    SFUNC = @extschema@.quadkey_smaller, STYPE = @extschema@.quadkey,
    COMBINEFUNC = @extschema@.quadkey_smaller, SORTOP = OPERATOR(@extschema@.<), PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.max(@extschema@.quadkey) (
    SFUNC = @extschema@.quadkey_larger, STYPE = @extschema@.quadkey,
    COMBINEFUNC = @extschema@.quadkey_larger, SORTOP = OPERATOR(@extschema@.>), PARALLEL = SAFE);

-- quadkey: containment. a @> b: a is b or an ancestor of b; a <@ b: the converse; a && b: one
-- contains the other. matchingsel estimates by running the operator over the column's
-- most-common values and histogram, which follows the prefix structure well enough; the
-- planner support function (41_planner_index_conditions.sql) refines <@ into a key range.
CREATE FUNCTION @extschema@.quadkey_contains(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_contains' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_contained(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_contained' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.quadkey_overlaps(@extschema@.quadkey, @extschema@.quadkey) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_overlaps' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR @extschema@.@> (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_contains,
    COMMUTATOR = OPERATOR(@extschema@.<@),
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);
CREATE OPERATOR @extschema@.<@ (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_contained,
    COMMUTATOR = OPERATOR(@extschema@.@>),
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);
CREATE OPERATOR @extschema@.&& (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey, FUNCTION = @extschema@.quadkey_overlaps,
    COMMUTATOR = OPERATOR(@extschema@.&&),
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);

-- quadkey: default btree and hash operator classes. btequalimage: equal values are
-- bitwise-identical, so btree deduplication is safe. Hash with hash_extended: hash
-- aggregation, hash joins and PARTITION BY HASH work on quadkey columns.
CREATE OPERATOR CLASS @extschema@.quadkey_ops
    DEFAULT FOR TYPE @extschema@.quadkey USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.quadkey_cmp(@extschema@.quadkey, @extschema@.quadkey),
        FUNCTION 2 @extschema@.quadkey_sortsupport(internal),
        FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS @extschema@.quadkey_hash_ops
    DEFAULT FOR TYPE @extschema@.quadkey USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.quadkey_hash(@extschema@.quadkey),
        FUNCTION 2 @extschema@.quadkey_hash_extended(@extschema@.quadkey, bigint);

-- geohash: comparison -----------------------------------------------------------------------
CREATE FUNCTION @extschema@.geohash_cmp(@extschema@.geohash, @extschema@.geohash) RETURNS int
    AS 'MODULE_PATHNAME', 'geohash_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
-- The geohash twin of the quadkey operators above: SQL has no generic types, so each type
-- declares its own (the C side is one template, src/pg/celltype.hpp).
CREATE FUNCTION @extschema@.geohash_eq(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_ne(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_lt(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_le(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_gt(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_ge(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_larger(@extschema@.geohash, @extschema@.geohash) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_larger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_smaller(@extschema@.geohash, @extschema@.geohash) RETURNS @extschema@.geohash
    AS 'MODULE_PATHNAME', 'geohash_smaller' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'geohash_sortsupport' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_hash(@extschema@.geohash) RETURNS int
    AS 'MODULE_PATHNAME', 'geohash_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_hash_extended(@extschema@.geohash, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'geohash_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_eq,
    COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>),
    RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel, HASHES, MERGES);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_ne,
    COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=),
    RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_lt,
    COMMUTATOR = OPERATOR(@extschema@.>), NEGATOR = OPERATOR(@extschema@.>=),
    RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_le,
    COMMUTATOR = OPERATOR(@extschema@.>=), NEGATOR = OPERATOR(@extschema@.>),
    RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_gt,
    COMMUTATOR = OPERATOR(@extschema@.<), NEGATOR = OPERATOR(@extschema@.<=),
    RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_ge,
    COMMUTATOR = OPERATOR(@extschema@.<=), NEGATOR = OPERATOR(@extschema@.<),
    RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel);

CREATE AGGREGATE @extschema@.min(@extschema@.geohash) (
    SFUNC = @extschema@.geohash_smaller, STYPE = @extschema@.geohash,
    COMBINEFUNC = @extschema@.geohash_smaller, SORTOP = OPERATOR(@extschema@.<), PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.max(@extschema@.geohash) (
    SFUNC = @extschema@.geohash_larger, STYPE = @extschema@.geohash,
    COMBINEFUNC = @extschema@.geohash_larger, SORTOP = OPERATOR(@extschema@.>), PARALLEL = SAFE);

-- geohash: containment. a @> b: a is b or an ancestor of b; a <@ b: the converse; a && b: one
-- contains the other. matchingsel estimates by running the operator over the column's
-- most-common values and histogram, which follows the prefix structure well enough; the
-- planner support function (41_planner_index_conditions.sql) refines <@ into a key range.
CREATE FUNCTION @extschema@.geohash_contains(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_contains' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_contained(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_contained' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.geohash_overlaps(@extschema@.geohash, @extschema@.geohash) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_overlaps' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR @extschema@.@> (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_contains,
    COMMUTATOR = OPERATOR(@extschema@.<@),
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);
CREATE OPERATOR @extschema@.<@ (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_contained,
    COMMUTATOR = OPERATOR(@extschema@.@>),
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);
CREATE OPERATOR @extschema@.&& (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash, FUNCTION = @extschema@.geohash_overlaps,
    COMMUTATOR = OPERATOR(@extschema@.&&),
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);

-- geohash: default btree and hash operator classes. btequalimage: equal values are
-- bitwise-identical, so btree deduplication is safe. Hash with hash_extended: hash
-- aggregation, hash joins and PARTITION BY HASH work on geohash columns.
CREATE OPERATOR CLASS @extschema@.geohash_ops
    DEFAULT FOR TYPE @extschema@.geohash USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.geohash_cmp(@extschema@.geohash, @extschema@.geohash),
        FUNCTION 2 @extschema@.geohash_sortsupport(internal),
        FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS @extschema@.geohash_hash_ops
    DEFAULT FOR TYPE @extschema@.geohash USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.geohash_hash(@extschema@.geohash),
        FUNCTION 2 @extschema@.geohash_hash_extended(@extschema@.geohash, bigint);
