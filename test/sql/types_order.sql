-- Order, containment and text round trip of quadkey and geohash, as properties of 1M random
-- pairs of mixed levels for each type:
--
--   value order = text order (COLLATE "C"): the cmp support function, the six operators,
--   ORDER BY (in-memory sort, external sort, btree index scan), min/max
--   a <@ b  iff  starts_with(a::text, b::text);  b @> a the same;  && iff either is a prefix
--   a <@ b  iff  a BETWEEN b AND range_end(b)    (a cell is one btree range)
--   parent(a, z) @> a, and its text is left(a::text, z)
--   text -> type -> text is the identity
--   equal values hash equally, and hash_extended(v, 0) agrees with hash(v) in the low 32 bits
--
-- The texts are built from random bits with plain SQL string functions, independently of the
-- types; setseed() makes them deterministic. Each assertion prints `t`; the query after it
-- lists failing rows, and prints nothing when all is right.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset tuples_only on
\pset null '(null)'
DROP SCHEMA IF EXISTS types_order CASCADE;
CREATE SCHEMA types_order;
SET search_path = types_order, public;

-- Sign of a C-collation text comparison.
CREATE FUNCTION text_cmp_c(a text, b text) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN a COLLATE "C" < b COLLATE "C" THEN -1 WHEN a = b THEN 0 ELSE 1 END
$$;
-- 60 random bits.
CREATE FUNCTION random_bits() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT floor(random() * 2^30)::bigint << 30 | floor(random() * 2^30)::bigint
$$;
-- 29 quadkey digits (2 bits each) or 12 geohash symbols (5 bits each) from 60 bits.
CREATE FUNCTION quadkey_digits(v bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT chr(48 + (v >> 0 & 3)::int) || chr(48 + (v >> 2 & 3)::int) || chr(48 + (v >> 4 & 3)::int) ||
         chr(48 + (v >> 6 & 3)::int) || chr(48 + (v >> 8 & 3)::int) || chr(48 + (v >> 10 & 3)::int) ||
         chr(48 + (v >> 12 & 3)::int) || chr(48 + (v >> 14 & 3)::int) || chr(48 + (v >> 16 & 3)::int) ||
         chr(48 + (v >> 18 & 3)::int) || chr(48 + (v >> 20 & 3)::int) || chr(48 + (v >> 22 & 3)::int) ||
         chr(48 + (v >> 24 & 3)::int) || chr(48 + (v >> 26 & 3)::int) || chr(48 + (v >> 28 & 3)::int) ||
         chr(48 + (v >> 30 & 3)::int) || chr(48 + (v >> 32 & 3)::int) || chr(48 + (v >> 34 & 3)::int) ||
         chr(48 + (v >> 36 & 3)::int) || chr(48 + (v >> 38 & 3)::int) || chr(48 + (v >> 40 & 3)::int) ||
         chr(48 + (v >> 42 & 3)::int) || chr(48 + (v >> 44 & 3)::int) || chr(48 + (v >> 46 & 3)::int) ||
         chr(48 + (v >> 48 & 3)::int) || chr(48 + (v >> 50 & 3)::int) || chr(48 + (v >> 52 & 3)::int) ||
         chr(48 + (v >> 54 & 3)::int) || chr(48 + (v >> 56 & 3)::int)
$$;
CREATE FUNCTION geohash_symbols(v bigint, a text DEFAULT '0123456789bcdefghjkmnpqrstuvwxyz')
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT substr(a, (v >> 0 & 31)::int + 1, 1) || substr(a, (v >> 5 & 31)::int + 1, 1) ||
         substr(a, (v >> 10 & 31)::int + 1, 1) || substr(a, (v >> 15 & 31)::int + 1, 1) ||
         substr(a, (v >> 20 & 31)::int + 1, 1) || substr(a, (v >> 25 & 31)::int + 1, 1) ||
         substr(a, (v >> 30 & 31)::int + 1, 1) || substr(a, (v >> 35 & 31)::int + 1, 1) ||
         substr(a, (v >> 40 & 31)::int + 1, 1) || substr(a, (v >> 45 & 31)::int + 1, 1) ||
         substr(a, (v >> 50 & 31)::int + 1, 1) || substr(a, (v >> 55 & 31)::int + 1, 1)
$$;
-- The Sort Method of the (only) Sort node of a query's plan, from EXPLAIN ANALYZE.
CREATE FUNCTION sort_method(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || query INTO plan;
  RETURN (SELECT n ->> 'Sort Method'
            FROM jsonb_path_query(plan::jsonb, 'strict $.**') n  -- every node
           WHERE n ->> 'Node Type' = 'Sort' LIMIT 1);
END $$;

--------------------------------------------------------------------------------------------
-- quadkey
--------------------------------------------------------------------------------------------

-- Pairs (a, b): a has a random level 0..29; b shares a random-length prefix with a and then
-- goes on with other random digits to its own random level. So b is often a prefix of a, a
-- prefix of b, equal to a (one pair in five is forced equal), or they part at any digit.
-- The digits come from a pool of 100k random 29-digit strings; z is a random level <= a's.
SELECT setseed(0.1234) \g /dev/null
CREATE UNLOGGED TABLE qk_pool AS
SELECT n, quadkey_digits(v) AS s FROM (SELECT n, random_bits() AS v FROM generate_series(0, 99999) n OFFSET 0) r;
CREATE UNLOGGED TABLE qk_pairs AS
SELECT i, a, b, a::quadkey AS qa, b::quadkey AS qb, floor(zf * (length(a) + 1))::int AS z
  FROM (SELECT i, zf,
               left(pa.s, la) AS a,
               CASE WHEN i % 5 = 0 THEN left(pa.s, la)
                    ELSE left(pa.s, least(la, lb, kk)) || left(pb.s, lb - least(la, lb, kk)) END AS b
          FROM (SELECT i, floor(random() * 100000)::int AS ia, floor(random() * 100000)::int AS ib,
                       floor(random() * 30)::int AS la, floor(random() * 30)::int AS lb,
                       floor(random() * 30)::int AS kk, random() AS zf
                  FROM generate_series(1, 1000000) i) r
          JOIN qk_pool pa ON pa.n = r.ia
          JOIN qk_pool pb ON pb.n = r.ib) p;
-- The pairs cover what they should (checked on the first 100k): every level, and each
-- relation between a and b.
\x on
SELECT (SELECT count(*) FROM qk_pairs) = 1000000 AS one_million_pairs,
       count(DISTINCT length(a)) = 30 AND count(DISTINCT length(b)) = 30 AS every_level,
       count(DISTINCT left(b, 1)) FILTER (WHERE b <> '') = 4 AS every_digit,
       count(*) FILTER (WHERE a = b) > 10000 AS many_equal,
       count(*) FILTER (WHERE a <> b AND starts_with(a, b)) > 10000 AS many_b_prefix_of_a,
       count(*) FILTER (WHERE a <> b AND starts_with(b, a)) > 10000 AS many_a_prefix_of_b,
       count(*) FILTER (WHERE NOT starts_with(a, b) AND NOT starts_with(b, a)) > 20000 AS many_unrelated
  FROM qk_pairs WHERE i <= 100000;
\x off

-- Every property of every pair, in one pass; each failing row lists the properties it breaks.
CREATE UNLOGGED TABLE qk_bad AS
SELECT * FROM (
  SELECT i, a, b, z, array_remove(ARRAY[
      CASE WHEN qa::text <> a OR qb::text <> b OR quadkey_zoom(qa) <> length(a) THEN 'text round trip' END,
      CASE WHEN sign(quadkey_cmp(qa, qb)) <> text_cmp_c(a, b)
             OR sign(quadkey_cmp(qb, qa)) <> text_cmp_c(b, a) THEN 'cmp' END,
      CASE WHEN (qa < qb) <> (a < b COLLATE "C") OR (qa <= qb) <> (a <= b COLLATE "C")
             OR (qa = qb) <> (a = b) OR (qa <> qb) <> (a <> b)
             OR (qa >= qb) <> (a >= b COLLATE "C") OR (qa > qb) <> (a > b COLLATE "C") THEN 'operators' END,
      CASE WHEN (qa <@ qb) <> starts_with(a, b) OR (qb @> qa) <> starts_with(a, b)
             OR (qa @> qb) <> starts_with(b, a) OR (qb <@ qa) <> starts_with(b, a) THEN 'containment' END,
      CASE WHEN (qa && qb) <> (starts_with(a, b) OR starts_with(b, a))
             OR (qa && qb) <> (qb && qa) THEN 'overlap' END,
      CASE WHEN (qa <@ qb) <> (qa BETWEEN qb AND quadkey_range_end(qb))
             OR (qb <@ qa) <> (qb BETWEEN qa AND quadkey_range_end(qa))
             OR quadkey_range_end(qa)::text <> rpad(a, 29, '3') THEN 'range' END,
      CASE WHEN NOT quadkey_parent(qa, z) @> qa OR NOT qa <@ quadkey_parent(qa, z)
             OR quadkey_parent(qa, z)::text <> left(a, z) OR quadkey_parent(qa, length(a)) <> qa
             OR quadkey_parent(qa, z) > qa THEN 'parent' END,
      CASE WHEN (quadkey_hash(qa) = quadkey_hash(qb)) < (qa = qb)
             OR quadkey_hash_extended(qa, 0) & 4294967295 <> quadkey_hash(qa)::bigint & 4294967295
             OR quadkey_hash_extended(qa, 7) = quadkey_hash_extended(qa, 0) THEN 'hash' END
    ], NULL) AS failed
  FROM qk_pairs) s
 WHERE failed <> '{}';
\x on
SELECT count(*) FILTER (WHERE 'text round trip' = ANY (failed)) = 0 AS quadkey_text_round_trip,
       count(*) FILTER (WHERE 'cmp' = ANY (failed)) = 0 AS quadkey_cmp_is_text_order,
       count(*) FILTER (WHERE 'operators' = ANY (failed)) = 0 AS quadkey_operators_are_text_order,
       count(*) FILTER (WHERE 'containment' = ANY (failed)) = 0 AS quadkey_containment_is_prefix,
       count(*) FILTER (WHERE 'overlap' = ANY (failed)) = 0 AS quadkey_overlap_is_either_prefix,
       count(*) FILTER (WHERE 'range' = ANY (failed)) = 0 AS quadkey_cell_is_btree_range,
       count(*) FILTER (WHERE 'parent' = ANY (failed)) = 0 AS quadkey_parent_contains,
       count(*) FILTER (WHERE 'hash' = ANY (failed)) = 0 AS quadkey_hash_consistent
  FROM qk_bad;
\x off
SELECT * FROM qk_bad ORDER BY i LIMIT 5;

-- ORDER BY: 500k values (a and b of a quarter of the pairs, with duplicates) sorted as quadkey and as
-- text must give the same sequence of texts (rows with equal values have equal texts, so
-- the two arrays are comparable element by element). In-memory sort, external sort, and
-- a btree index scan.
CREATE UNLOGGED TABLE qk_values AS
SELECT a AS t, qa AS q FROM qk_pairs WHERE i <= 250000
UNION ALL SELECT b, qb FROM qk_pairs WHERE i <= 250000;
SET work_mem = '256MB';
SELECT array_agg(t ORDER BY q) = array_agg(t ORDER BY t COLLATE "C") AS quadkey_order_by_is_text_order
  FROM qk_values;
SET work_mem = '64kB';
SELECT sort_method('SELECT t FROM qk_values ORDER BY q DESC') = 'external merge' AS sort_spills_to_disk;
SELECT array_agg(t ORDER BY q DESC) = array_agg(t ORDER BY t COLLATE "C" DESC) AS quadkey_external_sort_is_text_order
  FROM qk_values;
RESET work_mem;
CREATE INDEX qk_values_q ON qk_values (q);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT t FROM qk_values ORDER BY q;
SELECT (SELECT array_agg(t) FROM (SELECT t FROM qk_values ORDER BY q) s)
     = (SELECT array_agg(t ORDER BY t COLLATE "C") FROM qk_values) AS quadkey_index_order_is_text_order;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET enable_sort;
-- min / max agree with the text's.
SELECT min(q)::text = min(t COLLATE "C") AND max(q)::text = max(t COLLATE "C") AS quadkey_min_max
  FROM qk_values;

--------------------------------------------------------------------------------------------
-- geohash: the same with the base32 alphabet (precision 0..12). Output is lower case and
-- input is case-insensitive, so b is fed in upper case in half of the pairs.
--------------------------------------------------------------------------------------------
SELECT setseed(0.5678) \g /dev/null
CREATE UNLOGGED TABLE gh_pool AS
SELECT n, geohash_symbols(v) AS s FROM (SELECT n, random_bits() AS v FROM generate_series(0, 99999) n OFFSET 0) r;
CREATE UNLOGGED TABLE gh_pairs AS
SELECT i, a, b, a::geohash AS qa, (CASE WHEN i % 2 = 0 THEN upper(b) ELSE b END)::geohash AS qb, floor(zf * (length(a) + 1))::int AS z
  FROM (SELECT i, zf,
               left(pa.s, la) AS a,
               CASE WHEN i % 5 = 0 THEN left(pa.s, la)
                    ELSE left(pa.s, least(la, lb, kk)) || left(pb.s, lb - least(la, lb, kk)) END AS b
          FROM (SELECT i, floor(random() * 100000)::int AS ia, floor(random() * 100000)::int AS ib,
                       floor(random() * 13)::int AS la, floor(random() * 13)::int AS lb,
                       floor(random() * 13)::int AS kk, random() AS zf
                  FROM generate_series(1, 1000000) i) r
          JOIN gh_pool pa ON pa.n = r.ia
          JOIN gh_pool pb ON pb.n = r.ib) p;
-- The pairs cover what they should (checked on the first 100k): every precision, and each
-- relation between a and b.
\x on
SELECT (SELECT count(*) FROM gh_pairs) = 1000000 AS one_million_pairs,
       count(DISTINCT length(a)) = 13 AND count(DISTINCT length(b)) = 13 AS every_precision,
       count(DISTINCT left(b, 1)) FILTER (WHERE b <> '') = 32 AS every_symbol,
       count(*) FILTER (WHERE a = b) > 10000 AS many_equal,
       count(*) FILTER (WHERE a <> b AND starts_with(a, b)) > 10000 AS many_b_prefix_of_a,
       count(*) FILTER (WHERE a <> b AND starts_with(b, a)) > 10000 AS many_a_prefix_of_b,
       count(*) FILTER (WHERE NOT starts_with(a, b) AND NOT starts_with(b, a)) > 20000 AS many_unrelated
  FROM gh_pairs WHERE i <= 100000;
\x off

-- Every property of every pair, in one pass; each failing row lists the properties it breaks.
CREATE UNLOGGED TABLE gh_bad AS
SELECT * FROM (
  SELECT i, a, b, z, array_remove(ARRAY[
      CASE WHEN qa::text <> a OR qb::text <> b OR geohash_precision(qa) <> length(a) THEN 'text round trip' END,
      CASE WHEN upper(a)::geohash <> qa THEN 'upper-case input' END,
      CASE WHEN sign(geohash_cmp(qa, qb)) <> text_cmp_c(a, b)
             OR sign(geohash_cmp(qb, qa)) <> text_cmp_c(b, a) THEN 'cmp' END,
      CASE WHEN (qa < qb) <> (a < b COLLATE "C") OR (qa <= qb) <> (a <= b COLLATE "C")
             OR (qa = qb) <> (a = b) OR (qa <> qb) <> (a <> b)
             OR (qa >= qb) <> (a >= b COLLATE "C") OR (qa > qb) <> (a > b COLLATE "C") THEN 'operators' END,
      CASE WHEN (qa <@ qb) <> starts_with(a, b) OR (qb @> qa) <> starts_with(a, b)
             OR (qa @> qb) <> starts_with(b, a) OR (qb <@ qa) <> starts_with(b, a) THEN 'containment' END,
      CASE WHEN (qa && qb) <> (starts_with(a, b) OR starts_with(b, a))
             OR (qa && qb) <> (qb && qa) THEN 'overlap' END,
      CASE WHEN (qa <@ qb) <> (qa BETWEEN qb AND geohash_range_end(qb))
             OR (qb <@ qa) <> (qb BETWEEN qa AND geohash_range_end(qa))
             OR geohash_range_end(qa)::text <> rpad(a, 12, 'z') THEN 'range' END,
      CASE WHEN NOT geohash_parent(qa, z) @> qa OR NOT qa <@ geohash_parent(qa, z)
             OR geohash_parent(qa, z)::text <> left(a, z) OR geohash_parent(qa, length(a)) <> qa
             OR geohash_parent(qa, z) > qa THEN 'parent' END,
      CASE WHEN (geohash_hash(qa) = geohash_hash(qb)) < (qa = qb)
             OR geohash_hash_extended(qa, 0) & 4294967295 <> geohash_hash(qa)::bigint & 4294967295
             OR geohash_hash_extended(qa, 7) = geohash_hash_extended(qa, 0) THEN 'hash' END
    ], NULL) AS failed
  FROM gh_pairs) s
 WHERE failed <> '{}';
\x on
SELECT count(*) FILTER (WHERE 'text round trip' = ANY (failed)) = 0 AS geohash_text_round_trip,
       count(*) FILTER (WHERE 'upper-case input' = ANY (failed)) = 0 AS geohash_input_ignores_case,
       count(*) FILTER (WHERE 'cmp' = ANY (failed)) = 0 AS geohash_cmp_is_text_order,
       count(*) FILTER (WHERE 'operators' = ANY (failed)) = 0 AS geohash_operators_are_text_order,
       count(*) FILTER (WHERE 'containment' = ANY (failed)) = 0 AS geohash_containment_is_prefix,
       count(*) FILTER (WHERE 'overlap' = ANY (failed)) = 0 AS geohash_overlap_is_either_prefix,
       count(*) FILTER (WHERE 'range' = ANY (failed)) = 0 AS geohash_cell_is_btree_range,
       count(*) FILTER (WHERE 'parent' = ANY (failed)) = 0 AS geohash_parent_contains,
       count(*) FILTER (WHERE 'hash' = ANY (failed)) = 0 AS geohash_hash_consistent
  FROM gh_bad;
\x off
SELECT * FROM gh_bad ORDER BY i LIMIT 5;

-- ORDER BY: 500k values (a and b of a quarter of the pairs, with duplicates) sorted as geohash and as
-- text must give the same sequence of texts (rows with equal values have equal texts, so
-- the two arrays are comparable element by element). In-memory sort, external sort, and
-- a btree index scan.
CREATE UNLOGGED TABLE gh_values AS
SELECT a AS t, qa AS q FROM gh_pairs WHERE i <= 250000
UNION ALL SELECT b, qb FROM gh_pairs WHERE i <= 250000;
SET work_mem = '256MB';
SELECT array_agg(t ORDER BY q) = array_agg(t ORDER BY t COLLATE "C") AS geohash_order_by_is_text_order
  FROM gh_values;
SET work_mem = '64kB';
SELECT sort_method('SELECT t FROM gh_values ORDER BY q DESC') = 'external merge' AS sort_spills_to_disk;
SELECT array_agg(t ORDER BY q DESC) = array_agg(t ORDER BY t COLLATE "C" DESC) AS geohash_external_sort_is_text_order
  FROM gh_values;
RESET work_mem;
CREATE INDEX gh_values_q ON gh_values (q);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT t FROM gh_values ORDER BY q;
SELECT (SELECT array_agg(t) FROM (SELECT t FROM gh_values ORDER BY q) s)
     = (SELECT array_agg(t ORDER BY t COLLATE "C") FROM gh_values) AS geohash_index_order_is_text_order;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET enable_sort;
-- min / max agree with the text's.
SELECT min(q)::text = min(t COLLATE "C") AND max(q)::text = max(t COLLATE "C") AS geohash_min_max
  FROM gh_values;

DROP SCHEMA types_order CASCADE;
RESET search_path;
SELECT 'types_order done' AS done;
