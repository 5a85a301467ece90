-- cluster_agg over Point geometries: cluster_agg(geom geometry, zoom int [, radius_px float8
-- [, id bigint]]), the same aggregate as cluster_agg(lat, lon, zoom ...) with the same state,
-- final, combine and (de)serialisation functions, so the same guarantees: deterministic for any
-- row order and parallel split, counts that add up, exact member bounds.
--
-- The transition function is geocluster's C function cluster_agg_geometry_transfn
-- (src/pg/cluster_agg_geometry.cpp): geocluster does not link against PostGIS, so it reads each
-- geometry through PostGIS's SQL functions (ST_SRID, ST_X, ST_Y, ST_Transform...) looked up in
-- the geometry type's schema. A NULL geometry is skipped, like a NULL lat/lon; a geometry that
-- is not a non-empty Point with an SRID is the same 22023 error as quadkey(geom, zoom) gives.
-- One declaration an arity, as in 50_cluster_agg.sql: aggregates take no argument defaults.

SELECT @extschema@.geocluster_postgis_install($script$

CREATE FUNCTION @extschema@.cluster_agg_geometry_transfn(internal, @extschema:postgis@.geometry, int)
    RETURNS internal AS 'MODULE_PATHNAME', 'cluster_agg_geometry_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(geom @extschema:postgis@.geometry, zoom int) (
    SFUNC = @extschema@.cluster_agg_geometry_transfn, STYPE = internal,
    FINALFUNC = @extschema:geocluster@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema:geocluster@.cluster_agg_combinefn,
    SERIALFUNC = @extschema:geocluster@.cluster_agg_serialfn,
    DESERIALFUNC = @extschema:geocluster@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

CREATE FUNCTION @extschema@.cluster_agg_geometry_transfn(internal, @extschema:postgis@.geometry, int, float8)
    RETURNS internal AS 'MODULE_PATHNAME', 'cluster_agg_geometry_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(geom @extschema:postgis@.geometry, zoom int, radius_px float8) (
    SFUNC = @extschema@.cluster_agg_geometry_transfn, STYPE = internal,
    FINALFUNC = @extschema:geocluster@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema:geocluster@.cluster_agg_combinefn,
    SERIALFUNC = @extschema:geocluster@.cluster_agg_serialfn,
    DESERIALFUNC = @extschema:geocluster@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

CREATE FUNCTION @extschema@.cluster_agg_geometry_transfn(internal, @extschema:postgis@.geometry, int, float8, bigint)
    RETURNS internal AS 'MODULE_PATHNAME', 'cluster_agg_geometry_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(geom @extschema:postgis@.geometry, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_geometry_transfn, STYPE = internal,
    FINALFUNC = @extschema:geocluster@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema:geocluster@.cluster_agg_combinefn,
    SERIALFUNC = @extschema:geocluster@.cluster_agg_serialfn,
    DESERIALFUNC = @extschema:geocluster@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

$script$);
