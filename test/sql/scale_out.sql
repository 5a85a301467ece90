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
-- radius 0 merges nothing; empty and NULL-centred nodes are left out
SELECT cardinality(cluster_viewport_merge('{"(1,4,1,0,0,0,0,0,0,1,)","(2,4,1,0,0,0,0,0,0,2,)"}', 4, 0)) AS radius_0,
       cardinality(cluster_viewport_merge('{"(1,4,0,0,0,0,0,0,0,1,)","(2,4,1,,,,,,,2,)"}', 4, 60)) AS skipped;
-- errors
SELECT cluster_viewport_merge('{}', -1, 60);
SELECT cluster_viewport_merge('{}', 3, 'NaN');
DROP TABLE so_markers;
