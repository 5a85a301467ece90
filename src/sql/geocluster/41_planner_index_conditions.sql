-- Planner support, part 1: index conditions (src/pg/planner_index_conditions.cpp, tested by
-- sql/planner_index_conditions.sql).
--
-- `col <@ X` (and `X @> col`) on a btree or BRIN index becomes the exact range condition
-- `col >= X AND col <= <type>_range_end(X)`, for a constant X, a parameter of a prepared
-- statement (generic plans too) or the outer side of a nested loop; `col @> X` (and
-- `X <@ col`) with a constant X becomes `col = ANY(<the ancestors of X>)` on btree. GiST and
-- SP-GiST index the operators natively (42_, 43_).
--
-- The support functions hang on the operators' functions (src/pg/planner_support.cpp); they
-- also answer the selectivity of a direct call of the function (41_planner_selectivity.sql).

CREATE FUNCTION @extschema@.quadkey_contained_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'quadkey_contained_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_contains_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'quadkey_contains_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.quadkey_contained(@extschema@.quadkey, @extschema@.quadkey)
    SUPPORT @extschema@.quadkey_contained_support;
ALTER FUNCTION @extschema@.quadkey_contains(@extschema@.quadkey, @extschema@.quadkey)
    SUPPORT @extschema@.quadkey_contains_support;

-- The geohash twin of the quadkey declarations above (SQL has no generic types).
CREATE FUNCTION @extschema@.geohash_contained_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'geohash_contained_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_contains_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'geohash_contains_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.geohash_contained(@extschema@.geohash, @extschema@.geohash)
    SUPPORT @extschema@.geohash_contained_support;
ALTER FUNCTION @extschema@.geohash_contains(@extschema@.geohash, @extschema@.geohash)
    SUPPORT @extschema@.geohash_contains_support;
