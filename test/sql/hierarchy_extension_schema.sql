-- geocluster in a schema of its own, which not every role may USE: the hierarchy guard's event
-- triggers run for every role's DDL, and a role without USAGE on the extension's schema must
-- keep its DDL on tables that no hierarchy has (a name in that schema needs USAGE: until
-- 2026-12-07 such a role could not even CREATE TABLE). The guard still refuses or follows the
-- DDL that concerns a hierarchy. In a database of its own, dropped at the end with the roles.
SET client_min_messages = warning;
SELECT current_database() AS regression_db \gset
DROP DATABASE IF EXISTS geocluster_extension_schema;
DROP ROLE IF EXISTS geocluster_schema_owner;
DROP ROLE IF EXISTS geocluster_schema_stranger;
CREATE DATABASE geocluster_extension_schema TEMPLATE template0;
\c geocluster_extension_schema
SET client_min_messages = warning;
CREATE SCHEMA geo;
CREATE EXTENSION geocluster SCHEMA geo;
CREATE ROLE geocluster_schema_owner;
CREATE ROLE geocluster_schema_stranger;
GRANT USAGE ON SCHEMA geo TO geocluster_schema_owner;
GRANT CREATE ON SCHEMA public TO geocluster_schema_owner, geocluster_schema_stranger;
\set VERBOSITY terse

SET ROLE geocluster_schema_owner;
CREATE TABLE src (id bigint, lat float8, lon float8, k int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE src1 PARTITION OF src FOR VALUES FROM (0) TO (10);
INSERT INTO src SELECT i, 48.8 + (i % 20) * 0.01, 2.3 + (i / 20) * 0.01, i % 10 FROM generate_series(1, 400) AS i;
SELECT geo.cluster_hierarchy_create('src', 'lat', 'lon', 'id');
GRANT INSERT ON src TO geocluster_schema_stranger;

-- A role without USAGE on geo: DDL on its own tables, of every kind the guard looks at.
SET ROLE geocluster_schema_stranger;
CREATE TABLE mine (a int);
ALTER TABLE mine ADD COLUMN b int;
ALTER TABLE mine RENAME COLUMN b TO c;
ALTER TABLE mine RENAME TO mine2;
CREATE TABLE parts (k int) PARTITION BY RANGE (k);
CREATE TABLE parts1 PARTITION OF parts FOR VALUES FROM (0) TO (10);
INSERT INTO parts VALUES (1);
ALTER TABLE parts DETACH PARTITION parts1;
ALTER TABLE parts ATTACH PARTITION parts1 FOR VALUES FROM (0) TO (10);
ALTER TABLE parts DETACH PARTITION parts1 CONCURRENTLY;
CREATE TABLE base (a int);
CREATE TABLE child (a int);
ALTER TABLE child INHERIT base;
ALTER TABLE child NO INHERIT base;
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER t_noop AFTER INSERT ON mine2 FOR EACH STATEMENT EXECUTE FUNCTION noop();
ALTER TRIGGER t_noop ON mine2 RENAME TO t_noop2;
ALTER TABLE mine2 DISABLE TRIGGER ALL;
-- (tables named like a hierarchy's, but without its shape)
CREATE TABLE lookalike_meta (x int);
CREATE TABLE lookalike (x int);
DROP TABLE lookalike, lookalike_meta;
DROP TRIGGER t_noop2 ON mine2;
DROP TABLE mine2, parts, parts1, child, base;
DROP FUNCTION noop();
-- Reading the hierarchy, and writing to its source, need USAGE on geo, as every function of the
-- extension does.
SELECT count(*) FROM geo.cluster_viewport('src_clusters', -90, -180, 90, 180, 0);
INSERT INTO src VALUES (5000, 48.9, 2.4, 1);

-- The owner: the guard still acts on DDL that concerns the hierarchy.
SET ROLE geocluster_schema_owner;
ALTER TABLE src DISABLE TRIGGER ALL;
ALTER TABLE src RENAME COLUMN lat TO latitude;
ALTER TABLE src1 DISABLE TRIGGER USER;
CREATE TABLE src2 PARTITION OF src FOR VALUES FROM (10) TO (20);
INSERT INTO src2 VALUES (1000, 48.9, 2.4, 15);
SELECT (SELECT count(*) FROM src) AS rows_,
       (SELECT sum(v.count) FROM geo.cluster_viewport('src_clusters', -90, -180, 90, 180, 0) AS v) AS counted;
CREATE TABLE loaded (LIKE src);
INSERT INTO loaded VALUES (2000, 48.9, 2.4, 25);
ALTER TABLE src ATTACH PARTITION loaded FOR VALUES FROM (20) TO (30);
DROP TABLE loaded;
ALTER TABLE src DETACH PARTITION src2 CONCURRENTLY;
DROP TRIGGER geocluster_src_clusters_ins ON src1;
DROP TABLE src_clusters_meta;
DROP TABLE src;
SELECT count(*) AS hierarchy_tables_left FROM pg_class WHERE relname LIKE 'src\_clusters%';

RESET ROLE;
\c :regression_db
DROP DATABASE geocluster_extension_schema;
DROP ROLE geocluster_schema_owner;
DROP ROLE geocluster_schema_stranger;
