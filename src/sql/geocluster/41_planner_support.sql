-- Planner support for the containment operators (src/pg/planner_support.cpp).
--
-- `col <@ X` (and `X @> col`) on a btree or BRIN index becomes the exact range condition
-- `col >= X AND col <= <type>_range_end(X)`, for a constant X, a parameter of a prepared
-- statement (generic plans too) or the outer side of a nested loop; `col @> X` (and
-- `X <@ col`) with a constant X becomes `col = ANY(<the ancestors of X>)` on btree. GiST and
-- SP-GiST index the operators natively (42_, 43_).
--
-- The support functions hang on the operators' functions, and the operators get a
-- restriction estimator that reads the column's histogram the way that range implies
-- (instead of matchingsel, which can only count histogram entries that match).
-- Estimators read pg_statistic, so they are STABLE, like PostgreSQL's own.

CREATE FUNCTION @extschema@.quadkey_contained_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'quadkey_contained_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_contains_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'quadkey_contains_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.quadkey_contsel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'quadkey_contsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;

ALTER FUNCTION @extschema@.quadkey_contained(@extschema@.quadkey, @extschema@.quadkey)
    SUPPORT @extschema@.quadkey_contained_support;
ALTER FUNCTION @extschema@.quadkey_contains(@extschema@.quadkey, @extschema@.quadkey)
    SUPPORT @extschema@.quadkey_contains_support;
ALTER OPERATOR @extschema@.<@ (@extschema@.quadkey, @extschema@.quadkey)
    SET (RESTRICT = @extschema@.quadkey_contsel);
ALTER OPERATOR @extschema@.@> (@extschema@.quadkey, @extschema@.quadkey)
    SET (RESTRICT = @extschema@.quadkey_contsel);
ALTER OPERATOR @extschema@.&& (@extschema@.quadkey, @extschema@.quadkey)
    SET (RESTRICT = @extschema@.quadkey_contsel);

CREATE FUNCTION @extschema@.geohash_contained_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'geohash_contained_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_contains_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'geohash_contains_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.geohash_contsel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'geohash_contsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;

ALTER FUNCTION @extschema@.geohash_contained(@extschema@.geohash, @extschema@.geohash)
    SUPPORT @extschema@.geohash_contained_support;
ALTER FUNCTION @extschema@.geohash_contains(@extschema@.geohash, @extschema@.geohash)
    SUPPORT @extschema@.geohash_contains_support;
ALTER OPERATOR @extschema@.<@ (@extschema@.geohash, @extschema@.geohash)
    SET (RESTRICT = @extschema@.geohash_contsel);
ALTER OPERATOR @extschema@.@> (@extschema@.geohash, @extschema@.geohash)
    SET (RESTRICT = @extschema@.geohash_contsel);
ALTER OPERATOR @extschema@.&& (@extschema@.geohash, @extschema@.geohash)
    SET (RESTRICT = @extschema@.geohash_contsel);

-- `col <@ cells` (40_cover.sql) with a constant array becomes the OR of the cells' exact code
-- ranges at simplification time, which every index type of the column serves.
CREATE FUNCTION @extschema@.quadkey_contained_any_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'quadkey_contained_any_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.quadkey_contained_any(@extschema@.quadkey, @extschema@.quadkey[])
    SUPPORT @extschema@.quadkey_contained_any_support;
ALTER OPERATOR @extschema@.<@ (@extschema@.quadkey, @extschema@.quadkey[])
    SET (RESTRICT = @extschema@.quadkey_contsel);

CREATE FUNCTION @extschema@.geohash_contained_any_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'geohash_contained_any_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.geohash_contained_any(@extschema@.geohash, @extschema@.geohash[])
    SUPPORT @extschema@.geohash_contained_any_support;
ALTER OPERATOR @extschema@.<@ (@extschema@.geohash, @extschema@.geohash[])
    SET (RESTRICT = @extschema@.geohash_contsel);
