-- The C++/PostgreSQL error boundary: failures raised inside the core come back as ordinary
-- ERRORs with the documented SQLSTATE, and the same session keeps working afterwards.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\set VERBOSITY default
\pset tuples_only on

-- No failure: the call returns normally.
SELECT geocluster_selftest('ok');

-- A C++ exception thrown inside the core becomes an ERROR (XX000) carrying its message...
\set ON_ERROR_STOP 0
SELECT geocluster_selftest('exception');
-- ...and the session goes on to run the next query.
SELECT 1 + 1 AS still_alive;

-- std::bad_alloc maps to out_of_memory (53200); a real library failure (std::vector asked
-- for more than max_size) is caught the same way.
SELECT geocluster_selftest('bad_alloc');
SELECT geocluster_selftest('huge_vector');
SELECT 'alive after allocation failures' AS still_alive;

-- A core failure *status* maps to its documented SQLSTATE. Show the SQLSTATE itself.
DO $$
BEGIN
  PERFORM geocluster_selftest('exception');
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'exception -> SQLSTATE %', SQLSTATE;
END $$;
SET client_min_messages = notice;
DO $$
DECLARE kinds text[] := ARRAY['exception', 'bad_alloc', 'huge_vector', 'status'];
        k text;
BEGIN
  FOREACH k IN ARRAY kinds LOOP
    BEGIN
      PERFORM geocluster_selftest(k);
      RAISE NOTICE '% -> no error (wrong)', k;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE '% -> SQLSTATE %', k, SQLSTATE;
    END;
  END LOOP;
END $$;

-- An unknown kind is an invalid parameter (22023).
SELECT geocluster_selftest('no such kind');

-- Many failures in a row leave the backend serving and its memory flat.
DO $$
BEGIN
  FOR i IN 1..2000 LOOP
    BEGIN
      PERFORM geocluster_selftest(CASE i % 3 WHEN 0 THEN 'exception' WHEN 1 THEN 'bad_alloc' ELSE 'huge_vector' END);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
END $$;
SELECT pg_backend_pid() = pg_backend_pid() AS same_backend_alive;

-- Every core status against its documented SQLSTATE (src/core/status.hpp). The expected file
-- is the documentation's check: a status moved to another class shows up as a diff here.
DO $$
DECLARE names text[] := ARRAY[
  'QuadkeyBadDigit', 'QuadkeyTooLong', 'GeohashBadChar', 'GeohashTooLong',
  'LatNotFinite', 'LonNotFinite', 'LatOutOfRange', 'LonOutOfRange', 'ZoomOutOfRange',
  'PrecisionOutOfRange', 'TileOutOfRange', 'BigintOutOfRange', 'ParentTooDeep',
  'RadiusInvalid', 'BoxInvalid', 'CoverTooLarge', 'StateBadVersion', 'StateCorrupt', 'HierarchyBlockCorrupt',
  'OutOfMemory', 'TestException', 'Internal'];
        n text;
BEGIN
  FOREACH n IN ARRAY names LOOP
    BEGIN
      PERFORM geocluster_selftest('status:' || n);
      RAISE NOTICE '% -> no error (wrong)', n;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE '% -> SQLSTATE %: %', n, SQLSTATE, SQLERRM;
    END;
  END LOOP;
END $$;
-- Status Ok is not a failure.
SELECT geocluster_selftest('status:Ok');
