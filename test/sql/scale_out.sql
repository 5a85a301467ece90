-- cluster_agg_sharded and cluster_viewport_merge on one server (test/t/050_scale_out.pl runs
-- them over real shards): the same answers as cluster_agg over a partitioned table, the errors,
-- and the merge's properties on small inputs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

CREATE TABLE so_markers (id bigint, lat float8, lon float8, category int, tile int) PARTITION BY LIST (tile);
CREATE TABLE so_p1 PARTITION OF so_markers FOR VALUES IN (NULL, 0, 1, 2, 3, 4, 5);
CREATE TABLE so_p2 PARTITION OF so_markers FOR VALUES IN (6, 7, 8, 9, 10);
CREATE TABLE so_p3 PARTITION OF so_markers FOR VALUES IN (11, 12, 13, 14, 15);
SELECT setseed(0.5);
INSERT INTO so_markers
SELECT g, lat, lon, g % 3, quadkey_to_bigint(quadkey(lat, lon, 2))::int
  FROM (SELECT g, (random() - 0.5) * 150 AS lat, (random() - 0.5) * 360 AS lon
          FROM generate_series(1, 3000) g) s;
INSERT INTO so_markers VALUES (9001, NULL, NULL, 1, NULL), (9002, 0, 179.9, 1, 9), (9003, 0, -179.9, 1, 8);

-- byte for byte cluster_agg over the same rows, for boxes, zooms, radii and filters
SELECT z, r, box, f,
       array_send(cluster_agg_sharded('so_markers', 'tile', b[1], b[2], b[3], b[4], z, r, f))
         = array_send((SELECT cluster_agg(lat, lon, z, r, id) FROM so_markers
                        WHERE (b[1] IS NULL OR lat BETWEEN b[1] AND b[3]
                               AND CASE WHEN b[2] <= b[4] THEN lon BETWEEN b[2] AND b[4] ELSE lon >= b[2] OR lon <= b[4] END)
                          AND (f IS NULL OR category = 1))) AS same
  FROM (VALUES ('none', NULL::float8[]), ('world', '{-90,-180,90,180}'), ('europe', '{35,-10,60,30}'),
               ('antimeridian', '{-20,170,20,-170}')) AS v(box, b),
       (VALUES (0), (4), (12)) AS zz(z), (VALUES (60::float8), (25::float8)) AS rr(r),
       (VALUES (NULL::text), ('category = 1')) AS ff(f)
 ORDER BY 1, 2, 3, 4;

-- no id column: ids NULL
SELECT (cluster_agg_sharded('so_markers', 'tile', NULL, NULL, NULL, NULL, 3, 60, NULL, 'lat', 'lon', NULL))[1].id IS NULL AS no_ids;

-- errors
SELECT cluster_agg_sharded('so_markers', 'tile', 1, 2, NULL, NULL, 3, 60);
SELECT cluster_agg_sharded('so_markers', NULL, NULL, NULL, NULL, NULL, 3, 60);
SELECT cluster_agg_sharded('so_markers', 'no_such_column', NULL, NULL, NULL, NULL, 3, 60);

-- cluster_viewport_merge
SELECT cluster_viewport_merge('{}', 3, 60);
SELECT cluster_viewport_merge(NULL, 3, 60) IS NULL AS strict;
-- two parts 0.8 degrees apart across the antimeridian: 0.57 px at zoom 0, merged; 145 px at zoom 8, kept
SELECT cluster_viewport_merge('{"(1,0,3,0,179.6,-1,179.5,1,179.7,7,2)","(2,0,1,0,-179.6,0,-179.6,0,-179.6,9,)"}', 0, 60);
SELECT cluster_viewport_merge('{"(1,8,3,0,179.6,-1,179.5,1,179.7,7,2)","(2,8,1,0,-179.6,0,-179.6,0,-179.6,9,)"}', 8, 60);
-- the order of the input does not matter
SELECT cluster_viewport_merge('{"(2,0,1,0,-179.6,0,-179.6,0,-179.6,9,)","(1,0,3,0,179.6,-1,179.5,1,179.7,7,2)"}', 0, 60)
     = cluster_viewport_merge('{"(1,0,3,0,179.6,-1,179.5,1,179.7,7,2)","(2,0,1,0,-179.6,0,-179.6,0,-179.6,9,)"}', 0, 60) AS order_free;
-- three parts within 60 px become one: count-weighted mean (0 + 0.8 + 2 * 1.6) / 4 = 1, the union of the boxes
SELECT c.count, round(c.lon::numeric, 6) AS lon, c.min_lon, c.max_lon, c.id
  FROM unnest(cluster_viewport_merge('{"(1,4,1,0,0,0,0,0,0,1,)","(2,4,1,0,0.8,0,0.8,0,0.8,2,)","(3,4,2,0,1.6,0,1.55,0,1.65,3,4)"}', 4, 60)) c;
-- a part across 180 and one across 0 in one cluster: the whole world as its longitude bounds
SELECT c.count, c.min_lon, c.max_lon, c.id
  FROM unnest(cluster_viewport_merge('{"(1,0,5,10,-179.9,9,179.5,11,-179.5,3,1)","(2,0,5,10,1,9,-1,11,2,4,1)"}', 0, 1000)) c;
-- radius 0 merges nothing; empty and NULL-centred nodes are left out; zoom 30 is zoom 29 at half the radius
SELECT cardinality(cluster_viewport_merge('{"(1,4,1,0,0,0,0,0,0,1,)","(2,4,1,0,0,0,0,0,0,2,)"}', 4, 0)) AS radius_0,
       cardinality(cluster_viewport_merge('{"(1,4,0,0,0,0,0,0,0,1,)","(2,4,1,,,,,,,2,)",NULL}', 4, 60)) AS skipped,
       cluster_viewport_merge('{"(1,4,1,0,0,0,0,0,0,1,)","(2,4,1,0,1e-7,0,1e-7,0,1e-7,2,)"}', 30, 60)
         = cluster_viewport_merge('{"(1,4,1,0,0,0,0,0,0,1,)","(2,4,1,0,1e-7,0,1e-7,0,1e-7,2,)"}', 29.9, 30) AS zoom_30,
       cardinality(cluster_viewport_merge('{"(1,4,1,0,0,0,0,0,0,1,)","(2,4,1,0,1e-7,0,1e-7,0,1e-7,2,)"}', 30, 60)) AS merged_at_30;

-- Shards' own clusterings (each partition's cluster_agg: clusters of disjoint marker sets, as
-- each shard's hierarchy gives them) merged, against an independent oracle in SQL: counts add
-- up, no two centres closer than the radius (every pair, across the antimeridian), cluster_agg's
-- order, the smallest id, the count-weighted Mercator y kept, and the same array whatever the
-- order of the nodes.
CREATE FUNCTION pg_temp.wrap(lon float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN lon > 180 THEN lon - 360 WHEN lon < -180 THEN lon + 360 ELSE lon END $$;
CREATE FUNCTION pg_temp.merc_y(lat float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT 0.5 - ln(tan(pi() / 4 + radians(greatest(-85.05112878, least(85.05112878, lat))) / 2)) / (2 * pi()) $$;
CREATE TABLE so_parts AS
SELECT zz.z, rr.r, c.*
  FROM (VALUES (0), (1), (3), (5)) zz(z), (VALUES (60::float8), (25::float8)) rr(r),
       LATERAL (SELECT cluster_agg(m.lat, m.lon, zz.z, rr.r, m.id) AS cs FROM so_markers m GROUP BY m.tableoid) s,
       LATERAL unnest(s.cs) c;
CREATE TABLE so_merged AS
SELECT k.z, k.r,
       cluster_viewport_merge((SELECT array_agg(ROW(NULL, p.z, p.count, p.lat, p.lon, p.min_lat, p.min_lon, p.max_lat, p.max_lon, p.id, NULL)::cluster_node ORDER BY p.id)
                                 FROM so_parts p WHERE (p.z, p.r) = (k.z, k.r)), k.z, k.r) AS merged,
       cluster_viewport_merge((SELECT array_agg(ROW(NULL, p.z, p.count, p.lat, p.lon, p.min_lat, p.min_lon, p.max_lat, p.max_lon, p.id, NULL)::cluster_node ORDER BY md5(p.id::text))
                                 FROM so_parts p WHERE (p.z, p.r) = (k.z, k.r)), k.z, k.r) AS shuffled
  FROM (SELECT DISTINCT z, r FROM so_parts) k;
CREATE TABLE so_result AS
SELECT m.z, m.r, c.*, (c.lon + 180) / 360 AS x, pg_temp.merc_y(c.lat) AS y
  FROM so_merged m, unnest(m.merged) WITH ORDINALITY c(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, ord);
SELECT k.z, k.r,
       (SELECT count(*) FROM so_parts p WHERE (p.z, p.r) = (k.z, k.r)) > cardinality(k.merged) AS some_merged,
       (SELECT sum(count) FROM so_parts p WHERE (p.z, p.r) = (k.z, k.r))
         = (SELECT sum(count) FROM so_result c WHERE (c.z, c.r) = (k.z, k.r)) AS counts_add_up,
       NOT EXISTS (SELECT FROM so_result a JOIN so_result b ON (b.z, b.r) = (a.z, a.r) AND b.ord > a.ord
                    WHERE (a.z, a.r) = (k.z, k.r)
                      AND sqrt((least(abs(a.x - b.x), 1 - abs(a.x - b.x)) * 256 * 2 ^ k.z) ^ 2
                               + ((a.y - b.y) * 256 * 2 ^ k.z) ^ 2) < k.r * (1 - 1e-9)) AS separated,
       NOT EXISTS (SELECT FROM so_result a JOIN so_result b ON (b.z, b.r, b.ord) = (a.z, a.r, a.ord + 1)
                    WHERE (a.z, a.r) = (k.z, k.r)
                      AND NOT (a.count > b.count OR a.count = b.count
                               AND (a.lat > b.lat OR a.lat = b.lat AND a.lon <= b.lon))) AS ordered,
       (SELECT min(id) FROM so_parts p WHERE (p.z, p.r) = (k.z, k.r))
         = (SELECT min(id) FROM so_result c WHERE (c.z, c.r) = (k.z, k.r)) AS smallest_id,
       abs((SELECT sum(count * pg_temp.merc_y(lat)) FROM so_parts p WHERE (p.z, p.r) = (k.z, k.r))
           - (SELECT sum(count * y) FROM so_result c WHERE (c.z, c.r) = (k.z, k.r))) < 1e-9 * 3000 AS weighted_y_kept,
       k.shuffled = k.merged AS order_free
  FROM so_merged k ORDER BY 1, 2;

-- Groups of parts far apart (columns 40 degrees apart from -160 to 160 and at the antimeridian,
-- rows 30 degrees apart), each group within half a degree: at zoom 4 and radius 60 px each group
-- is one cluster, so the oracle knows every cluster's members: its count, smallest id, exact
-- latitude bounds, the shortest longitude arc holding its parts' boxes (for the group at the
-- antimeridian with parts on both sides, the arc across 180 from the westernmost start east of 0
-- to the easternmost end west of it; else the plain one), and the count-weighted Mercator mean of
-- its parts' centres (parts west of 0 at x + 1 when the arc crosses 180).
SELECT setseed(0.25);
CREATE TABLE so_groups AS
WITH raw AS MATERIALIZED (
    SELECT gx, gy, i, -60 + 30 * gy AS lat0, CASE WHEN gx = 9 THEN 180 ELSE -160 + 40 * gx END AS lon0,
           random() < 0.3 AS single, 2 + floor(random() * 500)::bigint AS n, (random() - 0.5) * 0.8 AS dlat,
           (random() - 0.5) * 0.8 AS dlon, random() * 0.1 AS dw, random() * 0.1 AS de, random() * 0.1 AS ds,
           random() * 0.1 AS dn
      FROM generate_series(0, 9) gx, generate_series(0, 4) gy, LATERAL generate_series(1, 1 + (gx * 7 + gy * 3) % 4) i),
     pos AS (
    SELECT r.*, r.lat0 + r.dlat AS lat, pg_temp.wrap(r.lon0 + r.dlon) AS lon FROM raw r)
SELECT gx, gy, ((gx * 5 + gy) * 10 + i) * 7919 % 1000 AS id, CASE WHEN single THEN 1 ELSE n END AS count, lat, lon,
       CASE WHEN single THEN lat ELSE lat - ds END AS min_lat, CASE WHEN single THEN lon ELSE pg_temp.wrap(lon - dw) END AS min_lon,
       CASE WHEN single THEN lat ELSE lat + dn END AS max_lat, CASE WHEN single THEN lon ELSE pg_temp.wrap(lon + de) END AS max_lon
  FROM pos;
CREATE TABLE so_group_result AS
SELECT c.* FROM unnest(cluster_viewport_merge((SELECT array_agg(ROW(NULL, 4, g.count, g.lat, g.lon, g.min_lat, g.min_lon, g.max_lat, g.max_lon, g.id, NULL)::cluster_node)
                                                 FROM so_groups g), 4, 60)) c;
WITH e AS (
    SELECT gx, gy, sum(count) AS count, min(id) AS id, min(min_lat) AS min_lat, max(max_lat) AS max_lat,
           gx = 9 AND bool_or(min_lon >= 0) AND bool_or(max_lon < 0) AS crosses,
           min(min_lon) AS plain_w, max(max_lon) AS plain_e,
           min(min_lon) FILTER (WHERE min_lon >= 0) AS cross_w, max(max_lon) FILTER (WHERE max_lon < 0) AS cross_e,
           bool_or(min_lon > max_lon) AS has_crossing_part, bool_or(min_lon < 0 AND max_lon >= 0) AS has_part_across_0
      FROM so_groups GROUP BY gx, gy),
     centre AS (
    SELECT e.gx, e.gy, sum(g.count * ((g.lon + 180) / 360 + CASE WHEN e.crosses AND g.lon < 0 THEN 1 ELSE 0 END)) / e.count AS x,
           sum(g.count * pg_temp.merc_y(g.lat)) / e.count AS y
      FROM e JOIN so_groups g USING (gx, gy) GROUP BY e.gx, e.gy, e.count),
     want AS (
    SELECT e.*, CASE WHEN e.crosses THEN e.cross_w ELSE e.plain_w END AS min_lon,
           CASE WHEN e.crosses THEN e.cross_e ELSE e.plain_e END AS max_lon,
           (CASE WHEN c.x > 1 THEN c.x - 1 ELSE c.x END) * 360 - 180 AS lon, degrees(atan(sinh(pi() * (1 - 2 * c.y)))) AS lat
      FROM e JOIN centre c USING (gx, gy))
SELECT (SELECT count(*) FROM want) AS groups, (SELECT count(*) FROM so_group_result) AS clusters,
       count(r.id) AS found,
       bool_and(r.count = w.count) AS counts,
       bool_and(r.min_lat = w.min_lat AND r.max_lat = w.max_lat) AS lat_bounds,
       bool_and(r.min_lon = w.min_lon AND r.max_lon = w.max_lon) AS lon_bounds,
       bool_and(least(abs(r.lon - w.lon), 360 - abs(r.lon - w.lon)) < 1e-9 AND abs(r.lat - w.lat) < 1e-9) AS centres,
       count(*) FILTER (WHERE w.crosses) AS across_180, count(*) FILTER (WHERE w.has_crossing_part) AS with_a_part_across_180,
       count(*) FILTER (WHERE w.has_part_across_0) AS with_a_part_across_0
  FROM want w LEFT JOIN so_group_result r USING (id);

-- errors
SELECT cluster_viewport_merge('{}', -1, 60);
SELECT cluster_viewport_merge('{}', 30.5, 60);
SELECT cluster_viewport_merge('{}', 3, 'NaN');
SELECT cluster_viewport_merge('{}', 3, -1);
SELECT cluster_viewport_merge('{"(1,4,2,0,0,,0,0,0,1,)"}', 4, 60);
SELECT cluster_viewport_merge('{"(1,4,2,91,0,0,0,0,0,1,)"}', 4, 60);
SELECT cluster_viewport_merge('{"(1,4,2,0,0,1,0,0,0,1,)"}', 4, 60);
SELECT cluster_viewport_merge('{"(1,4,1,0,0,0,-1,0,1,1,)"}', 4, 60);
SELECT cluster_viewport_merge('{"(1,4,70368744177664,0,0,0,0,0,0,1,)","(2,4,1,0,0,0,0,0,0,2,)"}', 4, 60);
SET geocluster.max_state_memory = '64kB';
SELECT cluster_viewport_merge((SELECT array_agg(ROW(NULL, 5, count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, NULL)::cluster_node) FROM so_parts), 5, 60);
RESET geocluster.max_state_memory;
DROP TABLE so_markers, so_parts, so_merged, so_result, so_groups, so_group_result;
