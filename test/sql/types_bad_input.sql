-- Bad input to the quadkey and geohash functions: every one is an ordinary ERROR with the
-- documented SQLSTATE (README, "Errors") and a message that says what is wrong, and the
-- session goes on. Malformed binary values are fed through binary COPY in
-- test/t/060_types_roundtrip.pl (recv is not callable from SQL).
--
--   22P02 invalid_text_representation   malformed quadkey / geohash text
--   22003 numeric_value_out_of_range    lat, lon (also NaN, +-Infinity), zoom, precision, tile,
--                                       bigint quadkey out of range; children of the deepest level
--   22023 invalid_parameter_value       a parent level deeper than the cell
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset null '(null)'
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT pg_backend_pid() AS first_pid \gset

-- Runs one statement and returns what it raised as 'SQLSTATE: message (detail)', or 'no error'.
CREATE FUNCTION pg_temp.error_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN detail <> '' THEN ' (' || detail || ')' ELSE '' END;
END $$;

CREATE TEMP TABLE bad_input (n serial, expected text, statement text);
INSERT INTO bad_input (expected, statement) VALUES
  -- quadkey text
  ('22P02', $$SELECT '4'::quadkey$$),
  ('22P02', $$SELECT 'a'::quadkey$$),
  ('22P02', $$SELECT '01x2'::quadkey$$),
  ('22P02', $$SELECT ' 0'::quadkey$$),
  ('22P02', $$SELECT '0 '::quadkey$$),
  ('22P02', $$SELECT '-1'::quadkey$$),
  ('22P02', $$SELECT E'01\t'::quadkey$$),
  ('22P02', $$SELECT '０'::quadkey$$),
  ('22P02', $$SELECT repeat('0', 30)::quadkey$$),
  ('22P02', $$SELECT repeat('x', 45)::quadkey$$),
  ('22P02', $$SELECT 'abc'::text::quadkey$$),
  ('22P02', $$SELECT '12x'::varchar::quadkey$$),
  -- geohash text
  ('22P02', $$SELECT 'a'::geohash$$),
  ('22P02', $$SELECT 'i'::geohash$$),
  ('22P02', $$SELECT 'l'::geohash$$),
  ('22P02', $$SELECT 'o'::geohash$$),
  ('22P02', $$SELECT 'A'::geohash$$),
  ('22P02', $$SELECT 'u4pruydqqvjo'::geohash$$),
  ('22P02', $$SELECT 'u4 '::geohash$$),
  ('22P02', $$SELECT '-'::geohash$$),
  ('22P02', $$SELECT 'ü'::geohash$$),
  ('22P02', $$SELECT 'u4pruydqqvjnq'::geohash$$),
  ('22P02', $$SELECT 'aaa'::varchar::geohash$$),
  -- latitude / longitude
  ('22003', $$SELECT quadkey('NaN', 0, 5)$$),
  ('22003', $$SELECT quadkey(0, 'NaN', 5)$$),
  ('22003', $$SELECT quadkey('Infinity', 0, 5)$$),
  ('22003', $$SELECT quadkey(0, '-Infinity', 5)$$),
  ('22003', $$SELECT quadkey(90.0000001, 0, 5)$$),
  ('22003', $$SELECT quadkey(-90.0000001, 0, 5)$$),
  ('22003', $$SELECT quadkey(0, 180.0000001, 5)$$),
  ('22003', $$SELECT quadkey(0, -180.0000001, 5)$$),
  ('22003', $$SELECT geohash('NaN', 0, 5)$$),
  ('22003', $$SELECT geohash(0, 'Infinity', 5)$$),
  ('22003', $$SELECT geohash('-Infinity', 0, 5)$$),
  ('22003', $$SELECT geohash(91, 0, 5)$$),
  ('22003', $$SELECT geohash(0, -181, 5)$$),
  ('22003', $$SELECT geohash(1e308, 1e308, 5)$$),
  -- zoom / precision
  ('22003', $$SELECT quadkey(0, 0, -1)$$),
  ('22003', $$SELECT quadkey(0, 0, 30)$$),
  ('22003', $$SELECT geohash(0, 0, -1)$$),
  ('22003', $$SELECT geohash(0, 0, 13)$$),
  ('22003', $$SELECT geohash_precision_for_zoom(-1)$$),
  ('22003', $$SELECT geohash_precision_for_zoom(30)$$),
  -- tiles
  ('22003', $$SELECT quadkey_from_tile(-1, 0, 0)$$),
  ('22003', $$SELECT quadkey_from_tile(30, 0, 0)$$),
  ('22003', $$SELECT quadkey_from_tile(3, 8, 0)$$),
  ('22003', $$SELECT quadkey_from_tile(3, 0, 8)$$),
  ('22003', $$SELECT quadkey_from_tile(3, -1, 0)$$),
  ('22003', $$SELECT quadkey_from_tile(0, 1, 0)$$),
  ('22003', $$SELECT quadkey_from_tile(29, 536870912, 0)$$),
  -- bigint quadkeys
  ('22003', $$SELECT quadkey_from_bigint(64, 3)$$),
  ('22003', $$SELECT quadkey_from_bigint(-1, 3)$$),
  ('22003', $$SELECT quadkey_from_bigint(1, 0)$$),
  ('22003', $$SELECT quadkey_from_bigint(0, 30)$$),
  ('22003', $$SELECT quadkey_from_bigint(0, -1)$$),
  ('22003', $$SELECT quadkey_from_bigint(9223372036854775807, 29)$$),
  -- parents and children
  ('22023', $$SELECT quadkey_parent('012', 4)$$),
  ('22023', $$SELECT quadkey_parent('', 1)$$),
  ('22003', $$SELECT quadkey_parent('012', -1)$$),
  ('22023', $$SELECT geohash_parent('u4', 3)$$),
  ('22003', $$SELECT geohash_parent('u4', -1)$$),
  ('22003', $$SELECT quadkey_children(repeat('1', 29)::quadkey)$$),
  ('22003', $$SELECT geohash_children('u4pruydqqvjn')$$);

-- Each bad input, what it raised, and whether that is the expected SQLSTATE.
SELECT n, left(error_of, 5) = expected AS ok, statement, error_of
  FROM bad_input, LATERAL pg_temp.error_of(statement)
 ORDER BY n;
\pset tuples_only on
SELECT count(*) >= 40 AS at_least_40_bad_inputs FROM bad_input;
SELECT count(*) = 0 AS every_sqlstate_as_documented
  FROM bad_input WHERE left(pg_temp.error_of(statement), 5) IS DISTINCT FROM expected;

-- The empty text is valid for both types: the whole world, not an error.
SELECT pg_temp.error_of($$SELECT ''::quadkey$$) = 'no error'
   AND pg_temp.error_of($$SELECT ''::geohash$$) = 'no error'
   AND ''::quadkey = quadkey_from_tile(0, 0, 0) AND ''::geohash = geohash(0, 0, 0) AS empty_text_is_valid;
-- The edges themselves are valid: +-90, +-180, zoom 0 and 29, precision 0 and 12.
SELECT pg_temp.error_of($$SELECT quadkey(90, 180, 29), quadkey(-90, -180, 0),
                                 geohash(90, 180, 12), geohash(-90, -180, 0),
                                 quadkey_from_tile(29, 536870911, 536870911),
                                 quadkey_from_bigint(0, 29), quadkey_parent('012', 3)$$) = 'no error'
    AS edges_are_valid;
\pset tuples_only off

-- A few as plain ERRORs, as a client sees them (message and DETAIL).
SELECT 'x12'::quadkey;
SELECT repeat('0', 30)::quadkey;
SELECT 'olive'::geohash;
SELECT quadkey(0, 'NaN', 5);
SELECT geohash(95.5, 0, 5);
SELECT quadkey_from_tile(3, 8, 0);
SELECT quadkey_from_bigint(64, 3);
SELECT quadkey_parent('012', 4);
SELECT geohash(0, 0, 13);
-- A failing migration leaves the table as it was.
CREATE TEMP TABLE legacy (gh varchar(12));
INSERT INTO legacy VALUES ('u4pr'), ('bad!'), (NULL);
ALTER TABLE legacy ALTER gh TYPE geohash USING gh::geohash;
SELECT format_type(atttypid, atttypmod) AS still_varchar FROM pg_attribute
 WHERE attrelid = 'legacy'::regclass AND attname = 'gh';

-- None of this crashed or ended the session: same backend as at the start.
\pset tuples_only on
SELECT pg_backend_pid() = :first_pid AS same_session_still_alive;
