-- Planner support, part 2: viewport covers (src/pg/planner_cover.cpp, tested by
-- sql/planner_cover.sql). `col <@ cells` (40_cover.sql) with a constant array becomes the OR of
-- the cells' exact code ranges at simplification time, which every index type of the column
-- serves.

CREATE FUNCTION @extschema@.quadkey_contained_any_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'quadkey_contained_any_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.quadkey_contained_any(@extschema@.quadkey, @extschema@.quadkey[])
    SUPPORT @extschema@.quadkey_contained_any_support;

CREATE FUNCTION @extschema@.geohash_contained_any_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'geohash_contained_any_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.geohash_contained_any(@extschema@.geohash, @extschema@.geohash[])
    SUPPORT @extschema@.geohash_contained_any_support;
