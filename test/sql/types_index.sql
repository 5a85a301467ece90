-- The btree and hash operator classes of quadkey and geohash at work: index scans, hash
-- aggregation and joins, merge joins, PARTITION BY HASH, btree deduplication, amcheck, and
-- the planner's row estimates for `<@` after ANALYZE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE EXTENSION IF NOT EXISTS pageinspect;
\pset tuples_only on
\pset null '(null)'
DROP SCHEMA IF EXISTS types_index CASCADE;
CREATE SCHEMA types_index;
SET search_path = types_index, public;
-- Plans below are about which node is chosen, not about parallelism.
SET max_parallel_workers_per_gather = 0;

-- The estimated row count of a query's top plan node, and its plan as one line of node types
-- ("Hashed Aggregate > Seq Scan").
CREATE FUNCTION estimated_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
CREATE FUNCTION plan_nodes(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || query INTO plan;
  RETURN (SELECT string_agg(coalesce((n ->> 'Strategy') || ' ', '') || (n ->> 'Node Type'), ' > ')
            FROM jsonb_path_query(plan::jsonb, 'strict $.**') n WHERE n ? 'Node Type');
END $$;

-- 200k markers: 80% around three cities (normal-ish spread), 20% anywhere.
SELECT setseed(0.77) \g /dev/null
CREATE TABLE markers AS
SELECT i, lat, lon, quadkey(lat, lon, 16) AS q, geohash(lat, lon, 7) AS g
  FROM (SELECT i,
               CASE WHEN i % 5 = 0 THEN random() * 170 - 85
                    ELSE c.lat + (random() + random() + random() - 1.5) * 2 END AS lat,
               CASE WHEN i % 5 = 0 THEN random() * 360 - 180
                    ELSE c.lon + (random() + random() + random() - 1.5) * 3 END AS lon
          FROM generate_series(1, 200000) i,
               LATERAL (SELECT (ARRAY[43.65, 48.85, -33.87])[1 + i % 3] AS lat,
                               (ARRAY[-79.38, 2.35, 151.21])[1 + i % 3] AS lon) c) p;
ANALYZE markers;

-- btree: equality and the descendant range of a cell use the index ---------------------------
CREATE INDEX markers_q ON markers (q);
CREATE INDEX markers_g ON markers (g);
SELECT plan_nodes($$SELECT * FROM markers WHERE q = '0302231312203303'$$) ~ 'Index'
   AND plan_nodes($$SELECT * FROM markers WHERE g = 'dpz83dy'$$) ~ 'Index' AS equality_uses_btree;
-- (Index Scan or Bitmap Index Scan, whichever the row estimate favours.)
SELECT plan_nodes($$SELECT * FROM markers WHERE q BETWEEN '0302231' AND quadkey_range_end('0302231')$$)
       ~ 'Index Scan' AS quadkey_cell_range_uses_btree;
SELECT plan_nodes($$SELECT * FROM markers WHERE g >= 'dpz8' AND g <= geohash_range_end('dpz8')$$)
       ~ 'Index Scan' AS geohash_cell_range_uses_btree;
-- The range gives exactly the rows of `<@`.
SELECT (SELECT count(*) FROM markers WHERE q BETWEEN c AND quadkey_range_end(c))
     = (SELECT count(*) FROM markers WHERE q <@ c) AS quadkey_range_equals_contained
  FROM (VALUES ('0302231'::quadkey)) v(c);
SELECT (SELECT count(*) FROM markers WHERE g BETWEEN c AND geohash_range_end(c))
     = (SELECT count(*) FROM markers WHERE g <@ c) AS geohash_range_equals_contained
  FROM (VALUES ('dpz8'::geohash)) v(c);
-- ORDER BY ... LIMIT reads the index in order, both directions.
SELECT plan_nodes('SELECT q FROM markers ORDER BY q DESC LIMIT 5') = 'Limit > Index Only Scan'
   AND (SELECT array_agg(q::text) FROM (SELECT q FROM markers ORDER BY q DESC LIMIT 5) s)
     = (SELECT array_agg(t) FROM (SELECT q::text AS t FROM markers ORDER BY q::text COLLATE "C" DESC LIMIT 5) s)
    AS quadkey_index_order_desc;
SELECT plan_nodes('SELECT g FROM markers ORDER BY g LIMIT 5') = 'Limit > Index Only Scan'
   AND (SELECT array_agg(g::text) FROM (SELECT g FROM markers ORDER BY g LIMIT 5) s)
     = (SELECT array_agg(t) FROM (SELECT g::text AS t FROM markers ORDER BY g::text COLLATE "C" LIMIT 5) s)
    AS geohash_index_order_asc;
-- min / max come from the index ends.
SELECT plan_nodes('SELECT min(q), max(g) FROM markers') ~ 'Index Only Scan'
   AND (SELECT min(q)::text FROM markers) = (SELECT min(q::text COLLATE "C") FROM markers)
   AND (SELECT max(g)::text FROM markers) = (SELECT max(g::text COLLATE "C") FROM markers) AS min_max_from_index;

-- amcheck: both indexes are consistent with the opclass order and hold every heap tuple.
SELECT count(*) = 2 AS amcheck_btree_ok FROM (
  SELECT bt_index_parent_check('markers_q', true, true)
  UNION ALL SELECT bt_index_parent_check('markers_g', true, true)) s;

-- btree deduplication (btequalimage): allowed, and effective ---------------------------------
SELECT allequalimage AS quadkey_index_allows_dedup FROM bt_metap('markers_q');
SELECT allequalimage AS geohash_index_allows_dedup FROM bt_metap('markers_g');
-- 100k rows holding only 100 distinct cells: the deduplicated index is less than half the
-- size of the same index with deduplication off, and amcheck is happy with it.
CREATE TABLE dups AS
SELECT quadkey_from_tile(16, i % 100, 7) AS q, geohash(0, i % 100, 7) AS g FROM generate_series(1, 100000) i;
CREATE INDEX dups_q ON dups (q);
CREATE INDEX dups_q_nodedup ON dups (q) WITH (deduplicate_items = off);
CREATE INDEX dups_g ON dups (g);
CREATE INDEX dups_g_nodedup ON dups (g) WITH (deduplicate_items = off);
SELECT pg_relation_size('dups_q') * 2 < pg_relation_size('dups_q_nodedup')
   AND pg_relation_size('dups_g') * 2 < pg_relation_size('dups_g_nodedup') AS dedup_shrinks_index;
SELECT count(*) = 2 AS amcheck_dedup_ok FROM (
  SELECT bt_index_parent_check('dups_q', true, true)
  UNION ALL SELECT bt_index_parent_check('dups_g', true, true)) s;
-- The leaf pages hold posting lists (one index tuple for many heap tuples).
SELECT count(*) > 0 AS posting_lists_present
  FROM generate_series(1, (pg_relation_size('dups_q') / current_setting('block_size')::int - 1)::int) blk,
       LATERAL bt_page_items('dups_q', blk) it
 WHERE cardinality(it.tids) > 1;

-- hash opclass: hash aggregation, hash join, hash index, PARTITION BY HASH --------------------
SET enable_sort = off;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SELECT plan_nodes('SELECT q, count(*) FROM markers GROUP BY q') = 'Hashed Aggregate > Seq Scan'
   AND plan_nodes('SELECT DISTINCT g FROM markers') = 'Hashed Aggregate > Seq Scan' AS hash_aggregation;
EXPLAIN (COSTS OFF) SELECT q, count(*) FROM markers GROUP BY q;
CREATE TABLE hash_groups AS SELECT q, g, count(*) AS n FROM markers GROUP BY q, g;
RESET enable_sort;
RESET enable_indexscan;
RESET enable_indexonlyscan;
SET enable_hashagg = off;
CREATE TABLE sort_groups AS SELECT q, g, count(*) AS n FROM markers GROUP BY q, g;
RESET enable_hashagg;
SELECT NOT EXISTS (SELECT * FROM hash_groups EXCEPT SELECT * FROM sort_groups)
   AND NOT EXISTS (SELECT * FROM sort_groups EXCEPT SELECT * FROM hash_groups)
   AND (SELECT sum(n) FROM hash_groups) = 200000 AS hash_and_sort_grouping_agree;
-- Joins on the cell columns: hash join and merge join give the same answer.
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT plan_nodes('SELECT count(*) FROM hash_groups h JOIN markers m USING (q)') ~ 'Hash Join' AS hash_join;
SELECT count(*) AS hash_join_rows FROM hash_groups h JOIN markers m USING (q, g) \gset
RESET enable_mergejoin;
SET enable_hashjoin = off;
SELECT plan_nodes('SELECT count(*) FROM hash_groups h JOIN markers m USING (q)') ~ 'Merge Join' AS merge_join;
SELECT count(*) = :hash_join_rows AND count(*) >= 200000 AS joins_agree
  FROM hash_groups h JOIN markers m USING (q, g);
RESET enable_hashjoin;
RESET enable_nestloop;
-- A hash index answers equality.
CREATE INDEX markers_q_hash ON markers USING hash (q);
CREATE INDEX markers_g_hash ON markers USING hash (g);
DROP INDEX markers_q, markers_g;
SELECT plan_nodes($$SELECT * FROM markers WHERE q = '0302231312203303'$$) ~ 'Index'
   AND plan_nodes($$SELECT * FROM markers WHERE g = 'dpz83dy'$$) ~ 'Index' AS equality_uses_hash_index;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) = 0 AS hash_index_finds_every_row
  FROM (SELECT g, sum(n) AS n FROM hash_groups GROUP BY g) h
 WHERE (SELECT count(*) FROM markers m WHERE m.g = h.g) <> h.n;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- PARTITION BY HASH on each type: rows are spread over the partitions, each row sits where
-- satisfies_hash_partition says, and equality prunes to one partition.
CREATE TABLE parted_g (g geohash, i int) PARTITION BY HASH (g);
CREATE TABLE parted_g_0 PARTITION OF parted_g FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE parted_g_1 PARTITION OF parted_g FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE parted_g_2 PARTITION OF parted_g FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE parted_g_3 PARTITION OF parted_g FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO parted_g SELECT g, i FROM markers;
CREATE TABLE parted_q (q quadkey, i int) PARTITION BY HASH (q);
CREATE TABLE parted_q_0 PARTITION OF parted_q FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE parted_q_1 PARTITION OF parted_q FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO parted_q SELECT q, i FROM markers;
SELECT count(*) = 4 AND min(n) > 200000 / 4 * 0.8 AS geohash_partitions_balanced
  FROM (SELECT tableoid, count(*) AS n FROM parted_g GROUP BY tableoid) s;
SELECT count(*) = 2 AND min(n) > 200000 / 2 * 0.8 AS quadkey_partitions_balanced
  FROM (SELECT tableoid, count(*) AS n FROM parted_q GROUP BY tableoid) s;
SELECT bool_and(satisfies_hash_partition('parted_g'::regclass, 4, substr(tableoid::regclass::text, 10)::int, g))
    AS geohash_rows_in_their_partition FROM parted_g;
SELECT bool_and(satisfies_hash_partition('parted_q'::regclass, 2, substr(tableoid::regclass::text, 10)::int, q))
    AS quadkey_rows_in_their_partition FROM parted_q;
EXPLAIN (COSTS OFF) SELECT * FROM parted_g WHERE g = 'dpz83dy';
SELECT (SELECT count(*) FROM parted_g WHERE g = 'dpz83dy') = (SELECT count(*) FROM markers WHERE g = 'dpz83dy')
   AND (SELECT count(*) FROM parted_q WHERE q = '0302231312203303')
     = (SELECT count(*) FROM markers WHERE q = '0302231312203303') AS partition_lookup;

-- Row estimates of `q <@ c` after ANALYZE: within a factor 10 of the truth ------------------
-- (matchingsel runs the operator over the column's statistics.)
CREATE TABLE estimates AS
SELECT kind, c, truth, est FROM (
  SELECT 'quadkey' AS kind, c::text AS c,
         (SELECT count(*) FROM markers WHERE q <@ c)::float8 AS truth,
         estimated_rows(format('SELECT * FROM markers WHERE q <@ %L::quadkey', c)) AS est
    FROM (SELECT quadkey_parent(quadkey(lat, lon, 16), z) AS c
            FROM (VALUES (43.65, -79.38), (48.85, 2.35), (-33.87, 151.21)) city(lat, lon),
                 unnest(ARRAY[1, 4, 6, 8]) z) cq
  UNION ALL
  SELECT 'geohash', c::text,
         (SELECT count(*) FROM markers WHERE g <@ c)::float8,
         estimated_rows(format('SELECT * FROM markers WHERE g <@ %L::geohash', c))
    FROM (SELECT geohash_parent(geohash(lat, lon, 7), p) AS c
            FROM (VALUES (43.65, -79.38), (48.85, 2.35), (-33.87, 151.21)) city(lat, lon),
                 unnest(ARRAY[1, 2, 3]) p) cg) e;
SELECT count(*) = 21 AND min(truth) >= 1000 AS estimate_cases FROM estimates;
SELECT count(*) = 0 AS contained_estimates_within_10x FROM estimates
 WHERE NOT (est BETWEEN truth / 10 AND truth * 10);
SELECT * FROM estimates WHERE NOT (est BETWEEN truth / 10 AND truth * 10) ORDER BY kind, c;
-- Equality estimates are not absurd either.
SELECT estimated_rows($$SELECT * FROM markers WHERE q = '0302231312203303'$$) < 1000
   AND estimated_rows($$SELECT * FROM markers WHERE g = 'dpz83dy'$$) < 1000 AS equality_estimates;

DROP SCHEMA types_index CASCADE;
RESET search_path;
SELECT 'types_index done' AS done;
