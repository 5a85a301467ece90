-- Planner support, part 3: selectivity (src/pg/planner_selectivity.cpp, tested by
-- sql/planner_selectivity.sql). The operators get a restriction estimator that reads the
-- column's histogram the way the containment implies (instead of matchingsel, which can only
-- count histogram entries that match). Estimators read pg_statistic, so they are STABLE, like
-- PostgreSQL's own.

CREATE FUNCTION @extschema@.quadkey_contsel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'quadkey_contsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;

ALTER OPERATOR @extschema@.<@ (@extschema@.quadkey, @extschema@.quadkey)
    SET (RESTRICT = @extschema@.quadkey_contsel);
ALTER OPERATOR @extschema@.@> (@extschema@.quadkey, @extschema@.quadkey)
    SET (RESTRICT = @extschema@.quadkey_contsel);
ALTER OPERATOR @extschema@.&& (@extschema@.quadkey, @extschema@.quadkey)
    SET (RESTRICT = @extschema@.quadkey_contsel);

ALTER OPERATOR @extschema@.<@ (@extschema@.quadkey, @extschema@.quadkey[])
    SET (RESTRICT = @extschema@.quadkey_contsel);

-- The geohash twin of the quadkey declarations above (SQL has no generic types).
CREATE FUNCTION @extschema@.geohash_contsel(internal, oid, internal, integer) RETURNS float8
    AS 'MODULE_PATHNAME', 'geohash_contsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;

ALTER OPERATOR @extschema@.<@ (@extschema@.geohash, @extschema@.geohash)
    SET (RESTRICT = @extschema@.geohash_contsel);
ALTER OPERATOR @extschema@.@> (@extschema@.geohash, @extschema@.geohash)
    SET (RESTRICT = @extschema@.geohash_contsel);
ALTER OPERATOR @extschema@.&& (@extschema@.geohash, @extschema@.geohash)
    SET (RESTRICT = @extschema@.geohash_contsel);

ALTER OPERATOR @extschema@.<@ (@extschema@.geohash, @extschema@.geohash[])
    SET (RESTRICT = @extschema@.geohash_contsel);
