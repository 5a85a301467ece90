-- geocluster_postgis: cluster_agg over Point geometries is cluster_agg over their lat/lon.
--
--   cluster_agg(geom, z [, r [, id]]) = cluster_agg(ST_Y(geom), ST_X(geom), z [, r [, id]])
--       6k markers (clumps, the antimeridian, the poles), zooms 0..29, several radii
--   other SRIDs: = cluster_agg over ST_Transform(geom, 4326)
--   NULL geometries are skipped; no rows give an empty array; a parallel plan gives the same
--   clusters; a wrong geometry is the constructors' 22023 error.
--
-- Every assertion prints one `t`; the query after it lists offending rows (nothing when right).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster_postgis CASCADE;
\pset tuples_only on
\pset null '(null)'

CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || msg || coalesce(' (' || nullif(detail, '') || ')', '');
END $$;

-- Markers: uniform ones, clumps (so that clusters have many members), some across the
-- antimeridian and beyond the Mercator clamp near the poles.
SELECT setseed(0.31415);
CREATE TABLE pg_markers (id bigint PRIMARY KEY, geom geometry(Point, 4326));
INSERT INTO pg_markers
SELECT i, ST_SetSRID(ST_MakePoint(random() * 360 - 180, random() * 170 - 85), 4326)
  FROM generate_series(1, 3000) i;
INSERT INTO pg_markers
SELECT 10000 + i, ST_SetSRID(ST_MakePoint(greatest(-180, least(180, cx + (random() - 0.5) * 0.2)),
                                          greatest(-90, least(90, cy + (random() - 0.5) * 0.2))), 4326)
  FROM generate_series(1, 3000) i,
       LATERAL (SELECT (ARRAY[2.35, 179.95, -179.95, 13.4, -74.0, 0])[1 + i % 6] AS cx,
                       (ARRAY[48.85, -16.5, -16.5, 52.5, 40.7, 88.0])[1 + i % 6] AS cy) c;
INSERT INTO pg_markers VALUES (30000, 'SRID=4326;POINT(0 -90)'), (30001, 'SRID=4326;POINT(180 90)'),
                              (30002, 'SRID=4326;POINT(-180 0)');
ANALYZE pg_markers;

-- What it gives: the three biggest clusters at zoom 3.
SELECT c.count, round(c.lat::numeric, 4) AS lat, round(c.lon::numeric, 4) AS lon, c.id,
       ST_AsText(ST_SnapToGrid(cluster_point(c), 0.0001)) AS point
  FROM unnest((SELECT cluster_agg(geom, 3, 60, id) FROM pg_markers)) AS c
 ORDER BY c.count DESC LIMIT 3;

--------------------------------------------------------------------------------------------
-- Equal to the lat/lon form, at every zoom, with every arity
--------------------------------------------------------------------------------------------
CREATE TEMP TABLE by_zoom AS
SELECT z, (SELECT cluster_agg(geom, z, 60, id) FROM pg_markers) AS from_geom,
          (SELECT cluster_agg(ST_Y(geom), ST_X(geom), z, 60, id) FROM pg_markers) AS from_latlon
  FROM generate_series(0, 29) z;
SELECT z FROM by_zoom WHERE from_geom IS DISTINCT FROM from_latlon;
-- ...which is not trivial: the clusterings differ between zooms, and counts add up.
SELECT count(*) = 30 AND count(DISTINCT cardinality(from_geom)) > 10 AS clusterings_differ FROM by_zoom;
SELECT z FROM by_zoom WHERE (SELECT sum(count) FROM unnest(from_geom)) <> (SELECT count(*) FROM pg_markers);
-- The shorter forms.
SELECT z FROM generate_series(0, 29, 3) z
 WHERE (SELECT cluster_agg(geom, z) FROM pg_markers)
       IS DISTINCT FROM (SELECT cluster_agg(ST_Y(geom), ST_X(geom), z) FROM pg_markers);
SELECT z, r FROM generate_series(1, 29, 7) z, unnest(ARRAY[1, 40, 200]::float8[]) r
 WHERE (SELECT cluster_agg(geom, z, r) FROM pg_markers)
       IS DISTINCT FROM (SELECT cluster_agg(ST_Y(geom), ST_X(geom), z, r) FROM pg_markers);
-- Grouped: one array per group, equal group by group.
SELECT count(*) = 0 AS grouped_equal FROM (
  SELECT id % 7 AS g, cluster_agg(geom, 6, 60, id) AS a, cluster_agg(ST_Y(geom), ST_X(geom), 6, 60, id) AS b
    FROM pg_markers GROUP BY 1) s
 WHERE a IS DISTINCT FROM b;

--------------------------------------------------------------------------------------------
-- Other SRIDs, NULLs, no rows
--------------------------------------------------------------------------------------------
CREATE TEMP TABLE markers_3857 AS
SELECT id, ST_Transform(geom, 3857) AS geom FROM pg_markers WHERE abs(ST_Y(geom)) < 85;
SELECT z FROM generate_series(0, 20, 4) z
 WHERE (SELECT cluster_agg(geom, z, 60, id) FROM markers_3857)
       IS DISTINCT FROM (SELECT cluster_agg(ST_Y(ST_Transform(geom, 4326)), ST_X(ST_Transform(geom, 4326)), z, 60, id)
                           FROM markers_3857);
-- A NULL geometry is skipped, like a NULL lat/lon; a NULL id is "no id".
SELECT (SELECT cluster_agg(g, 5, 60, i) FROM (SELECT geom, id FROM pg_markers UNION ALL
                                              SELECT NULL, 99999 UNION ALL SELECT geom, NULL FROM pg_markers WHERE id = 1) v(g, i))
     = (SELECT cluster_agg(lat, lon, 5, 60, i) FROM (SELECT ST_Y(geom), ST_X(geom), id FROM pg_markers UNION ALL
                                                     SELECT NULL, NULL, 99999 UNION ALL SELECT ST_Y(geom), ST_X(geom), NULL FROM pg_markers WHERE id = 1) v(lat, lon, i))
       AS nulls_like_latlon;
SELECT cluster_agg(geom, 5) = '{}' AND cluster_agg(geom, 5, 60, id) = '{}' AS no_rows_empty_array
  FROM pg_markers WHERE false;
SELECT cluster_agg(NULL::geometry, 5) = '{}' AS only_null_rows_empty_array FROM generate_series(1, 3);
-- Z and M are ignored, as by quadkey(geom, zoom).
SELECT cluster_agg(g, 20, 60, i) = cluster_agg(ST_Y(g), ST_X(g), 20, 60, i) AS z_and_m_ignored
  FROM (VALUES (1, 'SRID=4326;POINT Z (1 2 3)'::geometry), (2, 'SRID=4326;POINT M (1.001 2 3)'),
               (3, 'SRID=4326;POINT ZM (1 2.001 3 4)')) v(i, g);

--------------------------------------------------------------------------------------------
-- Parallel: partial aggregates in workers, combined; the same clusters
--------------------------------------------------------------------------------------------
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT cluster_agg(geom, 8, 60, id) FROM pg_markers;
CREATE TEMP TABLE parallel_result AS SELECT cluster_agg(geom, 8, 60, id) AS a FROM pg_markers;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT a = (SELECT cluster_agg(ST_Y(geom), ST_X(geom), 8, 60, id) FROM pg_markers) AS parallel_equals_serial
  FROM parallel_result;
RESET max_parallel_workers_per_gather;

--------------------------------------------------------------------------------------------
-- Wrong geometries: the constructors' errors
--------------------------------------------------------------------------------------------
CREATE TEMP TABLE bad(kind text, g geometry);
INSERT INTO bad VALUES ('linestring', 'SRID=4326;LINESTRING(0 0, 1 1)'),
                       ('empty', 'SRID=4326;POINT EMPTY'), ('srid 0', 'POINT(1 1)'),
                       ('unknown srid', 'SRID=990000;POINT(1 1)');
SELECT kind, pg_temp.error_of(format('SELECT cluster_agg(g, 3) FROM bad WHERE kind = %L', kind)),
       pg_temp.error_of(format('SELECT quadkey(g, 3) FROM bad WHERE kind = %L', kind))
  FROM bad ORDER BY kind;
-- The core's own checks still apply.
SELECT pg_temp.error_of($$SELECT cluster_agg(geom, 30) FROM pg_markers$$);
SELECT pg_temp.error_of($$SELECT cluster_agg(geom, 3, 0) FROM pg_markers$$);

DROP TABLE pg_markers;
DROP EXTENSION geocluster_postgis;
