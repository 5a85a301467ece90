-- cluster_agg: pixel-radius marker clustering for one zoom level, as an aggregate.
--
-- Radius is in screen pixels at 256 px tiles (Google, Bing, Leaflet); default 60 px. For 512 px
-- tiles (MapLibre GL / Mapbox GL) pass zoom + 1 with the same radius, or the same zoom with
-- radius_px / 2: a 512 px tile at zoom z shows the 256 px world of zoom z + 1.
-- The C functions are in src/pg/cluster_agg.cpp; the engine and its guarantees in
-- src/core/cluster.hpp.

CREATE TYPE @extschema@.marker_cluster AS (
    count bigint,       -- markers in the cluster
    lat float8,         -- centre: count-weighted mean of the members in Web Mercator
    lon float8,
    min_lat float8,     -- exact bounding box of the members; min_lon > max_lon when it crosses 180
    min_lon float8,
    max_lat float8,
    max_lon float8,
    id bigint           -- the marker's id when count = 1, else the smallest member id; NULL without ids
);
COMMENT ON TYPE @extschema@.marker_cluster IS 'one cluster of cluster_agg''s result';

-- Transition functions are not STRICT: a NULL position is skipped, a NULL id is "no id".
CREATE FUNCTION @extschema@.cluster_agg_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.cluster_agg_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cluster_agg_serialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cluster_agg_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_deserialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cluster_agg_finalfn(internal) RETURNS @extschema@.marker_cluster[]
    AS 'MODULE_PATHNAME', 'cluster_agg_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.cluster_state_finalfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cluster_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- cluster_agg over lat/lon: one declaration an arity (aggregates take no argument defaults);
-- the quadkey and geohash forms below repeat this block with their own transition function.
CREATE FUNCTION @extschema@.cluster_agg_latlon_transfn(internal, float8, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_latlon_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(lat float8, lon float8, zoom int) (
    SFUNC = @extschema@.cluster_agg_latlon_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_agg_latlon_transfn(internal, float8, float8, int, float8) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_latlon_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(lat float8, lon float8, zoom int, radius_px float8) (
    SFUNC = @extschema@.cluster_agg_latlon_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_agg_latlon_transfn(internal, float8, float8, int, float8, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_latlon_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(lat float8, lon float8, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_latlon_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

-- cluster_agg over quadkey positions (each stands for its cell centre)
CREATE FUNCTION @extschema@.cluster_agg_quadkey_transfn(internal, @extschema@.quadkey, int) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_quadkey_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg("position" @extschema@.quadkey, zoom int) (
    SFUNC = @extschema@.cluster_agg_quadkey_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_agg_quadkey_transfn(internal, @extschema@.quadkey, int, float8) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_quadkey_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg("position" @extschema@.quadkey, zoom int, radius_px float8) (
    SFUNC = @extschema@.cluster_agg_quadkey_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_agg_quadkey_transfn(internal, @extschema@.quadkey, int, float8, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_quadkey_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg("position" @extschema@.quadkey, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_quadkey_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

-- cluster_agg over geohash positions (each stands for its cell centre)
-- (the quadkey overloads' twin: SQL has no generic types, and aggregates no argument defaults)
CREATE FUNCTION @extschema@.cluster_agg_geohash_transfn(internal, @extschema@.geohash, int) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_geohash_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg("position" @extschema@.geohash, zoom int) (
    SFUNC = @extschema@.cluster_agg_geohash_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_agg_geohash_transfn(internal, @extschema@.geohash, int, float8) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_geohash_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg("position" @extschema@.geohash, zoom int, radius_px float8) (
    SFUNC = @extschema@.cluster_agg_geohash_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_agg_geohash_transfn(internal, @extschema@.geohash, int, float8, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_geohash_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg("position" @extschema@.geohash, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_geohash_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

-- The same clustering, kept as a serialised state (bytea) instead of clusters: states can be
-- stored, for example one per partition, and clustered later. cluster_state_clusters()
-- validates its input like the parallel deserialiser does.
CREATE AGGREGATE @extschema@.cluster_state_agg(lat float8, lon float8, zoom int, radius_px float8, id bigint) (
    SFUNC = @extschema@.cluster_agg_latlon_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_state_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE FUNCTION @extschema@.cluster_state_clusters(state bytea) RETURNS @extschema@.marker_cluster[]
    AS 'MODULE_PATHNAME', 'cluster_state_clusters' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Stored states merged: cluster_agg(state) clusters the union of the states' rows, exactly as
-- cluster_agg over those rows would (the parallel combine step does the same merge);
-- cluster_state_agg(state) keeps the union as a state, for roll-ups. The states must share zoom,
-- radius_px and whether they carry ids (22023 otherwise); NULL states are skipped. The README's
-- "Precomputed tiles" recipe stores one state per map tile, so that a world-zoom viewport merges a
-- few thousand states instead of reading millions of rows.
CREATE FUNCTION @extschema@.cluster_agg_state_transfn(internal, bytea) RETURNS internal
    AS 'MODULE_PATHNAME', 'cluster_agg_state_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cluster_agg(state bytea) (
    SFUNC = @extschema@.cluster_agg_state_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_agg_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);
CREATE AGGREGATE @extschema@.cluster_state_agg(state bytea) (
    SFUNC = @extschema@.cluster_agg_state_transfn, STYPE = internal,
    FINALFUNC = @extschema@.cluster_state_finalfn,
    COMBINEFUNC = @extschema@.cluster_agg_combinefn,
    SERIALFUNC = @extschema@.cluster_agg_serialfn, DESERIALFUNC = @extschema@.cluster_agg_deserialfn,
    PARALLEL = SAFE);

-- supercluster's point_count_abbreviated as text: below 1000 the count, below 10000 one decimal
-- and "k" (no trailing .0), else rounded thousands and "k" (halves round up, as Math.round).
--
-- Both bodies run with the caller's search_path (a SQL function that pins its own is no longer
-- inlined), so every operator is OPERATOR(pg_catalog.op), every type and function qualified, and
-- every literal cast to the exact type the operator takes: pg_catalog has no bigint / numeric,
-- and an operator that matches exactly, created in any schema on the path, would win over the
-- coercion (sql/security_search_path.sql).
CREATE FUNCTION @extschema@.cluster_point_count_abbreviated(count bigint) RETURNS text
    AS $$
    SELECT CASE
        WHEN count OPERATOR(pg_catalog.>=) 10000::bigint
            THEN pg_catalog.round(count::numeric OPERATOR(pg_catalog./) 1000.0::numeric)::bigint::pg_catalog.text
                 OPERATOR(pg_catalog.||) 'k'::pg_catalog.text
        WHEN count OPERATOR(pg_catalog.>=) 1000::bigint
            THEN pg_catalog.trim_scale(pg_catalog.round(count::numeric OPERATOR(pg_catalog./) 100.0::numeric)
                                       OPERATOR(pg_catalog./) 10::numeric)::pg_catalog.text
                 OPERATOR(pg_catalog.||) 'k'::pg_catalog.text
        ELSE count::pg_catalog.text END
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;

-- The top-level GeoJSON id of a cluster feature: 2^52 plus 52 bits of a SHA-256 of the
-- cluster's count, smallest member id and bounds, so that the same members give the same id in
-- every response (the id is all a map library keys its feature state on, and that state outlives
-- the data it was set on). Ids in [2^52, 2^53) are integers that JavaScript holds exactly, that
-- MapLibre takes without promoteId and that vector tiles take (unsigned); marker ids get a
-- top-level id only below 2^52 (cluster_marker_feature_id), so no cluster id is ever a marker's.
-- SHA-256 of the values' binary send forms: the same on every platform and under every
-- extra_float_digits. Two clusters of one response share an id with a chance of about
-- n^2 / 2^53 (1e-9 for 3,000 clusters).
CREATE FUNCTION @extschema@.cluster_feature_id(count bigint, min_lat float8, min_lon float8, max_lat float8,
        max_lon float8, id bigint) RETURNS bigint
    AS $$
    SELECT 4503599627370496::bigint OPERATOR(pg_catalog.+) (('x'::pg_catalog.text OPERATOR(pg_catalog.||)
        pg_catalog.encode(pg_catalog.substr(pg_catalog.sha256(
            pg_catalog.int8send(count) OPERATOR(pg_catalog.||) pg_catalog.int8send(COALESCE(id, '-1'::bigint))
            OPERATOR(pg_catalog.||) pg_catalog.float8send(min_lat) OPERATOR(pg_catalog.||) pg_catalog.float8send(min_lon)
            OPERATOR(pg_catalog.||) pg_catalog.float8send(max_lat) OPERATOR(pg_catalog.||) pg_catalog.float8send(max_lon)),
            1::integer, 7::integer), 'hex'::pg_catalog.text))::pg_catalog."bit"(56)::bigint OPERATOR(pg_catalog.>>) 4::integer)
    $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_feature_id(bigint, float8, float8, float8, float8, bigint) IS
    'the top-level GeoJSON id of a cluster: in [2^52, 2^53), the same for the same members, never a marker''s';

-- The top-level GeoJSON id of a single marker: its id when it is in [0, 2^52), else none (NULL):
-- above that range lie the clusters' ids, and below zero vector tiles have no ids.
CREATE FUNCTION @extschema@.cluster_marker_feature_id(id bigint) RETURNS bigint
    AS $$
    SELECT CASE WHEN id OPERATOR(pg_catalog.>=) 0::bigint AND id OPERATOR(pg_catalog.<) 4503599627370496::bigint
                THEN id END
    $$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_marker_feature_id(bigint) IS
    'the top-level GeoJSON id of a single marker: its id when in [0, 2^52), else NULL';

-- GeoJSON for map libraries, shaped like supercluster's getClusters() so that MapLibre/Mapbox GL
-- cluster styles work unchanged. Features keep the array's order.
--  * A cluster (count > 1): a top-level "id" (cluster_feature_id: never a marker's id, the same
--    for the same members), properties cluster: true, cluster_id, point_count and
--    point_count_abbreviated (a number below 1000, else text such as "1.2k"), and the members'
--    bbox ([west, south, east, north]; west > east across the antimeridian, RFC 7946 5.2).
--    cluster_id is the smallest member's id (absent without ids): a key within one response.
--  * A single marker: the marker itself, as supercluster gives an input point back: "id" its id
--    (cluster_marker_feature_id: absent when NULL, negative or 2^52 or more), coordinates exactly
--    as stored (its bounds, not the Mercator-mean centre, which differs in the last bits), and
--    properties that are only its own, so that ['has', 'point_count'] tells clusters apart:
--    {} or, with marker_properties, the object stored there under its id as text (a marker
--    left out of it gets {}).
CREATE FUNCTION @extschema@.cluster_geojson(clusters @extschema@.marker_cluster[], marker_properties jsonb)
RETURNS jsonb
    AS $$
    SELECT CASE WHEN clusters IS NOT NULL THEN pg_catalog.jsonb_build_object(
        'type'::pg_catalog.text, 'FeatureCollection'::pg_catalog.text,
        'features'::pg_catalog.text, COALESCE(pg_catalog.jsonb_agg(CASE
            WHEN c.count OPERATOR(pg_catalog.=) 1::bigint THEN pg_catalog.jsonb_build_object(
                'type'::pg_catalog.text, 'Feature'::pg_catalog.text,
                'geometry'::pg_catalog.text, pg_catalog.jsonb_build_object(
                    'type'::pg_catalog.text, 'Point'::pg_catalog.text,
                    'coordinates'::pg_catalog.text, pg_catalog.jsonb_build_array(c.min_lon, c.min_lat)),
                'properties'::pg_catalog.text, COALESCE(marker_properties OPERATOR(pg_catalog.->) c.id::pg_catalog.text, '{}'::pg_catalog.jsonb))
                OPERATOR(pg_catalog.||) CASE WHEN @extschema@.cluster_marker_feature_id(c.id) IS NULL THEN '{}'::pg_catalog.jsonb
                                             ELSE pg_catalog.jsonb_build_object('id'::pg_catalog.text, c.id) END
            ELSE pg_catalog.jsonb_build_object(
                'type'::pg_catalog.text, 'Feature'::pg_catalog.text,
                'id'::pg_catalog.text, @extschema@.cluster_feature_id(c.count, c.min_lat, c.min_lon, c.max_lat, c.max_lon, c.id),
                'bbox'::pg_catalog.text, pg_catalog.jsonb_build_array(c.min_lon, c.min_lat, c.max_lon, c.max_lat),
                'geometry'::pg_catalog.text, pg_catalog.jsonb_build_object(
                    'type'::pg_catalog.text, 'Point'::pg_catalog.text,
                    'coordinates'::pg_catalog.text, pg_catalog.jsonb_build_array(c.lon, c.lat)),
                'properties'::pg_catalog.text, pg_catalog.jsonb_build_object(
                    'cluster'::pg_catalog.text, true,
                    'point_count'::pg_catalog.text, c.count,
                    'point_count_abbreviated'::pg_catalog.text, CASE
                        WHEN c.count OPERATOR(pg_catalog.<) 1000::bigint THEN pg_catalog.to_jsonb(c.count)
                        ELSE pg_catalog.to_jsonb(@extschema@.cluster_point_count_abbreviated(c.count)) END)
                    OPERATOR(pg_catalog.||) CASE WHEN c.id IS NULL THEN '{}'::pg_catalog.jsonb
                                                 ELSE pg_catalog.jsonb_build_object('cluster_id'::pg_catalog.text, c.id) END)
            END ORDER BY c.ord), '[]'::pg_catalog.jsonb)) END
      FROM pg_catalog.unnest(clusters) WITH ORDINALITY
           AS c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, ord)
    $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_geojson(@extschema@.marker_cluster[], jsonb) IS
    'GeoJSON FeatureCollection of clusters as supercluster gives them; single markers carry marker_properties->(id::pg_catalog.text) as their properties';

-- Without marker properties: single markers have {} for properties. NULL in, NULL out.
CREATE FUNCTION @extschema@.cluster_geojson(clusters @extschema@.marker_cluster[]) RETURNS jsonb
    AS $$ SELECT @extschema@.cluster_geojson(clusters, '{}'::pg_catalog.jsonb) $$
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
