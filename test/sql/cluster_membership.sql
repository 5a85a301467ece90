-- cluster_membership / cluster_of: each row's cluster, so that GROUP BY gives any aggregate per
-- cluster. Membership is checked against cluster_agg for the same rows, zoom and radius: the
-- clusters' counts, and an oracle that pins the member sets down (each cluster's exact bounds,
-- Web Mercator mean centre and smallest id recomputed from the rows cluster_of assigns to it),
-- over random data at several zooms and radii, across the antimeridian, and for quadkey and
-- geohash positions; then NULLs, errors and volatility.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset tuples_only on

CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- Web Mercator unit y of a latitude, clamped as the engine clamps it (cluster.hpp, contract 4),
-- and back.
CREATE FUNCTION pg_temp.merc_y(lat float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT 0.5 - ln(tan(pi() / 4 + radians(greatest(-85.0511287798066, least(85.0511287798066, lat))) / 2)) / (2 * pi()) $$;
CREATE FUNCTION pg_temp.merc_lat(y float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT degrees(atan(sinh(pi() * (1 - 2 * y)))) $$;

-- Three data sets: a city (dense), the world, and a band across the antimeridian.
SELECT setseed(0.25);
CREATE TEMP TABLE pts AS
SELECT 'city' AS ds, g::bigint AS id, 48.80 + random() * 0.12 AS lat, 2.25 + random() * 0.25 AS lon,
       (ARRAY['cafe', 'shop', 'park'])[1 + g % 3] AS category, round((random() * 100)::numeric, 2) AS price
  FROM generate_series(1, 4000) g
UNION ALL
SELECT 'world', g, random() * 170 - 85, random() * 360 - 180,
       (ARRAY['cafe', 'shop', 'park'])[1 + g % 3], round((random() * 100)::numeric, 2)
  FROM generate_series(1, 4000) g
UNION ALL
SELECT 'antimeridian', g, -20 + random() * 10,
       CASE WHEN g % 2 = 0 THEN 180 - random() * 3 ELSE -180 + random() * 3 END,
       (ARRAY['cafe', 'shop', 'park'])[1 + g % 3], round((random() * 100)::numeric, 2)
  FROM generate_series(1, 3000) g;
-- Edge positions: exactly on the antimeridian (both signs), at the poles, at 0/0.
INSERT INTO pts VALUES ('antimeridian', 100001, -15, 180, 'cafe', 1), ('antimeridian', 100002, -15, -180, 'cafe', 2),
                       ('world', 100003, 90, 0, 'park', 3), ('world', 100004, -90, 179.5, 'park', 4),
                       ('world', 100005, 0, 0, 'shop', 5), ('world', 100006, 0, -0.0, 'shop', 6);

CREATE TEMP TABLE params AS
SELECT * FROM (VALUES (0, 60.0::float8), (3, 40.0), (7, 60.0), (12, 80.0), (16, 25.0)) v(zoom, radius_px);

-- One state, its clusters and its membership table per data set and parameter pair; every
-- row's cluster index.
CREATE TEMP TABLE states AS
SELECT ds, zoom, radius_px, st, cluster_state_clusters(st) AS clusters,
       cardinality(cluster_state_clusters(st)) AS n_clusters, cluster_membership(st) AS mb
  FROM (SELECT p.ds, q.zoom, q.radius_px, cluster_state_agg(p.lat, p.lon, q.zoom, q.radius_px, p.id) AS st
          FROM pts p CROSS JOIN params q GROUP BY 1, 2, 3) s;
ANALYZE pts;
ANALYZE states;
-- (The tables are computed in the query: a membership table read from a stored column is
-- detoasted again for every row.)
CREATE TEMP TABLE assigned AS
WITH s AS MATERIALIZED (SELECT ds, zoom, radius_px, cluster_membership(st) AS mb FROM states)
SELECT s.ds, s.zoom, s.radius_px, p.id, p.lat, p.lon, p.category, p.price, cluster_of(s.mb, p.lat, p.lon) AS k
  FROM s JOIN pts p USING (ds);

-- cluster_state_clusters(state) is cluster_agg's array for the same rows (so index k means the
-- same in both).
SELECT bool_and(s.clusters = a.clusters) AS state_clusters_equal_cluster_agg FROM states s
  JOIN (SELECT p.ds, q.zoom, q.radius_px, cluster_agg(p.lat, p.lon, q.zoom, q.radius_px, p.id) AS clusters
          FROM pts p CROSS JOIN params q GROUP BY 1, 2, 3) a USING (ds, zoom, radius_px);

-- Every row of the state is placed, at an index of the array.
SELECT count(*) = 3 * 5 AS one_state_per_case, bool_and(cardinality(clusters) > 0) FROM states;
SELECT bool_and(a.k BETWEEN 1 AND s.n_clusters) AS every_row_placed
  FROM assigned a JOIN states s USING (ds, zoom, radius_px);

-- The oracle: per (case, k), what the rows cluster_of put there say about their cluster, next
-- to cluster_agg's element k. Bounds crossing the antimeridian (min_lon > max_lon) are the
-- westernmost member with lon >= 0 and the easternmost with lon < 0; members with lon < 0 then
-- count as x + 1 in the centre, wrapped back after the mean.
CREATE TEMP TABLE cl AS
SELECT s.ds, s.zoom, s.radius_px, c.*
  FROM states s, unnest(s.clusters) WITH ORDINALITY c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, k);
ANALYZE cl;
ANALYZE assigned;
CREATE TEMP TABLE oracle AS
SELECT a.ds, a.zoom, a.radius_px, a.k, count(*) AS n, min(a.lat) AS min_lat, max(a.lat) AS max_lat,
       min(a.lon) AS min_lon, max(a.lon) AS max_lon,
       min(a.lon) FILTER (WHERE a.lon >= 0) AS min_lon_east, max(a.lon) FILTER (WHERE a.lon < 0) AS max_lon_west,
       avg((a.lon + 180) / 360 + CASE WHEN c.min_lon > c.max_lon AND a.lon < 0 THEN 1 ELSE 0 END) AS mean_x,
       avg(pg_temp.merc_y(a.lat)) AS mean_y, min(a.id) AS min_id, sum(a.price) AS price_sum,
       c.count AS c_count, c.lat AS c_lat, c.lon AS c_lon, c.min_lat AS c_min_lat, c.min_lon AS c_min_lon,
       c.max_lat AS c_max_lat, c.max_lon AS c_max_lon, c.id AS c_id
  FROM assigned a JOIN cl c
    ON (a.ds, a.zoom, a.radius_px, a.k) = (c.ds, c.zoom, c.radius_px, c.k)
 GROUP BY a.ds, a.zoom, a.radius_px, a.k, c.count, c.lat, c.lon, c.min_lat, c.min_lon, c.max_lat, c.max_lon, c.id;

-- Every cluster has members, as many as cluster_agg counts.
SELECT count(*) = (SELECT sum(cardinality(clusters)) FROM states) AS every_cluster_has_members FROM oracle;
SELECT count(*) > 1000 AS many_clusters_checked, bool_and(n = c_count) AS counts_equal_cluster_agg FROM oracle;
SELECT bool_and(min_lat = c_min_lat AND max_lat = c_max_lat) AS lat_bounds_equal FROM oracle;
SELECT bool_and(CASE WHEN c_min_lon <= c_max_lon THEN min_lon = c_min_lon AND max_lon = c_max_lon
                     ELSE min_lon_east = c_min_lon AND max_lon_west = c_max_lon END) AS lon_bounds_equal,
       count(*) FILTER (WHERE c_min_lon > c_max_lon) > 0 AS some_cross_the_antimeridian
  FROM oracle;
SELECT bool_and(abs(pg_temp.merc_lat(mean_y) - c_lat) < 1e-9
                AND abs((mean_x - floor(mean_x)) * 360 - 180 - c_lon) < 1e-9
                    OR abs(abs((mean_x - floor(mean_x)) * 360 - 180 - c_lon) - 360) < 1e-9) AS centres_equal,
       bool_and(min_id = c_id) AS min_ids_equal
  FROM oracle;
-- A sum per cluster adds up to the data set's total.
SELECT bool_and(t.total = o.total) AS sums_add_up
  FROM (SELECT ds, sum(price) AS total FROM pts GROUP BY ds) t
  JOIN (SELECT ds, zoom, radius_px, sum(price_sum) AS total FROM oracle GROUP BY 1, 2, 3) o USING (ds);

-- One membership table per group in a single call site (LATERAL, one state per category and
-- zoom): tables of the same size in turn, and tables with other parameters, are each read as
-- themselves.
SELECT bool_and(per.n = c.count) AS per_group_counts_equal, count(*) > 30 AS groups_checked
  FROM (SELECT DISTINCT category FROM pts) cat CROSS JOIN params q
  CROSS JOIN LATERAL (SELECT cluster_agg(lat, lon, q.zoom, q.radius_px, id) AS clusters,
                             cluster_membership(cluster_state_agg(lat, lon, q.zoom, q.radius_px, id)) AS mb
                        FROM pts WHERE ds = 'city' AND category = cat.category) s
  CROSS JOIN LATERAL (SELECT cluster_of(s.mb, p.lat, p.lon) AS k, count(*) AS n FROM pts p
                       WHERE ds = 'city' AND category = cat.category GROUP BY 1) per
  JOIN LATERAL unnest(s.clusters) WITH ORDINALITY c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, k)
    ON c.k = per.k;

-- ---- quadkey and geohash positions ----------------------------------------------------------
-- Each stands for its cell's centre, as in cluster_agg; the counts, smallest ids and bounds (of
-- the cell centres) per cluster match.
CREATE TEMP TABLE cells AS
SELECT ds, id, quadkey(lat, lon, 18) AS qk, geohash(lat, lon, 7) AS gh FROM pts;
SELECT bool_and(per.n = c.count AND per.min_id = c.id AND per.min_lat = c.min_lat AND per.max_lat = c.max_lat) AS quadkey_membership,
       count(*) > 300 AS quadkey_clusters_checked
  FROM (SELECT c.ds, cluster_state_agg(c.qk, q.zoom, q.radius_px, c.id) AS st,
               cluster_membership(cluster_state_agg(c.qk, q.zoom, q.radius_px, c.id)) AS mb
          FROM cells c CROSS JOIN params q GROUP BY c.ds, q.zoom, q.radius_px) s
  CROSS JOIN LATERAL (SELECT cluster_of(s.mb, c.qk) AS k, count(*) AS n, min(c.id) AS min_id,
                             min((quadkey_center(c.qk)).lat) AS min_lat, max((quadkey_center(c.qk)).lat) AS max_lat
                        FROM cells c WHERE c.ds = s.ds GROUP BY 1) per
  JOIN LATERAL unnest(cluster_state_clusters(s.st)) WITH ORDINALITY c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, k)
    ON c.k = per.k;
SELECT bool_and(per.n = c.count AND per.min_id = c.id AND per.min_lat = c.min_lat AND per.max_lat = c.max_lat) AS geohash_membership,
       count(*) > 300 AS geohash_clusters_checked
  FROM (SELECT c.ds, cluster_state_agg(c.gh, q.zoom, q.radius_px, c.id) AS st,
               cluster_membership(cluster_state_agg(c.gh, q.zoom, q.radius_px, c.id)) AS mb
          FROM cells c CROSS JOIN params q GROUP BY c.ds, q.zoom, q.radius_px) s
  CROSS JOIN LATERAL (SELECT cluster_of(s.mb, c.gh) AS k, count(*) AS n, min(c.id) AS min_id,
                             min((geohash_center(c.gh)).lat) AS min_lat, max((geohash_center(c.gh)).lat) AS max_lat
                        FROM cells c WHERE c.ds = s.ds GROUP BY 1) per
  JOIN LATERAL unnest(cluster_state_clusters(s.st)) WITH ORDINALITY c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, k)
    ON c.k = per.k;
-- The state aggregates over cells equal cluster_agg over the same cells.
SELECT bool_and(cluster_state_clusters(sq) = aq AND cluster_state_clusters(sg) = ag) AS cell_states_equal_cluster_agg
  FROM (SELECT ds, cluster_state_agg(qk, 9, 60, id) AS sq, cluster_agg(qk, 9, 60, id) AS aq,
               cluster_state_agg(gh, 9, 60, id) AS sg, cluster_agg(gh, 9, 60, id) AS ag FROM cells GROUP BY ds) t;

-- ---- positions the state does not place -----------------------------------------------------
-- A position in a bin no row of the state occupies: NULL (nothing places it).
SELECT cluster_of(mb, -33.9, 151.2) IS NULL AS outside_is_null,
       cluster_of(mb, quadkey(-33.9, 151.2, 18)) IS NULL AS outside_quadkey_is_null,
       cluster_of(mb, geohash(-33.9, 151.2, 7)) IS NULL AS outside_geohash_is_null
  FROM states WHERE ds = 'city' AND zoom = 12;
-- NULL in, NULL out; a group without rows has a NULL state.
SELECT cluster_of(NULL::bytea, 1, 1) IS NULL, cluster_membership(NULL) IS NULL,
       (SELECT cluster_state_agg(lat, lon, 5, 60, id) FROM pts WHERE false) IS NULL;
SELECT cluster_of(mb, NULL::float8, 2.3) IS NULL AS null_lat FROM states WHERE ds = 'city' AND zoom = 12;

-- ---- errors ---------------------------------------------------------------------------------
-- Not a membership table (a state, garbage, a truncated or altered table): 22P03. Bad
-- positions: cluster_agg's errors.
SELECT pg_temp.sqlstate_of($$SELECT cluster_of((SELECT st FROM states WHERE ds = 'city' AND zoom = 12), 48.85, 2.35)$$) AS state_not_table,
       pg_temp.sqlstate_of($$SELECT cluster_of('\x00'::bytea, 48.85, 2.35)$$) AS garbage,
       pg_temp.sqlstate_of($$SELECT cluster_of(substr(mb, 1, length(mb) - 1), 48.85, 2.35) FROM states WHERE ds = 'city' AND zoom = 12$$) AS truncated,
       pg_temp.sqlstate_of($$SELECT cluster_of(overlay(mb placing '\x1e'::bytea from 5), 48.85, 2.35) FROM states WHERE ds = 'city' AND zoom = 12$$) AS bad_zoom,
       pg_temp.sqlstate_of($$SELECT cluster_membership('\x0102'::bytea)$$) AS bad_state,
       pg_temp.sqlstate_of($$SELECT cluster_membership(mb) FROM states WHERE ds = 'city' AND zoom = 12$$) AS table_not_state;
-- An entry naming a cluster beyond the list (the first entry's cluster, bytes 40..43, set to
-- 2^31 - 1), met by the rows of that bin.
SELECT pg_temp.sqlstate_of($$SELECT count(cluster_of(overlay(s.mb placing '\xffffff7f'::bytea from 41), p.lat, p.lon))
                               FROM states s JOIN pts p USING (ds) WHERE ds = 'city' AND zoom = 12$$) AS cluster_out_of_range;
SELECT pg_temp.sqlstate_of($$SELECT cluster_of(mb, 91, 2.35) FROM states WHERE ds = 'city' AND zoom = 12$$) AS lat_out_of_range,
       pg_temp.sqlstate_of($$SELECT cluster_of(mb, 48.85, 'NaN') FROM states WHERE ds = 'city' AND zoom = 12$$) AS lon_nan;

-- ---- declarations ---------------------------------------------------------------------------
SELECT bool_and(provolatile = 'i' AND proisstrict AND proparallel = 's') AS immutable_strict_parallel_safe, count(*) = 4
  FROM pg_proc WHERE proname IN ('cluster_of', 'cluster_membership');
