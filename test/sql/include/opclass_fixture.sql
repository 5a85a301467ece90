-- Shared by sql/opclass_{btree,gist,spgist,brin}.sql and
-- sql/planner_{index_conditions,selectivity}.sql (\i from the top directory, where
-- pg_regress runs psql): the marker cells, the query cells and ix_check().
-- Fixture: 20,000 markers (a uniform scatter and three dense cities), one in ten also stored
-- as a coarser cell of every level 0..23 / 0..12 (mixed levels, including the root ''), and
-- duplicates. Deterministic.
CREATE TABLE ix_cells AS
WITH p AS (
  SELECT i,
    CASE WHEN i % 10 < 7 THEN ((i * 7919) % 17000) / 100.0 - 85
         ELSE (ARRAY[48.85, -33.86, 35.68])[i % 3 + 1] + ((i * 104729) % 1000 - 500) / 10000.0 END AS lat,
    CASE WHEN i % 10 < 7 THEN ((i * 104723) % 36000) / 100.0 - 180
         ELSE (ARRAY[2.35, 151.2, 139.69])[i % 3 + 1] + ((i * 7907) % 1000 - 500) / 10000.0 END AS lon
  FROM generate_series(1, 20000) i)
SELECT i AS id, quadkey(lat, lon, 23) AS qk, geohash(lat, lon, 12) AS gh FROM p;
INSERT INTO ix_cells
  SELECT 100000 + id, quadkey_parent(qk, id / 10 % 24), geohash_parent(gh, id / 10 % 13)
    FROM ix_cells WHERE id % 10 = 0;
INSERT INTO ix_cells SELECT 200000 + id, qk, gh FROM ix_cells WHERE id % 50 = 1;
ANALYZE ix_cells;

-- Query cells: ancestors of sample rows at every level, cells deeper than the data, and cells
-- where no data is.
CREATE TABLE ix_quadkeys AS
  SELECT DISTINCT quadkey_parent(qk, l) AS cell
    FROM ix_cells, generate_series(0, 23) l WHERE id % 4999 = 0 AND id < 100000
  UNION SELECT quadkey(-10.0 * k, 7.0 * k, 25 + k % 5) FROM generate_series(1, 8) k
  UNION SELECT quadkey(0.5, -150.0 + 10 * k, 3 + 2 * k) FROM generate_series(1, 8) k;
CREATE TABLE ix_geohashes AS
  SELECT DISTINCT geohash_parent(gh, l) AS cell
    FROM ix_cells, generate_series(0, 12) l WHERE id % 4999 = 0 AND id < 100000
  UNION SELECT geohash(0.5, -150.0 + 10 * k, 1 + k) FROM generate_series(1, 8) k;
SELECT count(*) AS quadkey_query_cells FROM ix_quadkeys;
SELECT count(*) AS geohash_query_cells FROM ix_geohashes;

-- ix_check(table, column, type, operators, query-cells SQL, index): runs
--   SELECT count(*), sum(id) FROM table WHERE column <op> '<cell>'::type
-- for every cell and operator, once with sequential scans only and once with them off, and
-- returns per operator the number of queries, of disagreements, and of plans using the index.
CREATE FUNCTION ix_check(tbl text, col text, typ text, ops text[], cells text, idx text, commuted bool DEFAULT false)
RETURNS TABLE (op text, queries int, mismatches int, indexed int) LANGUAGE plpgsql AS $$
DECLARE q text; c text; n1 bigint; s1 numeric; n2 bigint; s2 numeric; line text;
BEGIN
  FOREACH op IN ARRAY ops LOOP
    queries := 0; mismatches := 0; indexed := 0;
    FOR c IN EXECUTE cells LOOP
      q := CASE WHEN commuted
                THEN format('SELECT count(*), sum(id) FROM %I WHERE %L::%s %s %I', tbl, c, typ, op, col)
                ELSE format('SELECT count(*), sum(id) FROM %I WHERE %I %s %L::%s', tbl, col, op, c, typ) END;
      PERFORM set_config('enable_seqscan', 'on', true);
      PERFORM set_config('enable_indexscan', 'off', true);
      PERFORM set_config('enable_indexonlyscan', 'off', true);
      PERFORM set_config('enable_bitmapscan', 'off', true);
      EXECUTE q INTO n1, s1;
      PERFORM set_config('enable_seqscan', 'off', true);
      PERFORM set_config('enable_indexscan', 'on', true);
      PERFORM set_config('enable_indexonlyscan', 'on', true);
      PERFORM set_config('enable_bitmapscan', 'on', true);
      EXECUTE q INTO n2, s2;
      FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF position(idx IN line) > 0 THEN indexed := indexed + 1; EXIT; END IF;
      END LOOP;
      queries := queries + 1;
      IF n1 <> n2 OR s1 IS DISTINCT FROM s2 THEN mismatches := mismatches + 1; END IF;
    END LOOP;
    RETURN NEXT;
  END LOOP;
END $$;
