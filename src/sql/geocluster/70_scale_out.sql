-- Scale-out: a marker table sharded over several servers with PostgreSQL's own machinery
-- (postgres_fdw foreign partitions). docs/scale-out.md has the design, the set-up and what
-- holds exactly.

-- cluster_agg over a partitioned table whose partitions may be foreign tables on other servers:
-- every partition computes cluster_state_agg over its rows in the viewport (the box, edges
-- included, west > east across the antimeridian; all four NULL for no box) that pass filter, and
-- this server merges the states with cluster_agg(state). The result is byte for byte cluster_agg
-- over the same rows on one server. Grouping by the partition key is what lets the planner
-- aggregate each partition whole (enable_partitionwise_aggregate, set here for the call), and a
-- whole aggregate over a foreign partition is what postgres_fdw sends to the shard, when the
-- foreign server lists geocluster in its extensions option (a partial aggregate is never sent:
-- without the GROUP BY every row would cross the network). async_capable on the servers makes
-- the shards work at the same time.
--
-- filter is SQL text (a boolean expression over source's columns, NULL for none), run as the
-- caller with search_path pg_catalog, pg_temp: qualify what it names. Like any query the caller
-- writes, it can do only what the caller may. The id column may be NULL (no ids).
CREATE FUNCTION @extschema@.cluster_agg_sharded(source regclass, partition_column name,
        south float8, west float8, north float8, east float8, zoom int, radius_px float8 DEFAULT 60,
        filter text DEFAULT NULL, lat_column name DEFAULT 'lat', lon_column name DEFAULT 'lon',
        id_column name DEFAULT 'id')
RETURNS @extschema@.marker_cluster[]
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    SET enable_partitionwise_aggregate = on
AS $$
DECLARE
    box text := 'true';
    result @extschema@.marker_cluster[];
BEGIN
    IF source IS NULL OR partition_column IS NULL OR zoom IS NULL OR radius_px IS NULL
       OR lat_column IS NULL OR lon_column IS NULL THEN
        RAISE EXCEPTION 'cluster_agg_sharded: source, partition_column, zoom, radius_px, lat_column and lon_column must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    IF south IS NOT NULL AND west IS NOT NULL AND north IS NOT NULL AND east IS NOT NULL THEN
        box := format(CASE WHEN west <= east THEN '%1$I BETWEEN $1 AND $3 AND %2$I BETWEEN $2 AND $4'
                           ELSE '%1$I BETWEEN $1 AND $3 AND (%2$I >= $2 OR %2$I <= $4)' END,
                      lat_column, lon_column);
    ELSIF south IS NOT NULL OR west IS NOT NULL OR north IS NOT NULL OR east IS NOT NULL THEN
        RAISE EXCEPTION 'cluster_agg_sharded: give all four edges of the viewport, or none'
            USING ERRCODE = '22023';
    END IF;
    EXECUTE format('SELECT @extschema@.cluster_agg(s.state) FROM ('
                   'SELECT @extschema@.cluster_state_agg(%I, %I, $5, $6, %s) AS state FROM %s '
                   'WHERE %s AND (%s) GROUP BY %I) s',
                   lat_column, lon_column,
                   CASE WHEN id_column IS NULL THEN 'NULL::pg_catalog.int8' ELSE quote_ident(id_column) END,
                   source, box, coalesce(filter, 'true'), partition_column)
        INTO result
        USING south, west, north, east, zoom, radius_px;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.cluster_agg_sharded(regclass, name, float8, float8, float8, float8, int, float8, text, name, name, name) IS
    'cluster_agg over a viewport of a (foreign-)partitioned table: one cluster_state_agg per partition, pushed down to the shards, merged here';

-- The viewports of several hierarchies of disjoint marker sets (one per shard, from
-- cluster_viewport on each) clustered again as one, at zoom floor(zoom) (0 to 30), by the
-- clustering engine of cluster_agg and the hierarchies: each node is one weighted item, as a
-- hierarchy clusters the clusters of one zoom at the next coarser zoom (src/core/viewport_merge.hpp;
-- docs/scale-out.md has the guarantees in full). No two result centres are closer than radius_px
-- world pixels (256 px tiles, across the antimeridian too; radius_px 0 merges nothing); every
-- input marker is in exactly one cluster (the counts add up); a centre is the count-weighted Web
-- Mercator mean of its parts' centres, so of its members' (a part's west-of-0 centre counted at
-- x + 1 when the result's box crosses 180; only approximately in a cluster that holds a part
-- across 180 and one across 0, whose box is then the whole world); latitude bounds are the parts' exact ones; longitude
-- bounds are cluster_agg's rule applied to the parts' boxes, the members' exact box whenever no
-- part's box holds longitude 0 or crosses 180, and always holding every member; id is the
-- smallest member id (NULL when no part has one). The result does not depend on the order of the
-- nodes. Nodes with a NULL, zero or negative count or a NULL centre are left out; a bound NULL
-- where count and centre are not is 22004. Cluster ids, expansion zooms and nesting across zooms
-- are not kept: a merged cluster is no node of any one hierarchy. Ordered like cluster_agg:
-- count descending, north to south, west to east. The nodes' items and their sorted copy (256
-- bytes a node), then the engine's scratch, are bounded by geocluster.max_state_memory (54000
-- past it: about a million nodes under the default), and all counts together by 2^46 (54000).
CREATE FUNCTION @extschema@.cluster_viewport_merge(nodes @extschema@.cluster_node[], zoom float8,
        radius_px float8 DEFAULT 60)
RETURNS @extschema@.marker_cluster[]
    AS 'MODULE_PATHNAME', 'cluster_viewport_merge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cluster_viewport_merge(@extschema@.cluster_node[], float8, float8) IS
    'one clustering from the viewports of several shards'' hierarchies: the nodes clustered again by the engine at radius_px';
