-- The DDL guard of cluster hierarchies (61_hierarchy_guard.sql): every way a source's rows could
-- change without its write triggers (cluster_hierarchy_write) firing is refused or handled, run by the table's owner (not a
-- superuser) where the owner can run it: writes to partitions and child tables, new partitions,
-- ATTACH / DETACH PARTITION, INHERIT / NO INHERIT, DISABLE TRIGGER, ENABLE REPLICA TRIGGER,
-- session_replication_role = replica (logical replication's apply), DROP TRIGGER, DROP TABLE of
-- a partition, of the source and of the hierarchy's own tables, renames of columns, of the
-- trigger and of the source. After each refusal, the hierarchy still counts every row.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off

\i test/sql/include/error_of.sql
-- The write triggers of the database: table, name, firing state.
CREATE FUNCTION pg_temp.triggers() RETURNS TABLE (tbl text, trigger name, enabled text) LANGUAGE sql AS $$
  SELECT t.tgrelid::regclass::text, t.tgname, t.tgenabled::text FROM pg_trigger t
   WHERE t.tgname LIKE 'geocluster\_%' ORDER BY 1, 2
$$;
-- Rows of a source against the world's zoom-0 counts of its hierarchy.
CREATE FUNCTION pg_temp.agrees(source regclass, h regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n_rows bigint;
  n_counted bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', source) INTO n_rows;
  SELECT sum(v.count) INTO n_counted FROM cluster_viewport(h, -90, -180, 90, 180, 0) v;
  RETURN format('%s rows, %s counted', n_rows, n_counted);
END $$;

CREATE ROLE geocluster_guard_owner;
CREATE SCHEMA guard_a;
CREATE SCHEMA guard_b;
GRANT USAGE, CREATE ON SCHEMA guard_a, guard_b TO geocluster_guard_owner;
SET ROLE geocluster_guard_owner;
SET search_path = guard_a, public;

-- A partitioned source with a sub-partitioned partition in another schema.
CREATE TABLE pm (id bigint, lat float8, lon float8, k int) PARTITION BY RANGE (k);
CREATE TABLE pm1 PARTITION OF pm FOR VALUES FROM (0) TO (10);
CREATE TABLE guard_b.pm2 PARTITION OF pm FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (k);
CREATE TABLE guard_b.pm2a PARTITION OF guard_b.pm2 FOR VALUES FROM (10) TO (15);
CREATE TABLE guard_b.pm2b PARTITION OF guard_b.pm2 FOR VALUES FROM (15) TO (20);
INSERT INTO pm SELECT g, g % 80, g % 170, g % 20 FROM generate_series(1, 100) g;
SELECT cluster_hierarchy_create('pm', 'lat', 'lon', 'id');
SELECT * FROM pg_temp.triggers();

-- Writes reach the write triggers: through the parent, to a partition, to a sub-partition, and
-- under session_replication_role = replica (a superuser's, or logical replication's apply).
-- TRUNCATE of a partition while other tables of the source keep rows is refused (the hierarchy
-- follows a TRUNCATE of the whole source only).
SELECT pg_temp.error_of($$INSERT INTO pm VALUES (1001, 1, 1, 1)$$);
SELECT pg_temp.error_of($$INSERT INTO pm1 VALUES (1001, 1, 1, 1)$$);
SELECT pg_temp.error_of($$UPDATE guard_b.pm2b SET lat = 0$$);
SELECT pg_temp.error_of($$DELETE FROM guard_b.pm2a$$);
SELECT pg_temp.error_of($$TRUNCATE guard_b.pm2$$);
RESET ROLE;
SET session_replication_role = replica;
SELECT pg_temp.error_of($$INSERT INTO guard_b.pm2a VALUES (1002, 1, 1, 12)$$);
SELECT pg_temp.error_of($$ALTER TABLE guard_b.pm2a DISABLE TRIGGER ALL$$);
RESET session_replication_role;
SET ROLE geocluster_guard_owner;
SELECT pg_temp.agrees('pm', 'pm_clusters');

-- A new partition is armed; ATTACH of a table with rows is refused, of an empty one armed;
-- DETACH of a partition with rows is refused, of an empty one disarmed.
CREATE TABLE pm3 PARTITION OF pm FOR VALUES FROM (20) TO (30);
SELECT pg_temp.error_of($$INSERT INTO pm3 VALUES (1003, 1, 1, 25)$$);
CREATE TABLE guard_b.pm4 (id bigint, lat float8, lon float8, k int);
INSERT INTO guard_b.pm4 VALUES (2000, 5, 5, 35);
SELECT pg_temp.error_of($$ALTER TABLE pm ATTACH PARTITION guard_b.pm4 FOR VALUES FROM (30) TO (40)$$);
SET search_path = guard_b, guard_a, public;
SELECT pg_temp.error_of($$ALTER TABLE pm ATTACH PARTITION pm4 FOR VALUES FROM (30) TO (40)$$);
SET search_path = guard_a, public;
DELETE FROM guard_b.pm4;
ALTER TABLE pm ATTACH PARTITION guard_b.pm4 FOR VALUES FROM (30) TO (40);
SELECT pg_temp.error_of($$ALTER TABLE pm DETACH PARTITION pm1$$);
DELETE FROM pm3;  -- (its row reached the hierarchy; the DETACH of the emptied partition is free)
ALTER TABLE pm DETACH PARTITION pm3;
-- DETACH ... CONCURRENTLY commits its first transaction (the rows leave the table) before the
-- command ends: refused before it starts, even for an empty partition.
\set VERBOSITY terse
ALTER TABLE pm DETACH PARTITION guard_b.pm4 CONCURRENTLY;
\set VERBOSITY default
SELECT pg_temp.agrees('pm', 'pm_clusters');
SELECT * FROM pg_temp.triggers();
SELECT pg_temp.agrees('pm', 'pm_clusters');

-- The trigger must stay: DISABLE (by name, USER, ALL), ENABLE REPLICA, DROP TRIGGER, DROP TABLE
-- of a partition, DROP COLUMN ... CASCADE, and renames of it are refused; ENABLE puts ALWAYS back.
SELECT pg_temp.error_of($$ALTER TABLE pm1 DISABLE TRIGGER geocluster_pm_clusters$$);
SELECT pg_temp.error_of($$ALTER TABLE guard_b.pm2a DISABLE TRIGGER USER$$);
SELECT pg_temp.error_of($$ALTER TABLE pm DISABLE TRIGGER ALL$$);
SELECT pg_temp.error_of($$ALTER TABLE pm ENABLE REPLICA TRIGGER geocluster_pm_clusters$$);
ALTER TABLE pm ENABLE TRIGGER ALL;
SELECT * FROM pg_temp.triggers() WHERE tbl = 'pm';
SELECT pg_temp.error_of($$DROP TRIGGER geocluster_pm_clusters ON pm1$$);
SELECT pg_temp.error_of($$DROP TABLE pm1$$);
SELECT pg_temp.error_of($$DROP TABLE guard_b.pm2 CASCADE$$);
SELECT pg_temp.error_of($$ALTER TABLE pm DROP COLUMN lat CASCADE$$);
SELECT pg_temp.error_of($$ALTER TRIGGER geocluster_pm_clusters ON pm1 RENAME TO other_name$$);
-- Columns the hierarchy reads keep their names; others are free.
SELECT pg_temp.error_of($$ALTER TABLE pm RENAME COLUMN lat TO latitude$$);
ALTER TABLE pm ADD COLUMN note text;
ALTER TABLE pm RENAME COLUMN note TO remark;
UPDATE pm SET remark = 'free';
-- A change of position made by a BEFORE trigger of the user's, on an update of another column,
-- reaches the write trigger too (the transition tables hold the rows as written); an update that
-- leaves the positions as they were writes nothing to the hierarchy.
CREATE FUNCTION guard_a.nudge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.lon := NEW.lon + 1;
  RETURN NEW;
END $$;
CREATE TRIGGER a_nudge BEFORE UPDATE ON pm1 FOR EACH ROW EXECUTE FUNCTION guard_a.nudge();
SELECT pg_temp.error_of($$UPDATE pm1 SET remark = 'nudged' WHERE id = 1$$);
DROP TRIGGER a_nudge ON pm1;
UPDATE pm SET lat = lat, lon = lon + 0 WHERE id < 10;
SELECT pg_temp.agrees('pm', 'pm_clusters');

-- The hierarchy's own tables go only with cluster_hierarchy_drop.
SELECT pg_temp.error_of($$DROP TABLE pm_clusters$$);
SELECT pg_temp.error_of($$DROP TABLE pm_clusters_members$$);
SELECT pg_temp.error_of($$DROP TABLE pm_clusters_meta$$);

-- The source renamed and moved: the hierarchy follows it (rebuild reads it under its new name).
ALTER TABLE pm RENAME TO pm_renamed;
ALTER TABLE pm_renamed SET SCHEMA guard_b;
SELECT source_schema, source_table FROM pm_clusters_meta;
SELECT cluster_hierarchy_rebuild('pm_clusters');
SELECT pg_temp.agrees('guard_b.pm_renamed', 'pm_clusters');

-- The guard runs as whoever runs the DDL. A superuser's rename of the owner's source does not
-- write the owner's metadata table (its triggers would run as the superuser): the hierarchy
-- finds its source by its trigger. The owner's rename does.
CREATE TABLE guard_a.meta_writes (who name);
CREATE FUNCTION guard_a.meta_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO guard_a.meta_writes VALUES (current_user);
  RETURN NULL;
END $$;
CREATE TRIGGER meta_written AFTER UPDATE ON pm_clusters_meta FOR EACH STATEMENT EXECUTE FUNCTION guard_a.meta_written();
RESET ROLE;
ALTER TABLE guard_b.pm_renamed RENAME TO pm_by_superuser;
SET ROLE geocluster_guard_owner;
SELECT count(*) AS meta_writes FROM guard_a.meta_writes;
SELECT source_schema, source_table, (cluster_hierarchy_info('pm_clusters')).source FROM pm_clusters_meta;
SELECT cluster_hierarchy_rebuild('pm_clusters');
SELECT pg_temp.agrees('guard_b.pm_by_superuser', 'pm_clusters');
ALTER TABLE guard_b.pm_by_superuser RENAME TO pm_owned;
SELECT * FROM guard_a.meta_writes;
SELECT source_schema, source_table, (cluster_hierarchy_info('pm_clusters')).source FROM pm_clusters_meta;

-- Metadata other than the plain table the create makes is no hierarchy's: a view's functions, or
-- a row security policy's, would run as whoever reads it, and the guard reads metadata for any
-- role's DDL.
CREATE TABLE fake_clusters (band int, block bigint, data bytea);
CREATE TABLE fake_clusters_meta AS SELECT * FROM pm_clusters_meta;
UPDATE fake_clusters_meta SET hierarchy_table = 'fake_clusters', members_table = 'fake_clusters_members';
ALTER TABLE fake_clusters_meta ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.error_of($$SELECT * FROM cluster_viewport('fake_clusters', -90, -180, 90, 180, 0)$$);
DROP TABLE fake_clusters_meta;
CREATE VIEW fake_clusters_meta AS SELECT 'fake_clusters'::name AS hierarchy_table, m.members_table, m.source_schema,
       m.source_table, m.lat_column, m.lon_column, m.geometry_column, m.id_column, m.partition_column, m.radius_px,
       m.max_zoom, m.trigger_name
  FROM pm_clusters_meta m;
SELECT pg_temp.error_of($$SELECT * FROM cluster_viewport('fake_clusters', -90, -180, 90, 180, 0)$$);
DROP VIEW fake_clusters_meta;
DROP TABLE fake_clusters;

-- DROP TABLE of the source takes its hierarchy along: the tables its metadata names, if they
-- have its owner (the owner could make its metadata name anybody's table).
RESET ROLE;
CREATE TABLE guard_a.superusers_table (x int);
SET ROLE geocluster_guard_owner;
UPDATE pm_clusters_meta SET members_table = 'superusers_table';
RESET ROLE;
DROP TABLE guard_b.pm_owned;
SET ROLE geocluster_guard_owner;
SELECT c.oid::regclass FROM pg_class c WHERE c.relnamespace IN ('guard_a'::regnamespace, 'guard_b'::regnamespace)
 ORDER BY c.oid::regclass::text;
SELECT * FROM pg_temp.triggers();

-- Inheritance: a child table's writes, INHERIT of a table with rows, NO INHERIT of an empty child.
CREATE TABLE par (id bigint, lat float8, lon float8);
CREATE TABLE chi () INHERITS (par);
INSERT INTO par VALUES (1, 1, 1);
INSERT INTO chi VALUES (2, 2, 2);
SELECT cluster_hierarchy_create('par', 'lat', 'lon', 'id');
SELECT pg_temp.error_of($$INSERT INTO chi VALUES (3, 3, 3)$$);
CREATE TABLE chi2 (id bigint, lat float8, lon float8);
INSERT INTO chi2 VALUES (4, 4, 4);
SELECT pg_temp.error_of($$ALTER TABLE chi2 INHERIT par$$);
SELECT pg_temp.error_of($$ALTER TABLE chi NO INHERIT par$$);
CREATE TABLE chi3 () INHERITS (par);
ALTER TABLE chi3 NO INHERIT par;
SELECT * FROM pg_temp.triggers();
SELECT pg_temp.agrees('par', 'par_clusters');

-- cluster_hierarchy_drop leaves the tables and no trigger.
SELECT cluster_hierarchy_drop('par_clusters');
SELECT c.oid::regclass FROM pg_class c WHERE c.relnamespace IN ('guard_a'::regnamespace, 'guard_b'::regnamespace)
 ORDER BY c.oid::regclass::text;
SELECT * FROM pg_temp.triggers();

RESET ROLE;
RESET search_path;
DROP SCHEMA guard_a, guard_b CASCADE;
DROP ROLE geocluster_guard_owner;
