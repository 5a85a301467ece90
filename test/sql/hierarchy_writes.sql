-- Writes to a hierarchy's source maintain the hierarchy (cluster_hierarchy_write,
-- src/pg/hierarchy_write.cpp): the trigger set on every table of the source's tree, the lock
-- that serialises a hierarchy's writers, TRUNCATE, the writes that change nothing the hierarchy
-- reads, and a writer without any privilege on the hierarchy's tables. (What the core makes of
-- inserts, updates and deletes is tested where it is: hierarchy.sql and the core's unit tests.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

\i test/sql/include/error_of.sql

CREATE ROLE geocluster_writes_owner;
CREATE ROLE geocluster_writes_writer;
CREATE SCHEMA writes;
GRANT USAGE, CREATE ON SCHEMA writes TO geocluster_writes_owner;
GRANT USAGE ON SCHEMA writes TO geocluster_writes_writer;
SET ROLE geocluster_writes_owner;
SET search_path = writes, public;

-- A partitioned source with a partition value, a sub-partitioned partition and a note column.
CREATE TABLE w (id bigint, lat float8, lon float8, k int, cat text, note text) PARTITION BY RANGE (k);
CREATE TABLE w1 PARTITION OF w FOR VALUES FROM (0) TO (10);
CREATE TABLE w2 PARTITION OF w FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (k);
CREATE TABLE w2a PARTITION OF w2 FOR VALUES FROM (10) TO (20);
INSERT INTO w SELECT g, g % 80, g % 170, g % 20, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END
  FROM generate_series(1, 200) g;
SELECT cluster_hierarchy_create('w', 'lat', 'lon', 'id', partition_column => 'cat');

-- The trigger set: on every table of the tree, one trigger per event, each ENABLE ALWAYS, the
-- row-changing ones with the transition tables of their event; and on every table but the
-- partitioned ones, the row trigger for logical replication's apply workers, ENABLE REPLICA.
SELECT t.tgrelid::regclass AS tbl, t.tgname, t.tgenabled,
       regexp_replace(pg_get_triggerdef(t.oid), '^CREATE TRIGGER \S+ (.*) EXECUTE FUNCTION .*$', '\1') AS fires
  FROM pg_trigger t WHERE t.tgfoid = 'cluster_hierarchy_write()'::regprocedure
 ORDER BY t.tgrelid::regclass::text, t.tgname;
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
 WHERE c.relnamespace = 'writes'::regnamespace AND c.relname LIKE 'w\_clusters%' ORDER BY 1;
-- DISABLE TRIGGER of any of them is refused.
SELECT pg_temp.error_of($$ALTER TABLE w1 DISABLE TRIGGER geocluster_w_clusters_ins$$) AS disable_one,
       pg_temp.error_of($$ALTER TABLE w DISABLE TRIGGER ALL$$) AS disable_all;

-- Writes that change nothing the hierarchy reads do not reach the core: a row without a
-- position, an update of another column, an update that leaves the positions as they were.
INSERT INTO w VALUES (1000, NULL, 5, 1, 'a'), (1001, 5, 5, 1, NULL);
UPDATE w SET note = 'seen';
UPDATE w1 SET lat = lat, cat = cat WHERE id < 50;
DELETE FROM w WHERE id IN (1000, 1001);
SELECT sum(count) AS counted_a FROM cluster_viewport('w_clusters', -90, -180, 90, 180, 0, 'a');
-- A row with a position needs an id, as for the create (a row without one needs none).
SELECT pg_temp.error_of($$INSERT INTO w VALUES (NULL, 5, 5, 1, 'a')$$) AS null_id,
       pg_temp.error_of($$INSERT INTO w VALUES (NULL, NULL, 5, 1, 'a')$$) AS null_id_no_position;

-- Writers of one hierarchy are serialised by an exclusive lock of their own (advisory, field4
-- 0x4743: no user's pg_advisory key has it), held to the end of the transaction.
BEGIN;
UPDATE w SET note = 'locked' WHERE id = 1;
SELECT l.locktype, l.mode, l.granted, l.classid = 'w_clusters'::regclass::oid AS of_hierarchy, l.objid, l.objsubid
  FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory';
ROLLBACK;

-- A writer needs privileges on the source only: its write reaches the core (with the stub core
-- of this branch: its internal error), never a permission error on the hierarchy's tables.
GRANT INSERT, TRUNCATE ON w TO geocluster_writes_writer;
GRANT UPDATE (note) ON w1 TO geocluster_writes_writer;
GRANT SELECT (id, note) ON w1 TO geocluster_writes_writer;
SET ROLE geocluster_writes_writer;
SELECT pg_temp.error_of($$INSERT INTO w VALUES (2000, 1, 2, 3, 'a')$$) AS writer_insert,
       pg_temp.error_of($$UPDATE w1 SET note = 'by writer' WHERE id = 1$$) AS writer_update_note;
BEGIN;
TRUNCATE w;
SELECT pg_temp.error_of($$SELECT count(*) FROM w_clusters$$) AS writer_reads_nodes;
ROLLBACK;
-- A trigger that a role puts on a table of its own, naming a hierarchy of another table, neither
-- writes that hierarchy nor takes its writers' lock: 42501, for rows and for TRUNCATE.
CREATE TEMP TABLE forged (id bigint, lat float8, lon float8, k int, cat text, note text);
CREATE TRIGGER forged_ins AFTER INSERT ON forged REFERENCING NEW TABLE AS geocluster_new
  FOR EACH STATEMENT EXECUTE FUNCTION cluster_hierarchy_write('writes.w_clusters');
CREATE TRIGGER forged_trunc AFTER TRUNCATE ON forged
  FOR EACH STATEMENT EXECUTE FUNCTION cluster_hierarchy_write('writes.w_clusters');
SELECT pg_temp.error_of($$INSERT INTO forged VALUES (9000, 1, 2, 3, 'a', 'forged')$$) AS forged_insert,
       pg_temp.error_of($$TRUNCATE forged$$) AS forged_truncate;
DROP TABLE forged;
SET ROLE geocluster_writes_owner;
SELECT (SELECT count(*) FROM w WHERE lat IS NOT NULL AND lon IS NOT NULL) AS positioned_rows,
       (SELECT count(*) FROM cluster_hierarchy_members('w_clusters')) AS markers_after_forged_writes;

-- TRUNCATE of the whole source empties the hierarchy: its node, member and slot rows.
BEGIN;
TRUNCATE w;
SELECT (SELECT count(*) FROM w_clusters) AS nodes, (SELECT count(*) FROM w_clusters_members) AS members,
       (SELECT count(*) FROM w_clusters_slots) AS slots,
       (SELECT count(*) FROM cluster_viewport('w_clusters', -90, -180, 90, 180, 0, 'a')) AS viewport,
       (SELECT count(*) FROM cluster_hierarchy_nodes('w_clusters')) AS decoded;
ROLLBACK;
-- TRUNCATE of one partition while another keeps rows is refused (it would take rows out that the
-- trigger cannot see any more).
SELECT pg_temp.error_of($$TRUNCATE w1$$) AS truncate_partition;
SELECT pg_temp.error_of($$TRUNCATE w2$$) AS truncate_sub_tree;
SELECT count(*) > 0 AS still_counted FROM cluster_viewport('w_clusters', -90, -180, 90, 180, 0, 'b');

-- Inheritance: TRUNCATE ONLY of a parent whose child keeps rows is refused; of the whole tree,
-- empties the hierarchy.
CREATE TABLE par (id bigint, lat float8, lon float8);
CREATE TABLE chi () INHERITS (par);
INSERT INTO par VALUES (1, 1, 1);
INSERT INTO chi VALUES (2, 2, 2);
SELECT cluster_hierarchy_create('par', 'lat', 'lon', 'id');
SELECT pg_temp.error_of($$TRUNCATE ONLY par$$) AS truncate_only_parent;
BEGIN;
TRUNCATE par;
SELECT count(*) AS nodes_after_truncate FROM par_clusters;
ROLLBACK;

-- The hierarchy's tables are maintained like an index, by the primary key alone: an index of
-- one's own on them stops writes (the trigger could not keep it).
CREATE INDEX par_clusters_block ON par_clusters (block);
SELECT pg_temp.error_of($$TRUNCATE par$$) AS with_own_index;
DROP INDEX par_clusters_block;

-- The slot table goes with the hierarchy; dropping it alone is refused.
SELECT pg_temp.error_of($$DROP TABLE par_clusters_slots$$) AS drop_slots;
SELECT cluster_hierarchy_drop('par_clusters');
SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'writes'::regnamespace AND c.relname LIKE 'par%' ORDER BY 1;

-- Memory: a statement's writes go to the core in chunks; a chunk whose working copy would pass
-- geocluster.max_state_memory is written as two halves (the statement succeeds), and a single
-- write that alone would pass it fails with 54000.
CREATE TABLE spread (id bigint PRIMARY KEY, lat float8, lon float8);
INSERT INTO spread SELECT i, -60 + (i * 37 % 120), -170 + (i * 61 % 340) FROM generate_series(1, 3000) AS i;
SELECT cluster_hierarchy_create('spread', 'lat', 'lon', 'id', 60, 12);
SET geocluster.max_state_memory = '2MB';
UPDATE spread SET lat = -lat, lon = -lon;
SELECT (SELECT count(*) FROM spread) AS rows_,
       (SELECT sum(v.count) FROM cluster_viewport('spread_clusters', -90, -180, 90, 180, 5) AS v) AS counted_at_zoom_5,
       (SELECT count(*) FROM cluster_viewport('spread_clusters', 29.5, 79.5, 30.5, 80.5, 12) AS v) AS moved_marker_found;
SET geocluster.max_state_memory = '64kB';
SELECT pg_temp.error_of($$INSERT INTO spread VALUES (5000, 10, 10)$$) AS one_write_past_the_limit;
RESET geocluster.max_state_memory;
SELECT cluster_hierarchy_drop('spread_clusters');

-- Delta rows: a write to a block of 8 kB or more (of nodes or of members) stores the records it
-- changed beside the block (its delta) instead of writing the block again, and every reader
-- folds the delta in. cluster_hierarchy_compact folds every delta into its block: the
-- hierarchy's nodes, members and answers are the same before and after. The writer may not
-- compact (it may not UPDATE the hierarchy's tables); the owner may.
CREATE TABLE dense (id bigint PRIMARY KEY, lat float8, lon float8);
INSERT INTO dense SELECT i, 48.8 + (i % 97) * 0.001, 2.3 + (i / 97) * 0.001 FROM generate_series(1, 4000) AS i;
SELECT cluster_hierarchy_create('dense', 'lat', 'lon', 'id', 60, 16);
SELECT count(*) FILTER (WHERE length(data) >= 8192) > 0 AS has_large_blocks FROM dense_clusters;
SELECT count(*) FILTER (WHERE length(data) >= 8192) > 0 AS has_large_member_blocks FROM dense_clusters_members;
GRANT SELECT, INSERT, UPDATE, DELETE ON dense TO geocluster_writes_writer;
SET ROLE geocluster_writes_writer;
INSERT INTO dense VALUES (5001, 48.85, 2.35), (5002, 48.8001, 2.3001);
DELETE FROM dense WHERE id IN (17, 1800);
UPDATE dense SET lat = lat + 0.01 WHERE id = 33;
SELECT pg_temp.error_of($$SELECT cluster_hierarchy_compact('writes.dense_clusters')$$) AS writer_compacts;
SET ROLE geocluster_writes_owner;
-- Compaction rewrites both block tables: UPDATE on the nodes table alone is not enough.
GRANT UPDATE ON dense_clusters TO geocluster_writes_writer;
SET ROLE geocluster_writes_writer;
SELECT pg_temp.error_of($$SELECT cluster_hierarchy_compact('writes.dense_clusters')$$) AS writer_compacts_with_nodes_only;
SET ROLE geocluster_writes_owner;
REVOKE UPDATE ON dense_clusters FROM geocluster_writes_writer;
SELECT count(*) FILTER (WHERE delta IS NOT NULL) > 0 AS has_deltas FROM dense_clusters;
SELECT count(*) FILTER (WHERE delta IS NOT NULL) > 0 AS has_member_deltas FROM dense_clusters_members;
CREATE TEMP TABLE nodes_before AS SELECT * FROM cluster_hierarchy_nodes('dense_clusters');
CREATE TEMP TABLE members_before AS SELECT * FROM cluster_hierarchy_members('dense_clusters');
CREATE TEMP TABLE views_before AS
    SELECT z, v.* FROM generate_series(0, 17) AS z, cluster_viewport('dense_clusters', 48, 2, 50, 3, z) AS v;
SELECT cluster_hierarchy_compact('dense_clusters') > 0 AS folded;
SELECT (SELECT count(*) FILTER (WHERE delta IS NOT NULL) FROM dense_clusters) +
       (SELECT count(*) FILTER (WHERE delta IS NOT NULL) FROM dense_clusters_members) AS deltas_left;
SELECT cluster_hierarchy_compact('dense_clusters') AS folded_again;
SELECT (SELECT count(*) FROM (TABLE nodes_before EXCEPT ALL SELECT * FROM cluster_hierarchy_nodes('dense_clusters')) d) +
       (SELECT count(*) FROM (SELECT * FROM cluster_hierarchy_nodes('dense_clusters') EXCEPT ALL TABLE nodes_before) d)
       AS nodes_that_differ,
       (SELECT count(*) FROM (TABLE members_before EXCEPT ALL SELECT * FROM cluster_hierarchy_members('dense_clusters')) d) +
       (SELECT count(*) FROM (SELECT * FROM cluster_hierarchy_members('dense_clusters') EXCEPT ALL TABLE members_before) d)
       AS members_that_differ,
       (SELECT count(*) FROM (TABLE views_before EXCEPT ALL
            SELECT z, v.* FROM generate_series(0, 17) AS z, cluster_viewport('dense_clusters', 48, 2, 50, 3, z) AS v) d)
       AS viewport_rows_that_differ,
       (SELECT count(*) FROM dense) AS rows_,
       (SELECT sum(v.count) FROM cluster_viewport('dense_clusters', 48, 2, 50, 3, 4) AS v) AS counted_at_zoom_4;
SELECT pg_temp.error_of($$SELECT cluster_hierarchy_compact('dense')$$) AS not_a_hierarchy;
INSERT INTO dense VALUES (5003, 48.81, 2.31);
SELECT (SELECT sum(v.count) FROM cluster_viewport('dense_clusters', 48, 2, 50, 3, 4) AS v) AS counted_after_a_write;
-- A writer checks the metadata table's layout (a session remembers it until the table changes):
-- row security turned on after this session's writes is seen by its next write.
ALTER TABLE dense_clusters_meta ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.error_of($$INSERT INTO dense VALUES (5004, 48.82, 2.32)$$) AS meta_with_row_security;
ALTER TABLE dense_clusters_meta DISABLE ROW LEVEL SECURITY;
-- A write canceled in the middle (statement_timeout, which lands in the trigger's work: the rows
-- alone take a few ms, their maintenance about a second) leaves the hierarchy as it was: it still counts
-- exactly the rows.
SET statement_timeout = '150ms';
INSERT INTO dense SELECT 10000 + i, 48.8 + (i % 89) * 0.0011, 2.3 + (i / 89) * 0.0011
  FROM generate_series(1, 30000) AS i;
RESET statement_timeout;
SELECT (SELECT count(*) FROM dense) AS rows_,
       (SELECT sum(v.count) FROM cluster_viewport('dense_clusters', 48, 2, 50, 3, 4) AS v) AS counted_after_a_cancel;
-- A large load by drop, load and create in one transaction (README, "Loading many rows at
-- once"): the hierarchy comes back under its name as the build of all the rows (a fresh create of
-- the same rows gives the same nodes, ids included), and later writes are maintained.
BEGIN;
SELECT cluster_hierarchy_drop('dense_clusters');
INSERT INTO dense SELECT 20000 + i, 48.9 + (i % 50) * 0.002, 2.4 + (i / 50) * 0.002
  FROM generate_series(1, 2000) AS i;
SELECT cluster_hierarchy_create('dense', 'lat', 'lon', 'id', 60, 16) AS created_again;
COMMIT;
CREATE TABLE dense_again AS TABLE dense;
SELECT cluster_hierarchy_create('dense_again', 'lat', 'lon', 'id', 60, 16);
SELECT (SELECT count(*) FROM (SELECT * FROM cluster_hierarchy_nodes('dense_clusters') EXCEPT ALL
            SELECT * FROM cluster_hierarchy_nodes('dense_again_clusters')) d) +
       (SELECT count(*) FROM (SELECT * FROM cluster_hierarchy_nodes('dense_again_clusters') EXCEPT ALL
            SELECT * FROM cluster_hierarchy_nodes('dense_clusters')) d) AS nodes_unlike_a_fresh_build,
       (SELECT count(*) FROM cluster_hierarchy_nodes('dense_clusters')) > 0 AS has_nodes;
INSERT INTO dense VALUES (30000, 48.95, 2.45);
SELECT (SELECT count(*) FROM dense) AS rows_,
       (SELECT sum(v.count) FROM cluster_viewport('dense_clusters', 48, 2, 50, 3, 4) AS v) AS counted_after_the_load;
-- A reader that waited for such a transaction finds the new tables under the name it had
-- resolved, with no metadata row in its snapshot (cluster_hierarchy_info, which a session's
-- first read of a hierarchy calls): a clear error, not "names" nothing.
BEGIN;
DELETE FROM dense_clusters_meta;
\set SHOW_CONTEXT never
SELECT source FROM cluster_hierarchy_info('dense_clusters');
\set SHOW_CONTEXT errors
ROLLBACK;
SELECT cluster_hierarchy_drop('dense_again_clusters');
DROP TABLE dense_again;
SELECT cluster_hierarchy_drop('dense_clusters');
DROP TABLE nodes_before, members_before, views_before;

RESET ROLE;
RESET search_path;
DROP SCHEMA writes CASCADE;
DROP ROLE geocluster_writes_owner;
DROP ROLE geocluster_writes_writer;
