-- geocluster_postgis as a DBA sees it: CREATE EXTENSION ... CASCADE in a fresh database, DROP
-- EXTENSION leaving geocluster and PostGIS intact and nothing of its own, the three extensions
-- in three different schemas under a hostile search_path, and the functions' declarations.
SET client_min_messages = warning;
\pset tuples_only on
\pset null '(null)'
SELECT current_database() AS regression_db \gset
DROP DATABASE IF EXISTS geocluster_postgis_fresh;
DROP ROLE IF EXISTS geocluster_postgis_user;
CREATE DATABASE geocluster_postgis_fresh TEMPLATE template0;
\c geocluster_postgis_fresh
SET client_min_messages = warning;

-- A snapshot of every object PostgreSQL could leave behind.
CREATE FUNCTION pg_temp.objects() RETURNS TABLE(kind text, name text) LANGUAGE sql AS $$
  SELECT 'proc', oid::regprocedure::text FROM pg_proc
  UNION ALL SELECT 'type', oid::regtype::text FROM pg_type WHERE typnamespace <> pg_my_temp_schema()
  UNION ALL SELECT 'operator', oid::regoperator::text FROM pg_operator
  UNION ALL SELECT 'opclass', opcname FROM pg_opclass
  UNION ALL SELECT 'opfamily', opfname FROM pg_opfamily
  UNION ALL SELECT 'cast', castsource::regtype || '->' || casttarget::regtype FROM pg_cast
  UNION ALL SELECT 'namespace', nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL SELECT 'relation', oid::regclass::text FROM pg_class WHERE relpersistence <> 't'
$$;
CREATE TEMP TABLE fresh_objects AS SELECT * FROM pg_temp.objects();

--------------------------------------------------------------------------------------------
-- CREATE EXTENSION ... CASCADE in a fresh database brings geocluster and PostGIS along
--------------------------------------------------------------------------------------------
CREATE EXTENSION geocluster_postgis CASCADE;
SELECT extname, extversion = (SELECT default_version FROM pg_available_extensions a WHERE a.name = extname)
  FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname;
SELECT quadkey(ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), 10)::text = '1202200110' AS works;
-- The installer function of 00_header.sql is gone.
SELECT count(*) = 0 AS installer_dropped FROM pg_proc WHERE proname = 'geocluster_postgis_install';

-- Every function is PARALLEL SAFE, not SECURITY DEFINER, IMMUTABLE (ST_Transform is IMMUTABLE
-- in PostGIS too); the ones not STRICT are exactly those that must not be (see the comments
-- in src/sql/geocluster_postgis/).
SELECT p.oid::regprocedure AS not_parallel_safe_or_secdef_or_not_immutable
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster_postgis'
 WHERE d.deptype = 'e' AND (p.prosecdef OR p.proparallel <> 's' OR (p.prokind = 'f' AND p.provolatile <> 'i'))
   AND p.proname NOT IN ('cluster_hierarchy_create', 'cluster_hierarchy_tile', 'cluster_hierarchy_tile_of');
-- ...but the stored cluster hierarchy's (as in geocluster): create writes (VOLATILE, PARALLEL
-- UNSAFE), the tiles read its tables (STABLE, PARALLEL RESTRICTED).
SELECT p.oid::regprocedure AS hierarchy_function, p.provolatile, p.proparallel, p.prosecdef
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster_postgis'
 WHERE d.deptype = 'e' AND p.proname IN ('cluster_hierarchy_create', 'cluster_hierarchy_tile', 'cluster_hierarchy_tile_of')
 ORDER BY p.oid::regprocedure::text;
SELECT p.prokind, p.oid::regprocedure AS not_strict
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster_postgis'
 WHERE d.deptype = 'e' AND NOT p.proisstrict ORDER BY 1, p.oid::regprocedure::text;

--------------------------------------------------------------------------------------------
-- DROP EXTENSION geocluster_postgis: geocluster and PostGIS stay and work; nothing else stays
--------------------------------------------------------------------------------------------
-- Everything but the companion's own functions and aggregates (it has no other objects).
CREATE TEMP TABLE before_companion AS
SELECT * FROM pg_temp.objects()
EXCEPT
SELECT 'proc', p.oid::regprocedure::text FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster_postgis';
SELECT count(*) = 0 AS companion_has_only_functions FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster_postgis'
 WHERE d.deptype = 'e' AND d.classid <> 'pg_proc'::regclass;
DROP EXTENSION geocluster_postgis;
SELECT string_agg(extname, ', ' ORDER BY extname) FROM pg_extension;
SELECT count(*) = 0 AS nothing_of_the_companion_left FROM (
  SELECT * FROM pg_temp.objects() EXCEPT SELECT * FROM before_companion) leftovers;
SELECT count(*) = 0 AS geocluster_and_postgis_intact FROM (
  SELECT * FROM before_companion EXCEPT SELECT * FROM pg_temp.objects()) lost;
SELECT quadkey(48.85, 2.35, 10)::text = '1202200110' AND ST_X('POINT(1 2)') = 1 AS both_still_work;
DROP EXTENSION geocluster;
DROP EXTENSION postgis;
SELECT count(*) = 0 AS database_as_fresh_as_before FROM (
  SELECT * FROM pg_temp.objects() EXCEPT SELECT * FROM fresh_objects) leftovers;

--------------------------------------------------------------------------------------------
-- Three schemas, and a search_path that tries to capture every name the bodies use
--------------------------------------------------------------------------------------------
CREATE SCHEMA gis;
CREATE SCHEMA gc;
CREATE SCHEMA gcp;
CREATE EXTENSION postgis SCHEMA gis;
CREATE EXTENSION geocluster SCHEMA gc;
CREATE EXTENSION geocluster_postgis SCHEMA gcp;
SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname <> 'plpgsql' ORDER BY 1;
-- Without any of the schemas on the search_path, qualified calls work...
SET search_path = pg_catalog;
SELECT gcp.quadkey(gis.ST_SetSRID(gis.ST_MakePoint(2.35, 48.85), 4326), 10)::text = '1202200110'
   AND gcp.geohash(gis.ST_Transform(gis.ST_SetSRID(gis.ST_MakePoint(2.35, 48.85), 4326), 3857), 5)::text = 'u09tv'
   AND gis.ST_Equals(gcp.quadkey_envelope(gc.quadkey_from_tile(3, 2, 1)), gis.ST_TileEnvelope(3, 2, 1))
   AND gis.ST_AsText(gcp.geohash_envelope('s')) = 'POLYGON((0 0,0 45,45 45,45 0,0 0))'
   AND cardinality(gcp.cluster_agg(gis.ST_SetSRID(gis.ST_MakePoint(2.35, 48.85), 4326), 5, 60, 1)) = 1
   AND gis.ST_AsText(gcp.cluster_point((gcp.cluster_agg(gis.ST_SetSRID(gis.ST_MakePoint(1, 2), 4326), 5))[1]), 9) = 'POINT(1 2)'
   AND cardinality(gcp.cluster_tile_boxes(1, 0, 0)) = 2 AS qualified_calls_work;
-- ...and functions a hostile schema puts first on the path capture nothing.
CREATE SCHEMA evil;
CREATE FUNCTION evil.st_srid(gis.geometry) RETURNS int LANGUAGE sql AS 'SELECT 0';
CREATE FUNCTION evil.st_x(gis.geometry) RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8';
CREATE FUNCTION evil.st_y(gis.geometry) RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8';
CREATE FUNCTION evil.st_geometrytype(gis.geometry) RETURNS text LANGUAGE sql AS $$SELECT 'ST_LineString'$$;
CREATE FUNCTION evil.quadkey(float8, float8, int) RETURNS gc.quadkey LANGUAGE sql AS $$SELECT ''::gc.quadkey$$;
CREATE FUNCTION evil.texteq_evil(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq_evil);
CREATE FUNCTION evil.int4eq_evil(int, int) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR evil.= (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.int4eq_evil);
SET search_path = evil, gis, gc, gcp, pg_catalog;
CREATE TEMP TABLE under_evil_path AS
SELECT gcp.quadkey(gis.ST_SetSRID(gis.ST_MakePoint(2.35, 48.85), 4326), 10)::text AS qk,
       gcp.geohash(gis.ST_SetSRID(gis.ST_MakePoint(2.35, 48.85), 4326), 5)::text AS gh,
       gis.ST_AsText(gcp.cluster_point((gcp.cluster_agg(gis.ST_SetSRID(gis.ST_MakePoint(1, 2), 4326), 5))[1]), 9) AS centre,
       quadkey(1, 2, 3)::text AS evil_quadkey,
       st_srid(gis.ST_SetSRID(gis.ST_MakePoint(1, 2), 4326)) AS evil_srid,
       'a'::text = 'a'::text AS evil_equals;
RESET search_path;
SELECT qk = '1202200110' AND gh = 'u09tv' AND centre = 'POINT(1 2)' AS unaffected_by_evil_path FROM under_evil_path;
-- (Unqualified names do go to the hostile schema: the path really is hostile.)
SELECT evil_quadkey = '' AND evil_srid = 0 AND NOT evil_equals AS evil_path_is_evil FROM under_evil_path;
DROP SCHEMA evil CASCADE;
DROP EXTENSION geocluster_postgis;
DROP EXTENSION geocluster;
DROP EXTENSION postgis;
DROP SCHEMA gis;
DROP SCHEMA gc;
DROP SCHEMA gcp;

--------------------------------------------------------------------------------------------
-- trusted = true: a user with CREATE on the database installs it once PostGIS is there
-- (PostGIS itself is not trusted, so CASCADE needs a superuser when PostGIS is missing)
--------------------------------------------------------------------------------------------
CREATE EXTENSION postgis;
CREATE ROLE geocluster_postgis_user LOGIN;
GRANT CREATE ON DATABASE geocluster_postgis_fresh TO geocluster_postgis_user;
GRANT CREATE ON SCHEMA public TO geocluster_postgis_user;
SET ROLE geocluster_postgis_user;
CREATE EXTENSION geocluster_postgis CASCADE;
SELECT quadkey(ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), 10)::text = '1202200110' AS plain_user_can_use_it;
-- The extensions belong to the user (the member objects, as for any trusted extension, to the
-- bootstrap superuser that ran the script); the user can drop them.
SELECT string_agg(extname, ', ' ORDER BY extname) AS owned_by_the_user FROM pg_extension
 WHERE extowner = 'geocluster_postgis_user'::regrole;
DROP EXTENSION geocluster_postgis;
DROP EXTENSION geocluster;
RESET ROLE;

\c :regression_db
DROP DATABASE geocluster_postgis_fresh;
DROP ROLE geocluster_postgis_user;
