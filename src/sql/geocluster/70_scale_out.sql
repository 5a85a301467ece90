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
-- cluster_viewport on each) merged into one clustering at zoom floor(zoom): while two centres are
-- closer than radius_px world pixels (256 px tiles, across the antimeridian too), the closest
-- two become one cluster (the input sorted first, so ties are broken the same way every time). The
-- result has no two centres closer than radius_px; every input marker is in exactly one cluster
-- (the counts add up); a merged centre is the count-weighted Web Mercator mean of its parts', so
-- of its members' (as each part's is, up to rounding); latitude bounds are the members' exact
-- ones and longitude bounds the shortest arc holding the parts' arcs, which is the members' exact
-- box whenever that box is narrower than 180 degrees (a wider one always holds every member);
-- id is the smallest member id. Cluster ids, expansion zooms and nesting across zooms are not
-- kept: a merged cluster is no node of any one hierarchy (docs/scale-out.md says why). Ordered
-- like cluster_viewport: count descending, north to south, west to east.
CREATE FUNCTION @extschema@.cluster_viewport_merge(nodes @extschema@.cluster_node[], zoom float8,
        radius_px float8 DEFAULT 60)
RETURNS @extschema@.marker_cluster[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mercator_max_lat constant float8 := 85.05112878;  -- the edge of Web Mercator, in degrees
    world_px float8;
    n int;
    cnt bigint[]; mx float8[]; my float8[]; ids bigint[];
    s_lat float8[]; w_lon float8[]; n_lat float8[]; e_lon float8[];
    alive boolean[];
    ca int[] := '{}'; cb int[] := '{}'; cd float8[] := '{}';   -- pairs closer than radius_px
    best int; i int; j int; k int; xj float8; total bigint; ncols bigint;
    arc_len_a float8; arc_len_b float8; start_a boolean; start_b boolean;
    reach_a float8; reach_b float8; sa float8; sb float8;
    result @extschema@.marker_cluster[];
BEGIN
    IF zoom = 'NaN'::float8 OR zoom < 0 OR zoom > 30 THEN
        RAISE EXCEPTION 'cluster_viewport_merge: zoom must be between 0 and 30, not %', zoom USING ERRCODE = '22023';
    END IF;
    IF radius_px = 'NaN'::float8 OR radius_px < 0 OR radius_px > 1e6 THEN
        RAISE EXCEPTION 'cluster_viewport_merge: radius_px must be between 0 and 1e6, not %', radius_px USING ERRCODE = '22023';
    END IF;
    world_px := 256.0::float8 * power(2.0::float8, floor(zoom));
    -- the parts in a fixed order, so that the result does not depend on the input's
    SELECT array_agg(c.count ORDER BY c.lat, c.lon, c.count, c.id),
           array_agg((c.lon + 180.0::float8) / 360.0::float8 ORDER BY c.lat, c.lon, c.count, c.id),
           array_agg(0.5::float8 - ln((1.0::float8 + sin(radians(greatest(-mercator_max_lat, least(mercator_max_lat, c.lat)))))
                                      / (1.0::float8 - sin(radians(greatest(-mercator_max_lat, least(mercator_max_lat, c.lat))))))
                                   / (4.0::float8 * pi()) ORDER BY c.lat, c.lon, c.count, c.id),
           array_agg(c.id ORDER BY c.lat, c.lon, c.count, c.id),
           array_agg(c.min_lat ORDER BY c.lat, c.lon, c.count, c.id), array_agg(c.min_lon ORDER BY c.lat, c.lon, c.count, c.id),
           array_agg(c.max_lat ORDER BY c.lat, c.lon, c.count, c.id), array_agg(c.max_lon ORDER BY c.lat, c.lon, c.count, c.id)
      INTO cnt, mx, my, ids, s_lat, w_lon, n_lat, e_lon
      FROM unnest(nodes) c
     WHERE c.count > 0 AND c.lat IS NOT NULL AND c.lon IS NOT NULL;
    n := coalesce(cardinality(cnt), 0);
    IF n = 0 THEN
        RETURN '{}';
    END IF;
    alive := array_fill(true, ARRAY[n]);
    -- every pair closer than radius_px, found by the executor through a grid of cells at least
    -- radius_px wide (ncols of them round the world, so that the antimeridian's neighbours are
    -- neighbours): only the nine cells around an item can hold its close ones
    IF radius_px > 0 THEN
        ncols := greatest(1, floor(world_px / radius_px)::bigint);
        SELECT coalesce(array_agg(p.a ORDER BY p.a, p.b), '{}'), coalesce(array_agg(p.b ORDER BY p.a, p.b), '{}'),
               coalesce(array_agg(p.d ORDER BY p.a, p.b), '{}')
          INTO ca, cb, cd
          FROM (SELECT DISTINCT ON (pr.i, c.i) pr.i AS a, c.i AS b,
                       sqrt(power(least(abs(mx[pr.i] - mx[c.i]), 1.0::float8 - abs(mx[pr.i] - mx[c.i])) * world_px, 2)
                            + power((my[pr.i] - my[c.i]) * world_px, 2)) AS d
                  FROM (SELECT g.q AS i, mod(floor(mx[g.q] * ncols::float8)::bigint + dx.v + ncols, ncols) AS cx,
                               floor(my[g.q] * world_px / radius_px)::bigint + dy.v AS cy
                          FROM generate_series(1, n) g(q), (VALUES (-1::bigint), (0::bigint), (1::bigint)) dx(v),
                               (VALUES (-1::bigint), (0::bigint), (1::bigint)) dy(v)) pr
                  JOIN (SELECT g.q AS i, mod(floor(mx[g.q] * ncols::float8)::bigint, ncols) AS cx,
                               floor(my[g.q] * world_px / radius_px)::bigint AS cy
                          FROM generate_series(1, n) g(q)) c
                    ON c.cx = pr.cx AND c.cy = pr.cy AND pr.i < c.i) p
         WHERE p.d < radius_px;
    END IF;
    LOOP
        best := NULL;
        FOR k IN 1 .. cardinality(ca) LOOP
            IF alive[ca[k]] AND alive[cb[k]] AND (best IS NULL OR cd[k] < cd[best]) THEN
                best := k;
            END IF;
        END LOOP;
        EXIT WHEN best IS NULL;
        i := ca[best]; j := cb[best];
        -- j joins i: the count-weighted Mercator mean, j's x taken on i's side of the antimeridian
        xj := mx[j];
        IF xj - mx[i] > 0.5::float8 THEN xj := xj - 1.0::float8; ELSIF mx[i] - xj > 0.5::float8 THEN xj := xj + 1.0::float8; END IF;
        total := cnt[i] + cnt[j];
        mx[i] := (mx[i] * cnt[i]::float8 + xj * cnt[j]::float8) / total::float8;
        IF mx[i] < 0.0::float8 THEN mx[i] := mx[i] + 1.0::float8; ELSIF mx[i] >= 1.0::float8 THEN mx[i] := mx[i] - 1.0::float8; END IF;
        my[i] := (my[i] * cnt[i]::float8 + my[j] * cnt[j]::float8) / total::float8;
        cnt[i] := total;
        ids[i] := least(ids[i], ids[j]);
        s_lat[i] := least(s_lat[i], s_lat[j]);
        n_lat[i] := greatest(n_lat[i], n_lat[j]);
        -- longitudes: the shorter of the arcs that start at one part's west edge and hold both
        -- parts (an arc holds a part when the part starts and ends on it in order)
        sa := w_lon[i]; sb := w_lon[j];
        -- an arc's length: west > east crosses 180; -180 to 180 is the whole circle
        arc_len_a := CASE WHEN e_lon[i] >= w_lon[i] THEN e_lon[i] - w_lon[i] ELSE e_lon[i] - w_lon[i] + 360.0::float8 END;
        arc_len_b := CASE WHEN e_lon[j] >= w_lon[j] THEN e_lon[j] - w_lon[j] ELSE e_lon[j] - w_lon[j] + 360.0::float8 END;
        start_a := mod((w_lon[j] - sa)::numeric + 360, 360)::float8 + arc_len_b <= 360.0::float8;
        reach_a := greatest(arc_len_a, mod((w_lon[j] - sa)::numeric + 360, 360)::float8 + arc_len_b);
        start_b := mod((w_lon[i] - sb)::numeric + 360, 360)::float8 + arc_len_a <= 360.0::float8;
        reach_b := greatest(arc_len_b, mod((w_lon[i] - sb)::numeric + 360, 360)::float8 + arc_len_a);
        IF (NOT start_a AND NOT start_b) OR least(CASE WHEN start_a THEN reach_a END, CASE WHEN start_b THEN reach_b END) >= 360.0::float8 THEN
            w_lon[i] := -180.0::float8; e_lon[i] := 180.0::float8;
        ELSIF start_a AND (NOT start_b OR reach_a <= reach_b) THEN
            IF reach_a > arc_len_a THEN e_lon[i] := e_lon[j]; END IF;
        ELSE
            w_lon[i] := w_lon[j];
            IF reach_b <= arc_len_b THEN e_lon[i] := e_lon[j]; END IF;
        END IF;
        alive[j] := false;
        -- pairs with i were measured before it moved: dropped, and measured again
        SELECT coalesce(array_agg(p.a ORDER BY p.o), '{}'), coalesce(array_agg(p.b ORDER BY p.o), '{}'),
               coalesce(array_agg(p.d ORDER BY p.o), '{}')
          INTO ca, cb, cd
          FROM unnest(ca, cb, cd) WITH ORDINALITY AS p(a, b, d, o)
         WHERE alive[p.a] AND alive[p.b] AND p.a <> i AND p.b <> i;
        SELECT ca || coalesce(array_agg(least(i, p.k) ORDER BY p.k), '{}'),
               cb || coalesce(array_agg(greatest(i, p.k) ORDER BY p.k), '{}'),
               cd || coalesce(array_agg(p.d ORDER BY p.k), '{}')
          INTO ca, cb, cd
          FROM (SELECT g.q AS k, sqrt(power(least(abs(mx[i] - mx[g.q]), 1.0::float8 - abs(mx[i] - mx[g.q])) * world_px, 2)
                                      + power((my[i] - my[g.q]) * world_px, 2)) AS d
                  FROM generate_series(1, n) g(q)
                 WHERE alive[g.q] AND g.q <> i AND abs(my[i] - my[g.q]) * world_px < radius_px) p
         WHERE p.d < radius_px;
    END LOOP;
    SELECT coalesce(array_agg(ROW(c.count, c.lat, c.lon, c.s, c.w, c.nn, c.e, c.id)::@extschema@.marker_cluster
                              ORDER BY c.count DESC, c.lat DESC, c.lon, c.id), '{}')
      INTO result
      FROM (SELECT cnt[g.q] AS count,
                   degrees(atan(sinh(pi() * (1.0::float8 - 2.0::float8 * my[g.q])))) AS lat,
                   mx[g.q] * 360.0::float8 - 180.0::float8 AS lon,
                   s_lat[g.q] AS s, w_lon[g.q] AS w, n_lat[g.q] AS nn, e_lon[g.q] AS e, ids[g.q] AS id
              FROM generate_series(1, n) g(q) WHERE alive[g.q]) c;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.cluster_viewport_merge(@extschema@.cluster_node[], float8, float8) IS
    'one clustering from the viewports of several shards'' hierarchies: parts closer than radius_px merged, closest first';
