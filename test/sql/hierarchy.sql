-- The stored cluster hierarchy at the SQL level: create, viewport, drill-down, partitions, odd
-- names, ownership, the write refusal, rebuild, determinism, drop, argument errors with their
-- SQLSTATEs, and the viewport's index scan. Its guarantees over random data (separation,
-- centres, nesting at every zoom...) are property-tested in test/integration/hierarchy_properties.sh.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

-- The SQLSTATE a statement raises and its message ('ok' when it raises none).
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- A table with awkward names, owned by a role that is not the caller, in a schema of its own.
CREATE ROLE geocluster_hier_owner;
CREATE ROLE geocluster_hier_other;
CREATE SCHEMA "odd Sch";
GRANT USAGE, CREATE ON SCHEMA "odd Sch" TO geocluster_hier_owner, geocluster_hier_other;
CREATE TABLE "odd Sch"."Mark ers" ("I d" int, "Lat itude" float8, "Lon gitude" numeric, "Cat" text, note text);
ALTER TABLE "odd Sch"."Mark ers" OWNER TO geocluster_hier_owner;
-- 400 markers on a grid over Paris, a clump of 30 at one spot, 6 across the antimeridian, 3 near
-- the north pole, and 3 without a position (skipped).
INSERT INTO "odd Sch"."Mark ers"
SELECT g, 48.80 + (g % 20) * 0.004, 2.25 + (g / 20) * 0.006, CASE WHEN g % 3 = 0 THEN 'shop' ELSE 'cafe' END, 'grid'
  FROM generate_series(0, 399) g
UNION ALL SELECT 1000 + g, 40.4168, -3.7038, 'cafe', 'clump' FROM generate_series(0, 29) g
UNION ALL SELECT 2000 + g, -17.7 + g * 0.01, CASE WHEN g % 2 = 0 THEN 179.99 ELSE -179.99 END, 'shop', 'fiji'
  FROM generate_series(0, 5) g
UNION ALL SELECT 3000 + g, 89.9 - g * 0.01, 10 + g, 'cafe', 'pole' FROM generate_series(0, 2) g
UNION ALL SELECT 4000 + g, CASE WHEN g = 0 THEN NULL ELSE 1 END, CASE WHEN g = 1 THEN NULL ELSE 1 END, 'cafe', 'nowhere'
  FROM generate_series(0, 2) g WHERE g < 2
UNION ALL SELECT 4002, NULL, NULL, 'cafe', 'nowhere';
SELECT count(*) AS rows, count("Lat itude" + "Lon gitude") AS positioned FROM "odd Sch"."Mark ers";

-- ---- create ---------------------------------------------------------------------------------
SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 60, 12) AS h1;
-- A second hierarchy of the same table (another radius) gets the next name.
SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 120, 10) AS h2;
-- Its tables are in the source's schema, owned by the source's owner.
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner
  FROM pg_class c WHERE c.relnamespace = '"odd Sch"'::regnamespace ORDER BY c.relname;
SELECT * FROM cluster_hierarchy_info('"odd Sch"."Mark ers_clusters"');
SELECT pg_catalog.obj_description('"odd Sch"."Mark ers_clusters"'::regclass, 'pg_class');

-- Every zoom counts every positioned marker once; a zoom has no more clusters than the next.
SELECT bool_and(total = 439) AS conservation, bool_and(clusters <= coalesce(next_clusters, clusters)) AS coarser_is_fewer,
       count(*) = 13 AS zooms_0_to_12
  FROM (SELECT zoom, sum(count) AS total, count(*) AS clusters,
               lead(count(*)) OVER (ORDER BY zoom) AS next_clusters
          FROM "odd Sch"."Mark ers_clusters" GROUP BY zoom) z;
SELECT count(*) = 439 AS one_member_row_per_marker, count(DISTINCT id) = 439 AS ids FROM "odd Sch"."Mark ers_clusters_members";
-- Nesting: every cluster below zoom 12 is the sum of its children; ids are zoom << 40 | ordinal.
SELECT bool_and(p.count = (SELECT sum(c.count) FROM "odd Sch"."Mark ers_clusters" c WHERE c.parent_id = p.cluster_id))
       AS children_add_up,
       bool_and(p.cluster_id >> 40 = p.zoom) AS id_carries_zoom
  FROM "odd Sch"."Mark ers_clusters" p WHERE p.zoom < 12;
SELECT bool_and((c.parent_id IS NULL) = (c.zoom = 0)) AND bool_and(p.zoom = c.zoom - 1 OR c.parent_id IS NULL) AS parents_one_zoom_up
  FROM "odd Sch"."Mark ers_clusters" c LEFT JOIN "odd Sch"."Mark ers_clusters" p ON p.cluster_id = c.parent_id;

-- ---- viewports ------------------------------------------------------------------------------
-- The world at zoom 0 (Leaflet's out-of-range longitudes): the clump, Paris, Fiji, the pole.
SELECT cluster_id, zoom, count, round(lat::numeric, 6) AS lat, round(lon::numeric, 6) AS lon,
       min_lat, min_lon, max_lat, max_lon, id, expansion_zoom
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -85.05, -215.156, 85.05, 234.84, 0);
-- Fiji's cluster straddles the antimeridian: its box has min_lon > max_lon, its centre is at 180.
SELECT count, min_lon > max_lon AS crosses, abs(abs(lon) - 180) < 0.01 AS centre_at_180
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -20, 170, -15, -170, 4);
-- A viewport is exactly the stored clusters of that zoom whose centre is in the box, edges
-- included (independent oracle: the nodes table); fractional zooms are floored.
CREATE TEMP TABLE boxes (s float8, w float8, n float8, e float8, z float8, parts float8[]);
INSERT INTO boxes VALUES
  (48.8, 2.25, 48.9, 2.4, 10, '{2.25,2.4}'), (48.8, 2.25, 48.9, 2.4, 11.7, '{2.25,2.4}'),
  (-90, -180, 90, 180, 3, '{-180,180}'), (-30, 170, 0, -170, 5, '{170,180,-180,-170}'),
  (-30, -190, 0, -170, 5, '{170,180,-180,-170}'), (-30, 530, 0, 550, 5, '{170,180,-180,-170}'),
  (48.8, 2.25 - 720, 48.9, 2.4 - 720, 12, '{2.25,2.4}'), (40, -4, 41, -3, 12, '{-4,-3}'),
  (-90, 0, 90, -0.0001, 2, '{0,180,-180,-0.0001}');
SELECT s, w, n, e, z,
       (SELECT count(*) FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', s, w, n, e, z)) AS returned,
       (SELECT array_agg(cluster_id ORDER BY cluster_id) FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', s, w, n, e, z))
       IS NOT DISTINCT FROM
       (SELECT array_agg(c.cluster_id ORDER BY c.cluster_id) FROM "odd Sch"."Mark ers_clusters" c
         WHERE c.zoom = floor(z) AND c.lat BETWEEN s AND n
           AND (c.lon BETWEEN parts[1] AND parts[2] OR (cardinality(parts) = 4 AND c.lon BETWEEN parts[3] AND parts[4])))
       AS same_as_oracle
  FROM boxes;
-- The order: count descending, then north to south, then west to east.
SELECT bool_and(ok) AS ordered FROM (
  SELECT (-count, -lat, lon) > lag((-count, -lat, lon)) OVER (ORDER BY ord) IS NOT FALSE AS ok
    FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -90, -180, 90, 180, 11) WITH ORDINALITY AS v(cluster_id, zoom, count, lat, lon, a, b, c, d, id, ez, ord)) o;
-- Beyond max_zoom: the single markers in the box, at their exact positions.
SELECT cluster_id, zoom, count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, expansion_zoom
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 48.8, 2.25, 48.808, 2.25, 13.5);
SELECT count(*) = 30 AS whole_clump FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 20);
-- A box without clusters is an empty set.
SELECT count(*) AS empty_box FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 1, 5);

-- ---- drill-down -------------------------------------------------------------------------------
-- children are exactly the nodes whose parent it is, at the next zoom.
SELECT bool_and((SELECT array_agg(c.cluster_id ORDER BY c.cluster_id) FROM cluster_children('"odd Sch"."Mark ers_clusters"', p.cluster_id) c)
                IS NOT DISTINCT FROM
                (SELECT array_agg(c.cluster_id ORDER BY c.cluster_id) FROM "odd Sch"."Mark ers_clusters" c WHERE c.parent_id = p.cluster_id))
       AS children_are_the_parents_nodes,
       bool_and((SELECT bool_and(c.zoom = p.zoom + 1) FROM cluster_children('"odd Sch"."Mark ers_clusters"', p.cluster_id) c)
                IS NOT FALSE) AS next_zoom
  FROM "odd Sch"."Mark ers_clusters" p;
-- The clump never splits (one position): expansion zoom max_zoom + 1; a single marker: NULL.
SELECT count, cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', cluster_id) AS expansion_zoom
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 5)
UNION ALL
SELECT count, cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', cluster_id)
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 89, 0, 90, 20, 12) WHERE count = 1;
-- Expansion zoom = the lowest zoom above with more than one descendant.
WITH RECURSIVE d AS (
  SELECT cluster_id AS top, cluster_id, zoom FROM "odd Sch"."Mark ers_clusters" WHERE count > 1
  UNION ALL
  SELECT d.top, c.cluster_id, c.zoom FROM d JOIN "odd Sch"."Mark ers_clusters" c ON c.parent_id = d.cluster_id)
SELECT bool_and(n.expansion_zoom = coalesce(
         (SELECT min(zoom) FROM (SELECT zoom FROM d WHERE d.top = n.cluster_id GROUP BY zoom HAVING count(*) > 1) s), 13))
       AS expansion_zoom_is_first_split
  FROM "odd Sch"."Mark ers_clusters" n WHERE n.count > 1;
-- Leaves: the members in id order, paged; all pages together are the members.
SELECT cluster_leaves('"odd Sch"."Mark ers_clusters"', cluster_id, 5, 3) AS clump_page
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 5);
-- (oracle: the members whose leaf lies below the cluster, found by walking the parent links up)
WITH RECURSIVE up AS (
  SELECT m.id, m.leaf_id AS cluster_id FROM "odd Sch"."Mark ers_clusters_members" m
  UNION ALL
  SELECT up.id, n.parent_id FROM up JOIN "odd Sch"."Mark ers_clusters" n ON n.cluster_id = up.cluster_id
   WHERE n.parent_id IS NOT NULL)
SELECT bool_and((SELECT array_agg(l ORDER BY page, ord) FROM generate_series(0, 9) page,
                        LATERAL cluster_leaves('"odd Sch"."Mark ers_clusters"', v.cluster_id, 50, page * 50) WITH ORDINALITY AS x(l, ord))
                = (SELECT array_agg(up.id ORDER BY up.id) FROM up WHERE up.cluster_id = v.cluster_id)) AS leaves_are_the_members,
       count(*) > 3 AS several_clusters
  FROM "odd Sch"."Mark ers_clusters" v WHERE v.zoom IN (0, 4, 9, 12);
SELECT count(*) AS unknown_id_children FROM cluster_children('"odd Sch"."Mark ers_clusters"', -5);
SELECT cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', -5) AS unknown_id_expansion;
SELECT count(*) AS unknown_id_leaves FROM cluster_leaves('"odd Sch"."Mark ers_clusters"', -5);

-- ---- GeoJSON ---------------------------------------------------------------------------------
SELECT jsonb_pretty(cluster_viewport_geojson('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 3));
SELECT jsonb_array_length(cluster_viewport_geojson('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 1, 3) -> 'features') AS no_features;

-- ---- partitions ------------------------------------------------------------------------------
SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 60, 12, 'Cat') AS h3;
SELECT part, zoom, sum(count) AS markers, count(*) AS clusters FROM "odd Sch"."Mark ers_clusters_3"
 WHERE zoom IN (0, 12) GROUP BY part, zoom ORDER BY part, zoom;
-- Ids are unique across partitions; a partition's viewport holds only its clusters.
SELECT count(*) = count(DISTINCT cluster_id) AS unique_ids FROM "odd Sch"."Mark ers_clusters_3";
SELECT part, (SELECT sum(count) FROM cluster_viewport('"odd Sch"."Mark ers_clusters_3"', -90, -180, 90, 180, 0, part)) AS world
  FROM (VALUES ('cafe'), ('shop'), ('none')) p(part);
SELECT count(*) AS null_partition FROM cluster_viewport('"odd Sch"."Mark ers_clusters_3"', -90, -180, 90, 180, 0, NULL);
-- Drill-down needs no partition value (ids are unique).
SELECT sum(c.count) AS cafe_children FROM cluster_viewport('"odd Sch"."Mark ers_clusters_3"', -90, -180, 90, 180, 0, 'cafe') v,
       cluster_children('"odd Sch"."Mark ers_clusters_3"', v.cluster_id) c;

-- ---- writes are refused, not silently ignored ---------------------------------------------------
INSERT INTO "odd Sch"."Mark ers" VALUES (9999, 1, 1, 'cafe', 'new');
SELECT pg_temp.error_of($$INSERT INTO "odd Sch"."Mark ers" VALUES (9999, 1, 1, 'cafe', 'new')$$) AS "insert",
       pg_temp.error_of($$UPDATE "odd Sch"."Mark ers" SET "Lat itude" = 0 WHERE "I d" = 1$$) AS update_lat,
       pg_temp.error_of($$UPDATE "odd Sch"."Mark ers" SET "I d" = 5 WHERE "I d" = 1$$) AS update_id,
       pg_temp.error_of($$UPDATE "odd Sch"."Mark ers" SET "Cat" = 'x' WHERE "I d" = 1$$) AS update_partition_column,
       pg_temp.error_of($$DELETE FROM "odd Sch"."Mark ers" WHERE "I d" = 1$$) AS "delete",
       pg_temp.error_of($$TRUNCATE "odd Sch"."Mark ers"$$) AS "truncate";
-- Columns no hierarchy uses can be written.
UPDATE "odd Sch"."Mark ers" SET note = 'moved' WHERE "I d" = 1;

-- ---- rebuild and determinism ------------------------------------------------------------------
CREATE TEMP TABLE before AS SELECT * FROM "odd Sch"."Mark ers_clusters";
SELECT cluster_hierarchy_rebuild('"odd Sch"."Mark ers_clusters"');
SELECT (SELECT count(*) FROM before) = (SELECT count(*) FROM "odd Sch"."Mark ers_clusters")
   AND NOT EXISTS (SELECT * FROM before EXCEPT SELECT * FROM "odd Sch"."Mark ers_clusters") AS rebuild_is_identical;
-- The same rows in another physical order give the same nodes, ids included.
CREATE TABLE "odd Sch".shuffled AS SELECT * FROM "odd Sch"."Mark ers" ORDER BY md5("I d"::text);
SELECT cluster_hierarchy_create('"odd Sch".shuffled', 'Lat itude', 'Lon gitude', 'I d', 60, 12) AS h4;
SELECT (SELECT count(*) FROM before) = (SELECT count(*) FROM "odd Sch".shuffled_clusters)
   AND NOT EXISTS (SELECT * FROM before EXCEPT SELECT * FROM "odd Sch".shuffled_clusters) AS same_rows_same_nodes;
SELECT cluster_hierarchy_drop('"odd Sch".shuffled_clusters');
DROP TABLE "odd Sch".shuffled;

-- ---- the viewport query is an index scan ---------------------------------------------------------
-- On 20,000 markers (the planner scans tiny tables sequentially, rightly).
CREATE TABLE "odd Sch".city AS
SELECT g AS id, 48.8 + (g * 7919 % 20011) / 100000.0 AS lat, 2.2 + (g * 104729 % 20011) / 80000.0 AS lon
  FROM generate_series(1, 20000) g;
SELECT cluster_hierarchy_create('"odd Sch".city', 'lat', 'lon', 'id', 60, 14) AS city;
-- cluster_viewport runs this statement for a box across 180 (its first half for others;
-- src/pg/hierarchy.cpp), planned once per session as a
-- generic plan: one index range scan per part of the box.
PREPARE viewport(int, float8, float8, float8, float8, float8, float8) AS
SELECT cluster_id FROM "odd Sch".city_clusters
 WHERE zoom OPERATOR(pg_catalog.=) $1 AND lat OPERATOR(pg_catalog.>=) $2 AND lat OPERATOR(pg_catalog.<=) $3
   AND lon OPERATOR(pg_catalog.>=) $4 AND lon OPERATOR(pg_catalog.<=) $5
UNION ALL
SELECT cluster_id FROM "odd Sch".city_clusters
 WHERE zoom OPERATOR(pg_catalog.=) $1 AND lat OPERATOR(pg_catalog.>=) $2 AND lat OPERATOR(pg_catalog.<=) $3
   AND lon OPERATOR(pg_catalog.>=) $6 AND lon OPERATOR(pg_catalog.<=) $7;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE viewport(5, 0, 1, 0, 1, 1, 0);
RESET plan_cache_mode;
DEALLOCATE viewport;
-- ...and the function itself used that index and read no table sequentially.
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE scans_before AS
SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = '"odd Sch".city_clusters_zoom_lat_lon_idx'::regclass) AS idx,
       (SELECT seq_scan FROM pg_stat_user_tables WHERE relid = '"odd Sch".city_clusters'::regclass) AS seq;
SELECT count(*) > 0 AS found FROM cluster_viewport('"odd Sch".city_clusters', 48.8, 2.2, 49, 2.5, 13);
SELECT count(*) > 0 AS found FROM cluster_viewport('"odd Sch".city_clusters', 48.8, 2.2, 49, 2.5, 12);
SELECT pg_stat_force_next_flush();
SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = '"odd Sch".city_clusters_zoom_lat_lon_idx'::regclass) - idx
       AS index_scans,
       (SELECT seq_scan FROM pg_stat_user_tables WHERE relid = '"odd Sch".city_clusters'::regclass) - seq AS seq_scans
  FROM scans_before;
SELECT cluster_hierarchy_drop('"odd Sch".city_clusters');
DROP TABLE "odd Sch".city;

-- ---- errors ------------------------------------------------------------------------------------
SELECT q, pg_temp.error_of(q) FROM (VALUES
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 0)$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 'NaN')$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 'Infinity')$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 60, 25)$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 60, -1)$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'lat', 'Lon gitude', 'I d')$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'note', 'I d')$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'Lat itude')$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 60, 16, 'nope')$$),
  ($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', NULL, 'Lon gitude', 'I d')$$),
  ($$SELECT cluster_hierarchy_create('pg_class', 'relpages', 'reltuples', 'oid')$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers"', 0, 0, 1, 1, 3)$$),
  ($$SELECT cluster_children('"odd Sch"."Mark ers_clusters_members"', 1)$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters"', 1, 0, 0, 1, 3)$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters"', 'NaN', 0, 1, 1, 3)$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 'NaN', 3)$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 1, -0.5)$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 1, 'NaN')$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 1, 3, 'cafe')$$),
  ($$SELECT cluster_viewport('"odd Sch"."Mark ers_clusters_3"', 0, 0, 1, 1, 3)$$),
  ($$SELECT cluster_leaves('"odd Sch"."Mark ers_clusters"', 0, -1)$$),
  ($$SELECT cluster_leaves('"odd Sch"."Mark ers_clusters"', 0, 10, -1)$$),
  ($$SELECT cluster_leaves('"odd Sch"."Mark ers_clusters"', 0, 100001)$$)) t(q);
-- A NULL id is refused (a hierarchy's leaves need ids); so is a position out of range.
CREATE TABLE "odd Sch".bad (id int, lat float8, lon float8);
INSERT INTO "odd Sch".bad VALUES (1, 1, 1), (NULL, 2, 2);
SELECT pg_temp.error_of($$SELECT cluster_hierarchy_create('"odd Sch".bad', 'lat', 'lon', 'id')$$) AS null_id;
UPDATE "odd Sch".bad SET id = 2, lat = 91 WHERE id IS NULL;
SELECT pg_temp.error_of($$SELECT cluster_hierarchy_create('"odd Sch".bad', 'lat', 'lon', 'id')$$) AS lat_91;
SELECT count(*) AS nothing_left_behind FROM pg_class WHERE relname LIKE 'bad_clusters%';
DROP TABLE "odd Sch".bad;
-- Only the owner of the table (or a member of its role) may build, rebuild or drop.
GRANT SELECT ON "odd Sch"."Mark ers", "odd Sch"."Mark ers_clusters", "odd Sch"."Mark ers_clusters_members",
                "odd Sch"."Mark ers_clusters_meta" TO geocluster_hier_other;
SET ROLE geocluster_hier_other;
SELECT pg_temp.error_of($$SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d')$$) AS create_not_owner,
       pg_temp.error_of($$SELECT cluster_hierarchy_rebuild('"odd Sch"."Mark ers_clusters"')$$) AS rebuild_not_owner,
       pg_temp.error_of($$SELECT cluster_hierarchy_drop('"odd Sch"."Mark ers_clusters"')$$) AS drop_not_owner;
-- Reading needs only SELECT on the hierarchy's three tables.
SELECT count(*) > 0 AS reader_sees_clusters FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -90, -180, 90, 180, 2);
RESET ROLE;
SET ROLE geocluster_hier_owner;
SELECT cluster_hierarchy_rebuild('"odd Sch"."Mark ers_clusters_2"');
RESET ROLE;

-- ---- drop leaves nothing behind ------------------------------------------------------------------
SELECT cluster_hierarchy_drop('"odd Sch"."Mark ers_clusters"');
SELECT cluster_hierarchy_drop('"odd Sch"."Mark ers_clusters_2"');
SELECT cluster_hierarchy_drop('"odd Sch"."Mark ers_clusters_3"');
SELECT count(*) AS relations_left FROM pg_class WHERE relnamespace = '"odd Sch"'::regnamespace AND relname <> 'Mark ers';
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = '"odd Sch"."Mark ers"'::regclass;
SELECT count(*) AS functions_in_schema FROM pg_proc WHERE pronamespace = '"odd Sch"'::regnamespace;
-- The table can be written again.
INSERT INTO "odd Sch"."Mark ers" VALUES (9999, 1, 1, 'cafe', 'new');

DROP SCHEMA "odd Sch" CASCADE;
DROP ROLE geocluster_hier_owner;
DROP ROLE geocluster_hier_other;
