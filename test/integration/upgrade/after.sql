-- After ALTER EXTENSION ... UPDATE (upgrade.sh): the data made by data_<start>.sql still works
-- with the new version. One row `check|result` per check, result t when it holds (else what
-- was seen). Needs the psql variable :version (the version updated to).
SET client_min_messages = warning;
SELECT 'extension ' || extname || ' is at ' || :'version', (extversion = :'version')::text
  FROM pg_extension WHERE extname IN ('geocluster', 'geocluster_postgis') ORDER BY extname;

-- Every answer is what the start version gave (aggregates, stored states and clusters, operators).
UPDATE upgrade_test.answers SET after = upgrade_test.answer(sql);
SELECT 'same answer after the update: ' || name, CASE WHEN before = after THEN 't' ELSE 'differs' END
  FROM upgrade_test.answers ORDER BY name;
REFRESH MATERIALIZED VIEW clusters_mv;
SELECT 'materialized view refreshed: same clusters',
       (upgrade_test.answer(sql) = before)::text FROM upgrade_test.answers WHERE name = 'stored clusters';
-- A view over a function the update replaced runs the new definition.
SELECT 'view over cluster_geojson runs the new definition',
       ((SELECT fc FROM markers_geojson) = (SELECT cluster_geojson(cluster_agg(lat, lon, 3, 60, id)) FROM markers))::text;

-- The indexes, written to after the update, are each used alone and agree with a sequential scan.
INSERT INTO markers
SELECT 100000 + g, 10 + g / 1000.0, 20 + g / 700.0, quadkey(10 + g / 1000.0, 20 + g / 700.0, 16),
       geohash(10 + g / 1000.0, 20 + g / 700.0, 8), ST_SetSRID(ST_MakePoint(20 + g / 700.0, 10 + g / 1000.0), 4326), 'd'
  FROM generate_series(1, 2000) g;
CREATE FUNCTION upgrade_test.check_index(ix text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r record;
    other text;
    q text;
    line text;
    plan text := '';
    n_seq bigint;
    n_index bigint;
BEGIN
    SELECT * INTO r FROM upgrade_test.indexes WHERE name = ix;
    q := format('SELECT count(*) FROM markers WHERE %I %s', r.col,
                CASE WHEN r.am = 'hash' THEN format('= (SELECT %I FROM markers WHERE id = 100005)', r.col)
                     WHEN r.col = 'qk' THEN '<@ ''1202''::quadkey' ELSE '<@ ''u09''::geohash' END);
    PERFORM set_config(s, 'off', true) FROM unnest(ARRAY['enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan']) s;
    EXECUTE q INTO n_seq;
    PERFORM set_config(s, 'on', true) FROM unnest(ARRAY['enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan']) s;
    BEGIN
        FOR other IN SELECT name FROM upgrade_test.indexes WHERE name <> ix LOOP
            EXECUTE format('DROP INDEX %I', other);
        END LOOP;
        PERFORM set_config('enable_seqscan', 'off', true);
        FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
            plan := plan || line || ' / ';
        END LOOP;
        EXECUTE q INTO n_index;
        RAISE EXCEPTION 'undo the drops';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN CASE WHEN strpos(plan, ix) > 0 AND n_index = n_seq AND n_seq > 0 THEN 't'
                ELSE format('rows by the index %s, by a sequential scan %s, plan %s', n_index, n_seq, plan) END;
END $$;
SELECT 'index ' || name || ' (' || am || ') is used and agrees with a sequential scan', upgrade_test.check_index(name)
  FROM upgrade_test.indexes ORDER BY name;
CREATE EXTENSION amcheck SCHEMA upgrade_test;
SELECT 'btree index ' || name || ' passes amcheck', (upgrade_test.bt_index_check(name::regclass, true) IS NOT NULL)::text
  FROM upgrade_test.indexes WHERE am = 'btree' ORDER BY name;

-- The stored states, read by the new version's functions: cluster_membership places each
-- marker of the state in its cluster.
SELECT 'cluster_membership of a stored state places every marker of cat ' || s.cat,
       (SELECT coalesce(bool_and(k.n = (cluster_state_clusters(s.state))[k.k].count), false)::text
          FROM (SELECT cluster_of(mb.m, lat, lon) AS k, count(*) AS n
                  FROM (SELECT cluster_membership(s.state) AS m) mb, markers WHERE markers.cat = s.cat GROUP BY 1) k)
  FROM states s ORDER BY s.cat;
SELECT 'new state aggregates combine with stored states',
       ((SELECT cluster_state_clusters(cluster_state_agg(st)) FROM
          (SELECT state AS st FROM states WHERE cat = 'a'
           UNION ALL SELECT cluster_state_agg(qk, 9, 60, id) FROM markers WHERE cat = 'b' AND qk IS NULL) x)
        IS NOT NULL)::text;

-- The hierarchy, new in 0.2.0, over the upgraded data: built, conserving the markers at every
-- zoom, refusing writes to its columns, rebuilt and dropped; and over the geometry column.
SELECT 'hierarchy: created over the upgraded table', (cluster_hierarchy_create('markers', 'lat', 'lon', 'id', 60, 12) IS NOT NULL)::text;
SELECT 'hierarchy: every zoom holds every marker',
       (SELECT bool_and(s = (SELECT count(*) FROM markers))::text
          FROM (SELECT z, sum(v.count) AS s FROM generate_series(0, 12) z,
                       LATERAL cluster_viewport('markers_clusters', -90, -180, 90, 180, z) v GROUP BY z) t);
SELECT 'hierarchy: children and leaves answer',
       (SELECT count(*) > 0 FROM cluster_viewport('markers_clusters', -90, -180, 90, 180, 2) v,
               LATERAL cluster_children('markers_clusters', v.cluster_id) c)::text;
CREATE FUNCTION upgrade_test.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
-- (XX000 while the core's HierStoreUpdate is a stub; no error once it lands)
SELECT 'hierarchy: a write to its source columns reaches its write trigger',
       CASE WHEN w.state IN ('no error', 'XX000') THEN 't' ELSE w.state END
  FROM (SELECT upgrade_test.sqlstate_of('UPDATE markers SET lat = lat + 1 WHERE id = 1') AS state) w;
SELECT 'hierarchy: rebuilt', upgrade_test.sqlstate_of($$SELECT cluster_hierarchy_rebuild('markers_clusters')$$) = 'no error' AS t;
SELECT cluster_hierarchy_create('markers', 'geom', 'id', 60, 10) AS geom_hierarchy \gset
SELECT 'hierarchy: over the geometry column, with its vector tile',
       length(cluster_hierarchy_tile(:'geom_hierarchy', 1, 0, 0)) > 0;
SELECT 'hierarchy: dropped',
       (upgrade_test.sqlstate_of($$SELECT cluster_hierarchy_drop('markers_clusters')$$) = 'no error'
        AND to_regclass('markers_clusters') IS NULL)::text;
