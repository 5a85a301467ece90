-- cluster_hierarchy_tile_with_properties: a hierarchy's vector tile with single markers' own
-- columns read by id from a table or view. Decoded feature by feature in
-- test/integration/hierarchy_tiles.sh; here, what SQL alone can tell of the bytes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster_postgis CASCADE;
\pset footer off

-- A clump of 50 (a cluster up to max_zoom 8) and 10 spread out (single markers).
CREATE TABLE tp (id bigint PRIMARY KEY, geom geometry(Point, 4326) NOT NULL, name text NOT NULL);
INSERT INTO tp
SELECT g, ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), 'clump ' || g FROM generate_series(0, 49) g
UNION ALL SELECT g, ST_SetSRID(ST_MakePoint(-153 + (g - 50) * 30, -40 + (g - 50) * 8), 4326), 'place ' || g
  FROM generate_series(50, 59) g;
SELECT cluster_hierarchy_create('tp', 'geom', 'id', 60, 8) AS handle;
CREATE VIEW tp_ids AS SELECT id FROM tp;
CREATE VIEW tp_shadowing AS SELECT id, 'x'::text AS cluster, 'y'::text AS point_count, 7 AS cluster_id FROM tp;
CREATE VIEW tp_named AS SELECT id, name FROM tp;

-- The world at zoom 0 (clusters only), zoom 3's tiles of the clump (a cluster) and of place 55
-- (a single marker), and the same at zoom 9, beyond max_zoom (single markers all): with no
-- columns but id, or only columns named like the tile's own properties, the tile is the plain
-- one byte for byte; with a name, the single markers' names are in it, a cluster's members' not.
SELECT t.z, t.x, t.y,
       cluster_hierarchy_tile_with_properties('tp_clusters', t.z, t.x, t.y, 'tp_ids')
         = cluster_hierarchy_tile('tp_clusters', t.z, t.x, t.y) AS ids_only_is_plain,
       cluster_hierarchy_tile_with_properties('tp_clusters', t.z, t.x, t.y, 'tp_shadowing')
         = cluster_hierarchy_tile('tp_clusters', t.z, t.x, t.y) AS shadowed_left_out,
       position('place 5'::bytea IN cluster_hierarchy_tile_with_properties('tp_clusters', t.z, t.x, t.y, 'tp_named')) > 0
         AS single_markers_named,
       position('clump'::bytea IN cluster_hierarchy_tile_with_properties('tp_clusters', t.z, t.x, t.y, 'tp_named')) > 0
         AS clump_named
  FROM (VALUES (0, 0, 0), (3, 4, 2), (3, 3, 4), (9, 259, 176), (9, 251, 256)) t(z, x, y);

-- STRICT; a relation without an id column is an error (42703).
SELECT cluster_hierarchy_tile_with_properties('tp_clusters', 0, 0, 0, NULL) IS NULL AS null_in_null_out;
CREATE VIEW tp_no_id AS SELECT name FROM tp;
DO $$ BEGIN
  PERFORM cluster_hierarchy_tile_with_properties('tp_clusters', 0, 0, 0, 'tp_no_id');
EXCEPTION WHEN undefined_column THEN RAISE WARNING 'no id column: %', SQLSTATE;
END $$;

SELECT cluster_hierarchy_drop('tp_clusters');
DROP TABLE tp CASCADE;
