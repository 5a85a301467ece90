-- The stored cluster hierarchy at the SQL level: create, viewport, drill-down, partitions, odd
-- names, ownership, writes, rebuild, determinism, drop, argument errors with their
-- SQLSTATEs, and the block reads by primary key. Its guarantees over random data (separation,
-- centres, nesting at every zoom...) are property-tested in test/integration/hierarchy_properties.sh.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

\i test/sql/include/error_of.sql

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
-- The nodes are stored in packed blocks, one row per (band, block); cluster_hierarchy_nodes and
-- cluster_hierarchy_members decode them whole: the oracle of the checks below.
SELECT band, count(*) AS blocks, bool_and(octet_length(data) > 3) AS not_empty
  FROM "odd Sch"."Mark ers_clusters" GROUP BY band ORDER BY band;
CREATE TEMP TABLE n1 AS SELECT * FROM cluster_hierarchy_nodes('"odd Sch"."Mark ers_clusters"');
CREATE TEMP TABLE m1 AS SELECT * FROM cluster_hierarchy_members('"odd Sch"."Mark ers_clusters"');
SELECT count(*) = count(DISTINCT cluster_id) AS node_ids_unique, bool_and(part IS NULL) AS no_part FROM n1;

-- Every zoom counts every positioned marker once; a zoom has no more clusters than the next.
SELECT bool_and(total = 439) AS conservation, bool_and(clusters <= coalesce(next_clusters, clusters)) AS coarser_is_fewer,
       count(*) = 13 AS zooms_0_to_12
  FROM (SELECT zoom, sum(count) AS total, count(*) AS clusters,
               lead(count(*)) OVER (ORDER BY zoom) AS next_clusters
          FROM n1 GROUP BY zoom) z;
SELECT count(*) = 439 AS one_member_row_per_marker, count(DISTINCT m.id) = 439 AS ids,
       bool_and(l.zoom = 12 AND (l.count > 1 OR l.id = m.id)) AS leaves_at_max_zoom
  FROM m1 m JOIN n1 l ON l.cluster_id = m.leaf_id;
-- Nesting: every cluster below zoom 12 is the sum of its children; ids are zoom << 47 | block
-- and slot, below 2^52 (GeoJSON feature ids 2^52 + cluster_id stay safe JavaScript integers).
SELECT bool_and(p.count = (SELECT sum(c.count) FROM n1 c WHERE c.parent_id = p.cluster_id))
       AS children_add_up,
       bool_and(p.cluster_id >> 47 = p.zoom) AS id_carries_zoom,
       bool_and(p.cluster_id < (1::bigint << 52)) AS id_below_2_52
  FROM n1 p WHERE p.zoom < 12;
SELECT bool_and((c.parent_id IS NULL) = (c.zoom = 0)) AND bool_and(p.zoom = c.zoom - 1 OR c.parent_id IS NULL) AS parents_one_zoom_up
  FROM n1 c LEFT JOIN n1 p ON p.cluster_id = c.parent_id;

-- ---- viewports ------------------------------------------------------------------------------
-- The world at zoom 0 (Leaflet's out-of-range longitudes): the clump, Paris, Fiji, the pole.
SELECT cluster_id, zoom, count, round(lat::numeric, 6) AS lat, round(lon::numeric, 6) AS lon,
       min_lat, min_lon, max_lat, max_lon, id, expansion_zoom
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -85.05, -215.156, 85.05, 234.84, 0);
-- Fiji's cluster straddles the antimeridian: its box has min_lon > max_lon, its centre is at 180.
SELECT count, min_lon > max_lon AS crosses, abs(abs(lon) - 180) < 0.01 AS centre_at_180
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -20, 170, -15, -170, 4);
-- A viewport is exactly the stored clusters of that zoom whose centre is in the box, edges
-- included (independent oracle: every node, cluster_hierarchy_nodes); fractional zooms are floored.
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
       (SELECT array_agg(c.cluster_id ORDER BY c.cluster_id) FROM n1 c
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
                (SELECT array_agg(c.cluster_id ORDER BY c.cluster_id) FROM n1 c WHERE c.parent_id = p.cluster_id))
       AS children_are_the_parents_nodes,
       bool_and((SELECT bool_and(c.zoom = p.zoom + 1) FROM cluster_children('"odd Sch"."Mark ers_clusters"', p.cluster_id) c)
                IS NOT FALSE) AS next_zoom,
       bool_and((SELECT array_agg(row(c.*)::text ORDER BY c.cluster_id)
                   FROM cluster_children('"odd Sch"."Mark ers_clusters"', p.cluster_id) c)
                IS NOT DISTINCT FROM
                (SELECT array_agg(row(c.cluster_id, c.zoom, c.count, c.lat, c.lon, c.min_lat, c.min_lon, c.max_lat,
                                      c.max_lon, c.id, c.expansion_zoom)::text ORDER BY c.cluster_id)
                   FROM n1 c WHERE c.parent_id = p.cluster_id)) AS children_are_the_nodes
  FROM n1 p;
-- The clump never splits (one position): expansion zoom max_zoom + 1; a single marker: NULL.
SELECT count, cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', cluster_id) AS expansion_zoom
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 5)
UNION ALL
SELECT count, cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', cluster_id)
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 89, 0, 90, 20, 12) WHERE count = 1;
-- Expansion zoom = the lowest zoom above with more than one descendant.
WITH RECURSIVE d AS (
  SELECT cluster_id AS top, cluster_id, zoom FROM n1 WHERE count > 1
  UNION ALL
  SELECT d.top, c.cluster_id, c.zoom FROM d JOIN n1 c ON c.parent_id = d.cluster_id)
SELECT bool_and(n.expansion_zoom = coalesce(
         (SELECT min(zoom) FROM (SELECT zoom FROM d WHERE d.top = n.cluster_id GROUP BY zoom HAVING count(*) > 1) s), 13))
       AS expansion_zoom_is_first_split,
       bool_and(cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', n.cluster_id) IS NOT DISTINCT FROM n.expansion_zoom)
       AS function_agrees
  FROM n1 n;
-- Leaves: the members in id order, paged; all pages together are the members.
SELECT cluster_leaves('"odd Sch"."Mark ers_clusters"', cluster_id, 5, 3) AS clump_page
  FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 5);
-- (oracle: the members whose leaf lies below the cluster, found by walking the parent links up)
WITH RECURSIVE up AS (
  SELECT m.id, m.leaf_id AS cluster_id FROM m1 m
  UNION ALL
  SELECT up.id, n.parent_id FROM up JOIN n1 n ON n.cluster_id = up.cluster_id
   WHERE n.parent_id IS NOT NULL)
SELECT bool_and((SELECT array_agg(l ORDER BY page, ord) FROM generate_series(0, 9) page,
                        LATERAL cluster_leaves('"odd Sch"."Mark ers_clusters"', v.cluster_id, 50, page * 50) WITH ORDINALITY AS x(l, ord))
                = (SELECT array_agg(up.id ORDER BY up.id) FROM up WHERE up.cluster_id = v.cluster_id)) AS leaves_are_the_members,
       count(*) > 3 AS several_clusters
  FROM n1 v WHERE v.zoom IN (0, 4, 9, 12);
SELECT count(*) AS unknown_id_children FROM cluster_children('"odd Sch"."Mark ers_clusters"', -5);
SELECT cluster_expansion_zoom('"odd Sch"."Mark ers_clusters"', -5) AS unknown_id_expansion;
SELECT count(*) AS unknown_id_leaves FROM cluster_leaves('"odd Sch"."Mark ers_clusters"', -5);

-- ---- GeoJSON ---------------------------------------------------------------------------------
SELECT jsonb_pretty(cluster_viewport_geojson('"odd Sch"."Mark ers_clusters"', 40, -4, 41, -3, 3));
SELECT jsonb_array_length(cluster_viewport_geojson('"odd Sch"."Mark ers_clusters"', 0, 0, 1, 1, 3) -> 'features') AS no_features;

-- ---- partitions ------------------------------------------------------------------------------
SELECT cluster_hierarchy_create('"odd Sch"."Mark ers"', 'Lat itude', 'Lon gitude', 'I d', 60, 12, 'Cat') AS h3;
CREATE TEMP TABLE n3 AS SELECT * FROM cluster_hierarchy_nodes('"odd Sch"."Mark ers_clusters_3"');
SELECT part, zoom, sum(count) AS markers, count(*) AS clusters FROM n3
 WHERE zoom IN (0, 12) GROUP BY part, zoom ORDER BY part, zoom;
-- Ids are unique across partitions (a block's slots are shared by the partitions' rows of it);
-- a partition's viewport holds only its clusters.
SELECT count(*) = count(DISTINCT cluster_id) AS unique_ids, count(DISTINCT part) AS parts FROM n3;
SELECT count(*) AS shared_blocks FROM (SELECT band, block FROM "odd Sch"."Mark ers_clusters_3"
                                       GROUP BY band, block HAVING count(*) > 1) b;
SELECT part, (SELECT sum(count) FROM cluster_viewport('"odd Sch"."Mark ers_clusters_3"', -90, -180, 90, 180, 0, part)) AS world
  FROM (VALUES ('cafe'), ('shop'), ('none')) p(part);
SELECT count(*) AS null_partition FROM cluster_viewport('"odd Sch"."Mark ers_clusters_3"', -90, -180, 90, 180, 0, NULL);
-- Drill-down needs no partition value (ids are unique).
SELECT sum(c.count) AS cafe_children FROM cluster_viewport('"odd Sch"."Mark ers_clusters_3"', -90, -180, 90, 180, 0, 'cafe') v,
       cluster_children('"odd Sch"."Mark ers_clusters_3"', v.cluster_id) c;

-- ---- writes maintain the hierarchies (cluster_hierarchy_write), in the writing transaction -----
INSERT INTO "odd Sch"."Mark ers" VALUES (9999, 1, 1, 'cafe', 'new');
SELECT pg_temp.error_of($$INSERT INTO "odd Sch"."Mark ers" VALUES (9999, 1, 1, 'cafe', 'new')$$) AS "insert",
       pg_temp.error_of($$UPDATE "odd Sch"."Mark ers" SET "Lat itude" = 0 WHERE "I d" = 1$$) AS update_lat,
       pg_temp.error_of($$UPDATE "odd Sch"."Mark ers" SET "I d" = 5 WHERE "I d" = 1$$) AS update_id,
       pg_temp.error_of($$UPDATE "odd Sch"."Mark ers" SET "Cat" = 'x' WHERE "I d" = 1$$) AS update_partition_column,
       pg_temp.error_of($$DELETE FROM "odd Sch"."Mark ers" WHERE "I d" = 1$$) AS "delete";
-- A TRUNCATE of the source empties its hierarchies (rolled back here: the rows are used below).
BEGIN;
TRUNCATE "odd Sch"."Mark ers";
SELECT (SELECT count(*) FROM "odd Sch"."Mark ers_clusters") + (SELECT count(*) FROM "odd Sch"."Mark ers_clusters_2")
       + (SELECT count(*) FROM "odd Sch"."Mark ers_clusters_3") AS node_rows_after_truncate,
       (SELECT count(*) FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -90, -180, 90, 180, 0)) AS viewport_after_truncate;
ROLLBACK;
-- Columns no hierarchy uses can be written.
UPDATE "odd Sch"."Mark ers" SET note = 'moved' WHERE "I d" = 1;

-- ---- rebuild and determinism ------------------------------------------------------------------
-- Writes leave a valid hierarchy, not the build's; a rebuild restores the deterministic shape:
-- a second rebuild changes nothing, and a fresh create of the rows in another order is the same.
SELECT cluster_hierarchy_rebuild('"odd Sch"."Mark ers_clusters"');
CREATE TEMP TABLE before AS SELECT * FROM cluster_hierarchy_nodes('"odd Sch"."Mark ers_clusters"');
CREATE TEMP TABLE before_blocks AS SELECT * FROM "odd Sch"."Mark ers_clusters";
SELECT cluster_hierarchy_rebuild('"odd Sch"."Mark ers_clusters"');
SELECT (SELECT count(*) FROM before) = (SELECT count(*) FROM cluster_hierarchy_nodes('"odd Sch"."Mark ers_clusters"'))
   AND NOT EXISTS (SELECT * FROM before EXCEPT SELECT * FROM cluster_hierarchy_nodes('"odd Sch"."Mark ers_clusters"'))
   AND NOT EXISTS (SELECT * FROM before_blocks EXCEPT SELECT * FROM "odd Sch"."Mark ers_clusters") AS rebuild_is_identical;
-- The same rows in another physical order give the same nodes, ids included.
CREATE TABLE "odd Sch".shuffled AS SELECT * FROM "odd Sch"."Mark ers" ORDER BY md5("I d"::text);
SELECT cluster_hierarchy_create('"odd Sch".shuffled', 'Lat itude', 'Lon gitude', 'I d', 60, 12) AS h4;
SELECT (SELECT count(*) FROM before) = (SELECT count(*) FROM cluster_hierarchy_nodes('"odd Sch".shuffled_clusters'))
   AND NOT EXISTS (SELECT * FROM before EXCEPT SELECT * FROM cluster_hierarchy_nodes('"odd Sch".shuffled_clusters'))
   AND NOT EXISTS (SELECT * FROM before_blocks EXCEPT SELECT * FROM "odd Sch".shuffled_clusters) AS same_rows_same_nodes;
SELECT cluster_hierarchy_drop('"odd Sch".shuffled_clusters');
DROP TABLE "odd Sch".shuffled;

-- ---- the viewport reads blocks by primary key ---------------------------------------------------
-- On 20,000 markers over the world, thousands of blocks (the planner scans tiny tables
-- sequentially, rightly).
CREATE TABLE "odd Sch".city AS
SELECT g AS id, -60 + (g * 7919 % 20011) / 20011.0 * 120 AS lat, -180 + (g * 104729 % 20011) / 20011.0 * 360 AS lon
  FROM generate_series(1, 20000) g;
SELECT cluster_hierarchy_create('"odd Sch".city', 'lat', 'lon', 'id', 60, 14) AS city;
-- A single marker's node, at every zoom, stands at its row's own lat/lon, to the last bit (its
-- position is the mean of its one member; beyond Web Mercator's latitudes it would be the clamp).
SELECT count(*) > 10000 AS singles, count(DISTINCT n.zoom) AS zooms,
       bool_and(n.lat = c.lat::float8 AND n.lon = c.lon::float8) AS at_their_rows
  FROM cluster_hierarchy_nodes('"odd Sch".city_clusters') n JOIN "odd Sch".city c ON c.id = n.id
 WHERE n.count = 1;
-- The readers fetch a band's blocks by ranges of block numbers (src/pg/hierarchy_read.cpp),
-- planned once per session as a generic plan: one primary-key range scan per range.
PREPARE blocks(int, bigint, bigint) AS
SELECT block, data FROM "odd Sch".city_clusters
 WHERE band OPERATOR(pg_catalog.=) $1 AND block OPERATOR(pg_catalog.>=) $2 AND block OPERATOR(pg_catalog.<=) $3;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE blocks(2, 0, 1);
RESET plan_cache_mode;
DEALLOCATE blocks;
-- ...and the function itself used that index and read no table sequentially.
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE scans_before AS
SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = '"odd Sch".city_clusters_pkey'::regclass) AS idx,
       (SELECT seq_scan FROM pg_stat_user_tables WHERE relid = '"odd Sch".city_clusters'::regclass) AS seq;
SELECT count(*) > 0 AS found FROM cluster_viewport('"odd Sch".city_clusters', 40, 0, 50, 10, 13);
SELECT count(*) > 0 AS found FROM cluster_viewport('"odd Sch".city_clusters', 40, 0, 50, 10, 12);
SELECT pg_stat_force_next_flush();
SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = '"odd Sch".city_clusters_pkey'::regclass) - idx > 0
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
-- A damaged block is an error (22P03) for every reader, never a crash or a wrong answer.
BEGIN;
UPDATE "odd Sch"."Mark ers_clusters" SET data = '\x01000605ff'::bytea WHERE band = 0;
SELECT pg_temp.error_of($$SELECT count(*) FROM cluster_viewport('"odd Sch"."Mark ers_clusters"', -90, -180, 90, 180, 0)$$) AS viewport,
       pg_temp.error_of($$SELECT count(*) FROM cluster_hierarchy_nodes('"odd Sch"."Mark ers_clusters"')$$) AS nodes,
       pg_temp.error_of($$SELECT count(*) FROM cluster_children('"odd Sch"."Mark ers_clusters"', 0)$$) AS children;
ROLLBACK;
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

-- ---- a session's readers follow rebuilds and re-creations --------------------------------------
-- The readers keep each hierarchy's tables and primary key indexes per session (hierarchy_read.cpp);
-- a rebuild makes new indexes, a re-creation new tables: read in the same session, never stale.
CREATE TABLE "odd Sch".again (id bigint PRIMARY KEY, lat float8, lon float8);
INSERT INTO "odd Sch".again SELECT g, (g % 50)::float8, (g / 50)::float8 FROM generate_series(1, 500) g;
SELECT cluster_hierarchy_create('"odd Sch".again', 'lat', 'lon', 'id') IS NOT NULL AS created;
SELECT sum(count) AS before FROM cluster_viewport('"odd Sch".again_clusters', -90, -180, 90, 180, 3);
SELECT cluster_hierarchy_rebuild('"odd Sch".again_clusters') IS NOT NULL AS rebuilt;
SELECT sum(count) AS after_rebuild FROM cluster_viewport('"odd Sch".again_clusters', -90, -180, 90, 180, 3);
SELECT cluster_hierarchy_drop('"odd Sch".again_clusters');
INSERT INTO "odd Sch".again SELECT g, 10, 10 FROM generate_series(501, 700) g;
SELECT cluster_hierarchy_create('"odd Sch".again', 'lat', 'lon', 'id') IS NOT NULL AS created;
SELECT sum(count) AS after_recreate FROM cluster_viewport('"odd Sch".again_clusters', -90, -180, 90, 180, 3);
SELECT cluster_hierarchy_drop('"odd Sch".again_clusters');
DROP TABLE "odd Sch".again;

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
