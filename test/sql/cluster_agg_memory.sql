-- cluster_agg's memory grows with the occupied bins (squares of radius_px / 4 world pixels at the
-- zoom), not with the rows: the serialised state (cluster_state_agg: a 24-byte header and one
-- fixed-size record per bin) shows it. Peak memory of a whole query is measured in
-- test/t/031_cluster_cancel.pl (it reads the backend's /proc status).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;
\pset footer off
SET max_parallel_workers_per_gather = 0;

-- Markers in central Paris (0.1 x 0.15 degrees, about 440 x 440 px at zoom 12), pseudo-random
-- but deterministic: 10,000 and 1,000,000 of them. At zoom 12 and 60 px the bins are 15 px, so
-- 10,000 markers already occupy nearly every bin of the area (all but a few on its edges).
CREATE TEMP TABLE states AS
SELECT n, cluster_state_agg(48.80 + (g * 7919 % 100003)::float8 / 1000030, 2.30 + (g * 104729 % 99991)::float8 / 666606.67,
                            12, 60, g) AS s
  FROM (VALUES (10000), (1000000)) v(n), LATERAL generate_series(1::bigint, n) g
 GROUP BY n;
SELECT a.n AS rows_a, b.n AS rows_b, b.n / a.n AS row_ratio,
       octet_length(b.s)::float8 / octet_length(a.s) BETWEEN 1.0 AND 1.05 AS state_size_about_constant,
       octet_length(b.s) < 1024 * 1024 AS state_under_1_mb
  FROM states a, states b WHERE a.n = 10000 AND b.n = 1000000;
-- The number of bins is bounded by the area, whatever the rows: (440 / 15 + 2)^2 < 1100.
SELECT n, (octet_length(s) - 24) / 97 < 1100 AS bins_bounded_by_area FROM states ORDER BY n;
-- ...and both give a few dozen clusters (the area is about 7 x 7 radii).
SELECT (SELECT count(*) FROM unnest(cluster_state_clusters(s))) BETWEEN 10 AND 100 AS a_few_clusters
  FROM states ORDER BY n;

-- 1,000,000 identical markers: one bin, one cluster, exact bounds, centre and smallest id.
SELECT octet_length(cluster_state_agg(48.8584, 2.2945, 15, 60, g)) = 24 + 97 AS one_bin
  FROM generate_series(1::bigint, 1000000) g;
SELECT c.count = 1000000 AS all_counted,
       c.min_lat = 48.8584 AND c.max_lat = 48.8584 AND c.min_lon = 2.2945 AND c.max_lon = 2.2945 AS bounds,
       abs(c.lat - 48.8584) < 1e-12 AND abs(c.lon - 2.2945) < 1e-12 AS centre,
       c.id = 1 AS smallest_id
  FROM unnest((SELECT cluster_agg(48.8584, 2.2945, 15, 60, 1000001 - g) FROM generate_series(1::bigint, 1000000) g)) c;
SELECT count(*) = 1 AS one_cluster_at_zoom_29 FROM unnest((SELECT cluster_agg(48.8584, 2.2945, 29, 1)
                                                            FROM generate_series(1, 1000000)));

-- At world zoom the whole world holds few bins: 1,000,000 markers spread over the world at
-- zoom 0 (256 px wide, 15 px bins, split at the antimeridian) stay under 2 * 19 * 19 bins.
SELECT (octet_length(cluster_state_agg((g * 7919 % 1000003)::float8 / 1000003 * 170 - 85,
                                       (g * 104729 % 999983)::float8 / 999983 * 360 - 180, 0, 60, g)) - 24) / 97
       <= 2 * 19 * 19 AS world_zoom_bins_bounded
  FROM generate_series(1::bigint, 1000000) g;
