-- geocluster_postgis: the README walkthrough, verbatim, and the vector-tile recipe behind it.
--
--   The README section "PostGIS companion: geocluster_postgis" shows the blocks between the
--   `-- README block` markers below, word for word; test/integration/postgis_mvt.py takes
--   blocks 1 and 3 (the table and the tile function) from here and decodes the tiles they make.
--   cluster_tile(z, x, y) has the shape Martin and pg_tileserv expect of a function source.
--   Tile by tile, it draws exactly the clusters of the whole map whose centre is in the tile:
--   every tile of zooms 0..4 and the tiles around every cluster at zooms 6 and 9, on markers
--   placed in tiles' middles, on tile corners, across the antimeridian and beyond the
--   Mercator clamp at the poles. cluster_tile_boxes() is what makes that work, and a GiST
--   index serves it.
--
-- Every assertion prints one `t`; the query after it lists offending rows (nothing when right).
SET client_min_messages = warning;
\pset tuples_only on
\pset null '(null)'
DROP EXTENSION IF EXISTS geocluster_postgis;

CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || msg || coalesce(' (' || nullif(detail, '') || ')', '');
END $$;

-- README block 1 (fresh database)
CREATE EXTENSION geocluster_postgis CASCADE;
CREATE TABLE markers (
    id bigint PRIMARY KEY,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
);
CREATE INDEX ON markers USING gist (geom);
INSERT INTO markers (id, lat, lon)  -- 10,000 markers on a grid over central Paris
SELECT i, 48.82 + (i / 100) * 0.0008, 2.25 + (i % 100) * 0.002 FROM generate_series(0, 9999) AS i;
-- README end

-- README block 2
SELECT quadkey(geom, 12), geohash(geom, 7), ST_AsText(geohash_envelope(geohash(geom, 5)))
  FROM markers WHERE id = 0;
SELECT c.count, c.id, ST_AsText(cluster_point(c), 5) AS centre, ST_AsText(cluster_envelope(c), 5) AS bbox
  FROM unnest((SELECT cluster_agg(geom, 11, 60, id) FROM markers)) AS c
 ORDER BY c.count DESC LIMIT 3;
-- README end

-- README block 3
CREATE FUNCTION cluster_tile(z integer, x integer, y integer, query_params json DEFAULT '{}')
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT ST_AsMVT(feature, 'clusters', 4096, 'geom', 'id') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(cluster_point(c), 3857), ST_TileEnvelope(z, x, y)::box2d) AS geom,
           -- cluster_geojson's shape: a NULL leaves the property out, so a single marker has
           -- only its id (the feature id) and a cluster cluster, cluster_id, point_count...
           CASE WHEN c.count OPERATOR(pg_catalog.>) 1::bigint THEN true END AS cluster,
           CASE WHEN c.count OPERATOR(pg_catalog.>) 1::bigint THEN c.id END AS cluster_id,
           CASE WHEN c.count OPERATOR(pg_catalog.>) 1::bigint THEN c.count END AS point_count,
           CASE WHEN c.count OPERATOR(pg_catalog.>) 1::bigint
                THEN cluster_point_count_abbreviated(c.count) END AS point_count_abbreviated,
           CASE WHEN c.count OPERATOR(pg_catalog.=) 1::bigint THEN c.id END AS id
      FROM pg_catalog.unnest((
        SELECT cluster_agg(m.geom, z, 60::double precision, m.id)
          FROM markers m  -- the markers within 60 px of the tile
         WHERE m.geom && ANY (cluster_tile_boxes(z, x, y, 60::double precision)))) AS c
     WHERE quadkey(c.lat, c.lon, z) = quadkey_from_tile(z, x, y)  -- clusters centred in it
  ) AS feature
$$;
SELECT t.zoom, t.x, t.y, length(cluster_tile(t.zoom, t.x, t.y)) > 0 AS has_clusters
  FROM quadkey_tile(quadkey(ST_SetSRID(ST_MakePoint(2.35, 48.86), 4326), 11)) AS t;
-- README end

--------------------------------------------------------------------------------------------
-- The function-source conventions of Martin and pg_tileserv
--------------------------------------------------------------------------------------------
SELECT pg_get_function_identity_arguments(oid) = 'z integer, x integer, y integer, query_params json'
   AND prorettype = 'bytea'::regtype AND provolatile IN ('i', 's') AND proparallel = 's'
   AND NOT proretset AND pronargdefaults = 1 AS tile_function_shape
  FROM pg_proc WHERE oid = 'cluster_tile'::regproc;
-- Martin calls it with the URL's query parameters, pg_tileserv with three integers.
SELECT cluster_tile(11, 1037, 704, '{"foo": 1}') = cluster_tile(11, 1037, 704) AS query_params_accepted;
-- A tile without markers is an empty tile, not NULL.
SELECT cluster_tile(11, 0, 0) = '' AS empty_tile_is_empty;
-- The bytes are a tile: one layer (field 3, bytes) named clusters, with our property keys.
SELECT get_byte(t, 0) = 26 AND position('clusters' IN encode(t, 'escape')) > 0
   AND position('point_count_abbreviated' IN encode(t, 'escape')) > 0 AS looks_like_a_tile
  FROM cluster_tile(11, 1037, 704) t;

--------------------------------------------------------------------------------------------
-- cluster_tile_boxes: the area a tile reads markers from
--------------------------------------------------------------------------------------------
SELECT ST_AsText(b) FROM unnest(cluster_tile_boxes(0, 0, 0)) b;
SELECT ST_AsText(b, 6) FROM unnest(cluster_tile_boxes(2, 0, 0, 60)) b;  -- crosses 180, reaches 90
SELECT ST_AsText(b, 6) FROM unnest(cluster_tile_boxes(2, 1, 2, 0)) b;   -- radius 0: the tile
SELECT count(*) = 1 AND bool_and(greatest(abs(ST_XMin(b) - t.min_lon), abs(ST_YMin(b) - t.min_lat),
                                          abs(ST_XMax(b) - t.max_lon), abs(ST_YMax(b) - t.max_lat)) < 1e-9)
       AS radius_0_is_the_tile
  FROM unnest(cluster_tile_boxes(5, 9, 12, 0)) b, quadkey_bounds(quadkey_from_tile(5, 9, 12)) t;
-- Every marker within radius_px of a tile (pixels of the 256 px world at that zoom) is in a
-- box: markers at random distances around random tiles.
SELECT setseed(0.1618);
CREATE TEMP TABLE near AS
SELECT z, x, y, dx, dy, 256 * ((x + 0.5 + dx) / 2^z - floor((x + 0.5 + dx) / 2^z)) AS px,
       256 * least(greatest((y + 0.5 + dy) / 2^z, 0), 1) AS py
  FROM (SELECT z, floor(random() * 2^z)::int AS x, floor(random() * 2^z)::int AS y,
               (random() * 2 - 1) * (0.5 + 60.0 / 256) AS dx, (random() * 2 - 1) * (0.5 + 60.0 / 256) AS dy
          FROM generate_series(1, 5000) i, LATERAL (SELECT i % 20 AS z) s) t;
SELECT z, x, y, dx, dy FROM near,
       LATERAL (SELECT ST_SetSRID(ST_MakePoint(px / 256 * 360 - 180,
                                               degrees(atan(sinh(pi() * (1 - 2 * py / 256))))), 4326) AS p) m
 WHERE abs(dx) < 0.5 + 60.0 / 256 * 0.999 AND abs(dy) < 0.5 + 60.0 / 256 * 0.999
   AND NOT m.p && ANY (cluster_tile_boxes(z, x, y, 60));
SELECT count(*) = 5000 AS near_markers_tested FROM near;
-- Markers beyond the Mercator clamp belong to the edge rows.
SELECT 'SRID=4326;POINT(10 89.9)'::geometry && ANY (cluster_tile_boxes(8, 135, 0, 60))
   AND 'SRID=4326;POINT(10 -89.9)'::geometry && ANY (cluster_tile_boxes(8, 135, 255, 60))
   AND NOT 'SRID=4326;POINT(10 89.9)'::geometry && ANY (cluster_tile_boxes(8, 135, 2, 60)) AS poles_in_edge_rows;
-- A tile that does not exist, a negative radius: errors.
SELECT pg_temp.error_of('SELECT cluster_tile_boxes(2, 4, 0, 60)');
SELECT pg_temp.error_of('SELECT cluster_tile_boxes(2, 1, 1, -1)');
-- The index serves the search with parameters, as a tile server's prepared call has them.
PREPARE tile_markers(int, int, int) AS
  SELECT count(*) FROM markers m WHERE m.geom && ANY (cluster_tile_boxes($1, $2, $3, 60));
SET plan_cache_mode = force_generic_plan;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) EXECUTE tile_markers(11, 1037, 704);
RESET enable_seqscan;
RESET plan_cache_mode;
DEALLOCATE tile_markers;

--------------------------------------------------------------------------------------------
-- Tile by tile = the whole map
--------------------------------------------------------------------------------------------
-- Spots of 1 to 40 markers: in the middle of 20 random tiles of zoom 3, on 4 tile corners,
-- across the antimeridian, and beyond the Mercator clamp at both poles.
TRUNCATE markers;
SELECT setseed(0.2718);
INSERT INTO markers (id, lon, lat)
SELECT row_number() OVER (),
       greatest(-180, least(180, lon + (random() - 0.5) * spread)),
       greatest(-90, least(90, lat + (random() - 0.5) * spread))
  FROM (SELECT c.lon, c.lat, 0.01 AS spread, 1 + floor(random() * 40)::int AS n
          FROM generate_series(1, 20) i,
               quadkey_center(quadkey_from_tile(3, floor(random() * 8)::int, floor(random() * 8)::int)) c
        UNION ALL
        SELECT lon, lat, 0.002, 12 FROM (VALUES (0.0, 0.0), (-90, 66.51326044311186), (45, 0), (90, -40.97989806962013)) v(lon, lat)
        UNION ALL
        SELECT lon, -16.5, 0.004, 9 FROM (VALUES (179.999), (-179.999)) v(lon)
        UNION ALL
        SELECT 45.1, lat, 0.01, 7 FROM (VALUES (88.5), (-89.0)) v(lat)) spots,
       generate_series(1, n);
SELECT count(*) > 300 AND count(*) FILTER (WHERE abs(ST_X(geom)) > 179.99) >= 18
   AND count(*) FILTER (WHERE abs(ST_Y(geom)) > 86) >= 14 AS spots_placed FROM markers;
ANALYZE markers;

-- The clusters of the whole map, and the tile each centre is in.
CREATE TEMP TABLE world AS
SELECT z, c AS cluster, t.x, t.y
  FROM generate_series(0, 9) z, LATERAL unnest((SELECT cluster_agg(geom, z, 60, id) FROM markers)) c,
       LATERAL quadkey_tile(quadkey(c.lat, c.lon, z)) t;
-- What a tile should be: those clusters, encoded the way the recipe encodes them.
CREATE FUNCTION pg_temp.expected_tile(z int, x int, y int) RETURNS bytea LANGUAGE sql STABLE AS $$
  SELECT ST_AsMVT(feature, 'clusters', 4096, 'geom', 'id') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(cluster_point(w.cluster), 3857), ST_TileEnvelope(z, x, y)) AS geom,
           NULLIF((w.cluster).count > 1, false) AS cluster,
           CASE WHEN (w.cluster).count > 1 THEN (w.cluster).id END AS cluster_id,
           CASE WHEN (w.cluster).count > 1 THEN (w.cluster).count END AS point_count,
           CASE WHEN (w.cluster).count > 1 THEN cluster_point_count_abbreviated((w.cluster).count) END
               AS point_count_abbreviated,
           CASE WHEN (w.cluster).count = 1 THEN (w.cluster).id END AS id
      FROM pg_temp.world w WHERE (w.z, w.x, w.y) = (expected_tile.z, expected_tile.x, expected_tile.y)) AS feature
$$;
-- Every tile of zooms 0..4; at zooms 6 and 9, the tile of every cluster and its neighbours.
CREATE TEMP TABLE tiles AS
SELECT z, x, y FROM generate_series(0, 4) z, generate_series(0, (1 << z) - 1) x, generate_series(0, (1 << z) - 1) y
UNION
SELECT t.* FROM world w,
       LATERAL unnest(quadkey_neighbors(quadkey_from_tile(w.z, w.x, w.y)) || quadkey_from_tile(w.z, w.x, w.y)) n,
       LATERAL quadkey_tile(n) t
 WHERE w.z IN (6, 9);
SELECT count(*) > 341 + 100 AS enough_tiles FROM tiles;
SELECT z, x, y FROM tiles WHERE cluster_tile(z, x, y) IS DISTINCT FROM pg_temp.expected_tile(z, x, y);
SELECT count(*) = 0 AS every_cluster_in_a_tested_tile FROM world w
 WHERE z IN (0, 1, 2, 3, 4, 6, 9) AND NOT EXISTS (SELECT FROM tiles t WHERE (t.z, t.x, t.y) = (w.z, w.x, w.y));
-- The cases this is about did happen: a cluster across the antimeridian, one beyond the
-- Mercator clamp, and one whose members lie in several tiles.
SELECT bool_or((cluster).min_lon > (cluster).max_lon) AS some_cluster_crosses_180,
       bool_or((cluster).max_lat > 86) AS some_cluster_beyond_the_clamp,
       bool_or((cluster).min_lon <= (cluster).max_lon
               AND quadkey((cluster).min_lat, (cluster).min_lon, z) <> quadkey((cluster).max_lat, (cluster).max_lon, z))
           AS some_cluster_spans_tiles
  FROM world WHERE z = 9;
-- ...and that without the margin, the wrap or the poles, tiles would have been wrong: the
-- same check with the tile's own box finds differences.
SELECT count(*) > 0 AS a_bare_tile_box_would_fail FROM tiles
 WHERE z <= 4 AND (SELECT ST_AsMVT(feature, 'clusters', 4096, 'geom', 'id') FROM (
         SELECT ST_AsMVTGeom(ST_Transform(cluster_point(c), 3857), ST_TileEnvelope(z, x, y)) AS geom,
                NULLIF(c.count > 1, false) AS cluster, CASE WHEN c.count > 1 THEN c.id END AS cluster_id,
                CASE WHEN c.count > 1 THEN c.count END AS point_count,
                CASE WHEN c.count > 1 THEN cluster_point_count_abbreviated(c.count) END AS point_count_abbreviated,
                CASE WHEN c.count = 1 THEN c.id END AS id
           FROM unnest((SELECT cluster_agg(m.geom, z, 60, m.id) FROM markers m
                         WHERE m.geom && ST_Transform(ST_TileEnvelope(z, x, y), 4326))) AS c
          WHERE quadkey(c.lat, c.lon, z) = quadkey_from_tile(z, x, y)) feature)
       IS DISTINCT FROM pg_temp.expected_tile(z, x, y);

DROP TABLE markers;
DROP FUNCTION cluster_tile(integer, integer, integer, json);
DROP EXTENSION geocluster_postgis;
