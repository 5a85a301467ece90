-- Extension hygiene: what a DBA expects of CREATE/DROP EXTENSION, schemas and search_path.
SET client_min_messages = warning;
\pset tuples_only on
DROP EXTENSION IF EXISTS geocluster_postgis;
DROP EXTENSION IF EXISTS geocluster CASCADE;

-- A snapshot of every object PostgreSQL could leave behind, taken before installing.
CREATE TEMP TABLE before_objects AS
SELECT 'proc' AS kind, oid::regprocedure::text AS name FROM pg_proc
UNION ALL SELECT 'type', oid::regtype::text FROM pg_type WHERE typnamespace <> pg_my_temp_schema()
UNION ALL SELECT 'operator', oid::regoperator::text FROM pg_operator
UNION ALL SELECT 'opclass', opcname FROM pg_opclass
UNION ALL SELECT 'opfamily', opfname FROM pg_opfamily
UNION ALL SELECT 'cast', castsource::regtype || '->' || casttarget::regtype FROM pg_cast
UNION ALL SELECT 'namespace', nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%';

CREATE EXTENSION geocluster;
DROP EXTENSION geocluster;

-- DROP EXTENSION leaves nothing behind: no object that was not there before.
SELECT count(*) = 0 AS nothing_left_behind FROM (
  SELECT 'proc' AS kind, oid::regprocedure::text AS name FROM pg_proc
  UNION ALL SELECT 'type', oid::regtype::text FROM pg_type WHERE typnamespace <> pg_my_temp_schema()
  UNION ALL SELECT 'operator', oid::regoperator::text FROM pg_operator
  UNION ALL SELECT 'opclass', opcname FROM pg_opclass
  UNION ALL SELECT 'opfamily', opfname FROM pg_opfamily
  UNION ALL SELECT 'cast', castsource::regtype || '->' || casttarget::regtype FROM pg_cast
  UNION ALL SELECT 'namespace', nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
  EXCEPT SELECT kind, name FROM before_objects) leftovers;

-- CREATE EXTENSION ... SCHEMA other works, and a search_path without that schema breaks
-- nothing: every call below is schema-qualified and still resolves the extension's own
-- objects.
CREATE SCHEMA other;
CREATE EXTENSION geocluster SCHEMA other;
SELECT extnamespace::regnamespace = 'other'::regnamespace AS installed_in_other
  FROM pg_extension WHERE extname = 'geocluster';
SET search_path = pg_catalog;
SELECT other.geocluster_version() = (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'geocluster') AS version_matches;
SELECT other.geocluster_selftest('ok') AS callable_without_search_path;
RESET search_path;
-- A hostile search_path (a schema that shadows built-in names first) cannot capture anything
-- the extension does.
CREATE SCHEMA evil;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'captured' $$;
SET search_path = evil, pg_catalog;
SELECT other.geocluster_selftest('ok') AS unaffected_by_evil_path;
RESET search_path;
DROP SCHEMA evil CASCADE;
DROP EXTENSION geocluster;
DROP SCHEMA other;

CREATE EXTENSION geocluster;

-- Every function the extension owns is PARALLEL SAFE, not SECURITY DEFINER, and of a
-- declared volatility; functions are IMMUTABLE unless listed here with the reason:
--   quadkey_contsel, geohash_contsel: restriction estimators read the column's statistics
--   (pg_statistic), which ANALYZE changes, so they are STABLE like PostgreSQL's own eqsel.
--   the stored cluster hierarchy's functions (below) read or write its tables.
--   cluster_agg_sharded (below) runs a query on other servers (postgres_fdw).
SELECT p.oid::regprocedure AS not_parallel_safe_or_secdef
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster'
 WHERE d.deptype = 'e' AND (p.prosecdef OR (p.proparallel <> 's' AND p.proname !~ '^cluster_(hierarchy|viewport|children|expansion_zoom|leaves)'
                                          AND p.proname <> 'cluster_agg_sharded'));
SELECT p.oid::regprocedure AS not_immutable
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster'
 WHERE d.deptype = 'e' AND p.provolatile <> 'i' AND p.prokind = 'f'
   AND p.proname NOT IN ('quadkey_contsel', 'geohash_contsel')
   AND p.proname !~ '^cluster_(hierarchy|viewport|children|expansion_zoom|leaves)'
   AND p.proname <> 'cluster_agg_sharded';
-- cluster_agg_sharded reads tables, on this server and through postgres_fdw on others, with
-- whatever filter the caller gives: VOLATILE, and PARALLEL UNSAFE (a worker must not open the
-- foreign servers' connections the leader's transaction owns).
SELECT p.oid::regprocedure AS sharded_function, p.provolatile, p.proparallel, p.prosecdef
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster'
 WHERE d.deptype = 'e' AND p.proname = 'cluster_agg_sharded';
-- The hierarchy's functions: those that write (build, drop, rebuild, the write trigger) are
-- VOLATILE and PARALLEL UNSAFE; those that read its tables are STABLE and PARALLEL RESTRICTED
-- (a hierarchy of a temporary table lives in the session's temporary schema, which parallel
-- workers cannot read; cluster_viewport also keeps its plans in the session); the checks that
-- read the catalogs only are STABLE and PARALLEL SAFE.
SELECT p.oid::regprocedure AS hierarchy_function, p.provolatile, p.proparallel
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster'
 WHERE d.deptype = 'e' AND (p.provolatile <> 'i' OR p.proparallel <> 's')
   AND p.proname ~ '^cluster_(hierarchy|viewport|children|expansion_zoom|leaves)'
 ORDER BY p.oid::regprocedure::text;
SELECT count(*) = 2 AS estimators_are_stable
  FROM pg_proc WHERE proname IN ('quadkey_contsel', 'geohash_contsel') AND provolatile = 's';
SELECT count(*) > 0 AS extension_has_functions
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'geocluster'
 WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e';

-- The control file's `trusted = true` (see README, "Security"): a non-superuser with CREATE on
-- the database can install it. The extension then belongs to that user; its member objects, as
-- for every trusted extension, to the bootstrap superuser that ran the script.
SELECT e.extname, e.extversion = a.default_version AS default_version, e.extversion = geocluster_version() AS library_version
  FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'geocluster';
SELECT bool_and(trusted) AS trusted FROM pg_available_extension_versions WHERE name = 'geocluster';
DROP EXTENSION geocluster;
CREATE ROLE geocluster_plain_user LOGIN;
SELECT current_database() AS db \gset
GRANT CREATE ON DATABASE :"db" TO geocluster_plain_user;
GRANT CREATE ON SCHEMA public TO geocluster_plain_user;
SET ROLE geocluster_plain_user;
CREATE EXTENSION geocluster;
SELECT geocluster_selftest('ok') AS plain_user_can_use_it;
DROP EXTENSION geocluster;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM geocluster_plain_user;
REVOKE CREATE ON DATABASE :"db" FROM geocluster_plain_user;
DROP ROLE geocluster_plain_user;
CREATE EXTENSION geocluster;
