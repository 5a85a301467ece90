-- Cluster membership: each marker's cluster, so that GROUP BY gives any aggregate per cluster
-- (a sum, counts per category, the newest marker). Design and table format:
-- src/core/cluster_membership.hpp; C functions: src/pg/cluster_membership.cpp.
--
--   WITH c AS (SELECT cluster_agg(lat, lon, 12, 60, id) AS clusters,
--                     cluster_membership(cluster_state_agg(lat, lon, 12, 60, id)) AS mb
--                FROM markers WHERE <filter>)
--   SELECT cluster_of(c.mb, lat, lon) AS k, count(*), sum(price) FROM c, markers WHERE <filter>
--    GROUP BY 1;
--
-- k is the 1-based position of the row's cluster in cluster_state_clusters(state), which is
-- cluster_agg's array for the same rows, zoom and radius_px. cluster_membership belongs in the
-- aggregate query: over a column of a plain subquery, the planner may inline it into the outer
-- query and run it once per row.

-- The state aggregate over quadkey and geohash positions, as cluster_agg has them (the lat/lon
-- form is in 50_cluster_agg.sql), so that cluster_of can place such positions. One declaration
-- per type, alike but for the transition function: SQL has no generic types.
CREATE AGGREGATE @extschema@.cluster_state_agg("position" @extschema@.quadkey, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_quadkey_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_state_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.cluster_state_agg("position" @extschema@.geohash, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_geohash_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_state_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

-- The state (validated as the deserialiser does: 22P03) clustered once, kept as a table from
-- each occupied bin to its cluster. O(bins) bytes.
CREATE FUNCTION @extschema@.cluster_membership(state bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cluster_membership' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_membership(bytea) IS
    'a cluster_state_agg state clustered once, as the bin -> cluster table that cluster_of reads';

-- The position's cluster: its 1-based index into cluster_state_clusters(state) (= cluster_agg's
-- array for the same rows, zoom and radius_px). Exact for every row that went into the state. A
-- position in a bin that no row of the state occupies gives NULL: nothing places it. A position
-- that did not go into the state but shares a bin with one that did gets that bin's cluster.
-- Bad positions raise the errors cluster_agg raises; a bytea that is not a membership table
-- raises 22P03.
CREATE FUNCTION @extschema@.cluster_of(membership bytea, lat float8, lon float8) RETURNS int
    AS 'MODULE_PATHNAME', 'cluster_of_latlon' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cluster_of(membership bytea, "position" @extschema@.quadkey) RETURNS int
    AS 'MODULE_PATHNAME', 'cluster_of_quadkey' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cluster_of(membership bytea, "position" @extschema@.geohash) RETURNS int
    AS 'MODULE_PATHNAME', 'cluster_of_geohash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
