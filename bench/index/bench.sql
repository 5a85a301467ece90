-- bench/index/bench.sql, run by bench/index/run with psql variables t (the markers table),
-- queries (queries per level) and reps (runs per query). See bench/index/README.md.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;

-- Mean over the queries of the fastest of `reps` timed runs (after one warm-up run), in ms,
-- measured in the server: planning and execution, no client round trip. The fastest run, not
-- the median: on a shared machine the others measure the neighbours. Also returns the sum of
-- every query's first column, so that approaches can be checked against each other.
CREATE TYPE pg_temp.timing AS (ms float8, checksum numeric);
CREATE FUNCTION pg_temp.bench(qs text[], reps int) RETURNS pg_temp.timing LANGUAGE plpgsql AS $$
DECLARE q text; t0 timestamptz; v numeric; runs float8[]; total float8 := 0; checksum numeric := 0;
BEGIN
  FOREACH q IN ARRAY qs LOOP
    EXECUTE q INTO v;
    checksum := checksum + coalesce(v, 0);
    runs := '{}';
    FOR r IN 1 .. reps LOOP
      t0 := clock_timestamp();
      EXECUTE q;
      runs := runs || 1000 * extract(epoch FROM clock_timestamp() - t0)::float8;
    END LOOP;
    total := total + (SELECT min(x) FROM unnest(runs) x);
  END LOOP;
  RETURN (total / cardinality(qs), checksum)::pg_temp.timing;
END $$;

-- The same, with the given indexes dropped for the duration (a subtransaction that is rolled
-- back), so that the planner sees only the index under test. Local variables survive the
-- rollback.
CREATE FUNCTION pg_temp.bench_without(qs text[], reps int, drop_indexes text[]) RETURNS pg_temp.timing
LANGUAGE plpgsql AS $$
DECLARE ix text; result pg_temp.timing;
BEGIN
  BEGIN
    FOREACH ix IN ARRAY drop_indexes LOOP EXECUTE format('DROP INDEX %I', ix); END LOOP;
    result := pg_temp.bench(qs, reps);
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'roll back the dropped indexes';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  RETURN result;
END $$;

-- The plan of a query as its node names (for the report), with the given indexes dropped.
CREATE FUNCTION pg_temp.plan_of(q text, drop_indexes text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE ix text; line text; nodes text := '';
BEGIN
  BEGIN
    FOREACH ix IN ARRAY drop_indexes LOOP EXECUTE format('DROP INDEX %I', ix); END LOOP;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
      IF line ~ '^\s*(->\s*)?[A-Z][A-Za-z ]+( on | using |$)' AND line !~ 'Cond|Filter|Key' THEN
        nodes := nodes || CASE WHEN nodes = '' THEN '' ELSE ' > ' END
                 || trim(regexp_replace(regexp_replace(line, '^\s*(->\s*)?', ''), '\s+(on|using)\s.*$', ''));
      END IF;
    END LOOP;
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'roll back';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  RETURN nodes;
END $$;

SELECT count(*) AS n FROM :"t" \gset
\echo
\echo == :t : :n markers; :queries queries per level, fastest of :reps timed runs each, mean ms per query
\echo

-- Index sizes and build times.
SELECT c.relname AS index, pg_size_pretty(pg_relation_size(c.oid)) AS size,
       round(b.seconds::numeric, 1) AS build_s
  FROM pg_class c JOIN index_builds b ON b.idx = c.relname
 WHERE c.relname LIKE :'t' || '\_%' ORDER BY pg_relation_size(c.oid) DESC;

-- Query cells: ancestors, at each level, of markers drawn evenly from the table (so cells
-- follow the data: dense cities are drawn more often, as map users look at them more often).
CREATE TEMP TABLE qcells AS
  SELECT l AS level, k, quadkey_parent(m.qk, l) AS qk, geohash_parent(m.gh, (l + 1) / 2 - 1) AS gh, m.id
    FROM generate_series(4, 16, 2) l, generate_series(1, :queries) k,
         LATERAL (SELECT qk, gh, id FROM :"t" WHERE id = 1 + (k * 2654435761 + l * 40503) % :n) m;

\if :do_prefix
SET enable_seqscan = off;
\echo == quadkey prefix queries: SELECT count(*) WHERE <the cell>, sequential scans off
CREATE TEMP TABLE qk_results AS
SELECT level,
       pg_temp.bench_without(qs, :reps, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) AS btree,
       pg_temp.bench_without(qs, :reps, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) AS gist,
       pg_temp.bench_without(qs, :reps, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_gist']) AS spgist,
       pg_temp.bench(brin_qs, :reps) AS brin,
       pg_temp.bench(big_qs, :reps) AS bigint_between,
       n
  FROM (SELECT level, count(*) AS n,
               array_agg(format('SELECT count(*) FROM %I WHERE qk <@ %L', :'t', qk) ORDER BY k) AS qs,
               array_agg(format('SELECT count(*) FROM %I WHERE qk <@ %L', :'t' || '_by_qk', qk) ORDER BY k) AS brin_qs,
               array_agg(format('SELECT count(*) FROM %I WHERE quadkey BETWEEN %s AND %s', :'t',
                                quadkey_to_bigint(qk) * (4 ^ (23 - level))::bigint,
                                (quadkey_to_bigint(qk) + 1) * (4 ^ (23 - level))::bigint - 1) ORDER BY k) AS big_qs
          FROM qcells GROUP BY level) q;
SELECT level, round((btree).checksum / n) AS rows_per_query,
       round((btree).ms::numeric, 3) AS btree_ms, round((gist).ms::numeric, 3) AS gist_ms,
       round((spgist).ms::numeric, 3) AS spgist_ms, round((brin).ms::numeric, 3) AS brin_ms,
       round((bigint_between).ms::numeric, 3) AS bigint_ms,
       round(((btree).ms / (bigint_between).ms)::numeric, 2) AS "btree/bigint",
       round(((gist).ms / (btree).ms)::numeric, 2) AS "gist/btree",
       round(((spgist).ms / (btree).ms)::numeric, 2) AS "spgist/btree",
       round(((brin).ms / (btree).ms)::numeric, 2) AS "brin/btree",
       (btree).checksum = (gist).checksum AND (gist).checksum = (spgist).checksum
         AND (spgist).checksum = (brin).checksum AND (brin).checksum = (bigint_between).checksum AS same_rows
  FROM qk_results ORDER BY level;

\echo == geohash prefix queries (precision p, about quadkey level 2.5p), sequential scans off
CREATE TEMP TABLE gh_results AS
SELECT p,
       pg_temp.bench_without(qs, :reps, ARRAY[:'t' || '_gh_gist', :'t' || '_gh_spgist']) AS btree,
       pg_temp.bench_without(qs, :reps, ARRAY[:'t' || '_gh_btree', :'t' || '_gh_spgist']) AS gist,
       pg_temp.bench_without(qs, :reps, ARRAY[:'t' || '_gh_btree', :'t' || '_gh_gist']) AS spgist,
       pg_temp.bench(brin_qs, :reps) AS brin,
       pg_temp.bench(like_qs, :reps) AS varchar_like,
       n
  FROM (SELECT geohash_precision(gh) AS p, count(*) AS n,
               array_agg(format('SELECT count(*) FROM %I WHERE gh <@ %L', :'t', gh) ORDER BY level, k) AS qs,
               array_agg(format('SELECT count(*) FROM %I WHERE gh <@ %L', :'t' || '_by_gh', gh) ORDER BY level, k) AS brin_qs,
               array_agg(format('SELECT count(*) FROM %I WHERE geohash LIKE %L', :'t', gh::text || '%') ORDER BY level, k) AS like_qs
          FROM qcells GROUP BY 1) q;
SELECT p AS "precision", round((btree).checksum / n) AS rows_per_query,
       round((btree).ms::numeric, 3) AS btree_ms, round((gist).ms::numeric, 3) AS gist_ms,
       round((spgist).ms::numeric, 3) AS spgist_ms, round((brin).ms::numeric, 3) AS brin_ms,
       round((varchar_like).ms::numeric, 3) AS like_ms,
       round(((btree).ms / (varchar_like).ms)::numeric, 2) AS "btree/like",
       round(((gist).ms / (btree).ms)::numeric, 2) AS "gist/btree",
       round(((spgist).ms / (btree).ms)::numeric, 2) AS "spgist/btree",
       round(((brin).ms / (btree).ms)::numeric, 2) AS "brin/btree",
       (btree).checksum = (gist).checksum AND (gist).checksum = (spgist).checksum
         AND (spgist).checksum = (brin).checksum AND (brin).checksum = (varchar_like).checksum AS same_rows
  FROM gh_results ORDER BY p;
RESET enable_seqscan;
\endif
\if :do_viewport

-- Viewports: 1280 x 800 px at map zoom z around a marker (256 px tiles), none across the
-- antimeridian or past the Mercator limit (the PostGIS query would need two boxes there).
CREATE FUNCTION pg_temp.viewport(lat float8, lon float8, z int, OUT s float8, OUT w float8, OUT n float8, OUT e float8)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE ws float8 := 256 * 2 ^ z; x float8; y float8; sn float8;
BEGIN
  x := (lon + 180) / 360 * ws;
  sn := sin(radians(lat));
  y := (0.5 - ln((1 + sn) / (1 - sn)) / (4 * pi())) * ws;
  w := (x - 640) / ws * 360 - 180;
  e := (x + 640) / ws * 360 - 180;
  n := degrees(atan(sinh(pi() * (1 - 2 * (y - 400) / ws))));
  s := degrees(atan(sinh(pi() * (1 - 2 * (y + 400) / ws))));
END $$;
CREATE TEMP TABLE vps AS
  SELECT z, k, v.*
    FROM generate_series(8, 16, 2) z, generate_series(1, :queries) k,
         LATERAL (SELECT lat, lon FROM :"t" WHERE id = 1 + (k * 2654435761 + z * 7919) % :n) m,
         LATERAL pg_temp.viewport(m.lat, m.lon, z) v
   WHERE v.w > -180 AND v.e < 180 AND v.s > -85 AND v.n < 85;

\echo == viewport queries: markers inside a 1280x800 px viewport at map zoom z (exact box), plans as the planner chooses them
\echo    postgis:       geom && ST_MakeEnvelope(w, s, e, n, 4326)                    GiST on geom
\echo    cover_<index>: qk <@ quadkey_cover(s, w, n, e, z)                            (the README idiom)
\echo    cover_btree_z1: the same with the cover one zoom deeper (more, smaller cells)
\echo    any_gist:      qk <@ ANY (quadkey_cover(s, w, n, e, z))                      GiST
\echo    join_<index>:  unnest(quadkey_cover(s, w, n, e, z)) c(cell) JOIN m ON m.qk <@ c.cell
\echo    ranges_btree:  quadkey_cover_ranges(s, w, n, e, z) r JOIN m ON m.qk BETWEEN r.lo AND r.hi
\echo    every quadkey query also keeps the exact box: lat BETWEEN s AND n AND lon BETWEEN w AND e
CREATE TEMP TABLE vp_queries AS
  SELECT z, k,
    format('SELECT count(*) FROM %I WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)', :'t', w, s, e, n) AS postgis,
    format('SELECT count(*) FROM %I m WHERE m.qk <@ quadkey_cover(%s, %s, %s, %s, %s)'
           ' AND m.lat BETWEEN %s AND %s AND m.lon BETWEEN %s AND %s', :'t', s, w, n, e, z, s, n, w, e) AS cover,
    format('SELECT count(*) FROM %I m WHERE m.qk <@ quadkey_cover(%s, %s, %s, %s, %s)'
           ' AND m.lat BETWEEN %s AND %s AND m.lon BETWEEN %s AND %s', :'t', s, w, n, e, z + 1, s, n, w, e) AS cover_z1,
    format('SELECT count(*) FROM %I m WHERE m.qk <@ quadkey_cover(%s, %s, %s, %s, %s)'
           ' AND m.lat BETWEEN %s AND %s AND m.lon BETWEEN %s AND %s', :'t' || '_by_qk', s, w, n, e, z, s, n, w, e) AS cover_sorted,
    format('SELECT count(*) FROM %I m WHERE m.qk <@ ANY (quadkey_cover(%s, %s, %s, %s, %s))'
           ' AND m.lat BETWEEN %s AND %s AND m.lon BETWEEN %s AND %s', :'t', s, w, n, e, z, s, n, w, e) AS any_array,
    format('SELECT count(*) FROM unnest(quadkey_cover(%s, %s, %s, %s, %s)) c(cell) JOIN %I m ON m.qk <@ c.cell'
           ' WHERE m.lat BETWEEN %s AND %s AND m.lon BETWEEN %s AND %s', s, w, n, e, z, :'t', s, n, w, e) AS joined,
    format('SELECT count(*) FROM quadkey_cover_ranges(%s, %s, %s, %s, %s) r JOIN %I m ON m.qk BETWEEN r.lo AND r.hi'
           ' WHERE m.lat BETWEEN %s AND %s AND m.lon BETWEEN %s AND %s', s, w, n, e, z, :'t', s, n, w, e) AS ranges,
    cardinality(quadkey_cover(s, w, n, e, z)) AS cells,
    (SELECT count(*) FROM quadkey_cover_ranges(s, w, n, e, z)) AS ranges_n
  FROM vps;
CREATE TEMP TABLE vp_results AS
SELECT z, avg(cells) AS cells, avg(ranges_n) AS ranges,
       pg_temp.bench(array_agg(postgis ORDER BY k), :reps) AS postgis,
       pg_temp.bench_without(array_agg(cover ORDER BY k), :reps, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) AS cover_btree,
       pg_temp.bench_without(array_agg(cover_z1 ORDER BY k), :reps, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) AS cover_btree_z1,
       pg_temp.bench_without(array_agg(cover ORDER BY k), :reps, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) AS cover_gist,
       pg_temp.bench_without(array_agg(cover ORDER BY k), :reps, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_gist']) AS cover_spgist,
       pg_temp.bench(array_agg(cover_sorted ORDER BY k), :reps) AS cover_brin,
       pg_temp.bench_without(array_agg(any_array ORDER BY k), :reps, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) AS any_gist,
       -- The planner runs these two as sequential scans (see the plans below): 3 viewports, 1 run.
       pg_temp.bench_without((array_agg(joined ORDER BY k))[1:3], 1, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) AS join_btree,
       pg_temp.bench_without(array_agg(joined ORDER BY k), :reps, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) AS join_gist,
       pg_temp.bench_without((array_agg(ranges ORDER BY k))[1:3], 1, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) AS ranges_btree,
       count(*) AS n
  FROM vp_queries GROUP BY z;
SELECT z, round((postgis).checksum / n) AS rows_per_query, round(cells, 1) AS cover_cells, round(ranges, 1) AS cover_ranges,
       round((postgis).ms::numeric, 3) AS postgis,
       round((cover_btree).ms::numeric, 3) AS cover_btree, round((cover_btree_z1).ms::numeric, 3) AS cover_btree_z1,
       round((cover_gist).ms::numeric, 3) AS cover_gist, round((cover_spgist).ms::numeric, 3) AS cover_spgist,
       round((cover_brin).ms::numeric, 3) AS cover_brin, round((any_gist).ms::numeric, 3) AS any_gist,
       round((join_btree).ms::numeric, 3) AS join_btree, round((join_gist).ms::numeric, 3) AS join_gist,
       round((ranges_btree).ms::numeric, 3) AS ranges_btree,
       round(((cover_btree).ms / (postgis).ms)::numeric, 2) AS "cover_btree/postgis",
       ARRAY[(postgis).checksum, (cover_btree).checksum, (cover_btree_z1).checksum, (cover_gist).checksum,
             (cover_spgist).checksum, (cover_brin).checksum, (any_gist).checksum, (join_gist).checksum] AS total_rows
  FROM vp_results ORDER BY z;

\echo == plans the planner chose for the first viewport at zoom 12
CREATE TEMP TABLE vp_first AS SELECT * FROM vp_queries WHERE z = 12 ORDER BY k LIMIT 1;
SELECT 'postgis' AS approach, pg_temp.plan_of(postgis, '{}') AS plan FROM vp_first
UNION ALL SELECT 'cover_btree', pg_temp.plan_of(cover, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) FROM vp_first
UNION ALL SELECT 'cover_gist', pg_temp.plan_of(cover, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) FROM vp_first
UNION ALL SELECT 'cover_spgist', pg_temp.plan_of(cover, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_gist']) FROM vp_first
UNION ALL SELECT 'cover_brin', pg_temp.plan_of(cover_sorted, '{}') FROM vp_first
UNION ALL SELECT 'any_gist', pg_temp.plan_of(any_array, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) FROM vp_first
UNION ALL SELECT 'join_btree', pg_temp.plan_of(joined, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) FROM vp_first
UNION ALL SELECT 'join_gist', pg_temp.plan_of(joined, ARRAY[:'t' || '_qk_btree', :'t' || '_qk_spgist']) FROM vp_first
UNION ALL SELECT 'ranges_btree', pg_temp.plan_of(ranges, ARRAY[:'t' || '_qk_gist', :'t' || '_qk_spgist']) FROM vp_first;
\endif
