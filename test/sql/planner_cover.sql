-- The viewport rewrite (src/pg/planner_cover.cpp, src/sql/geocluster/41_planner_cover.sql):
-- `col <@ cells` with a constant array becomes the OR of the cells' exact code ranges, which
-- every index of the column serves; more than 128 ranges are merged, the exact test kept as a
-- filter. The README's viewport examples, then the plans and answers around them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS geocluster;

-- The README's viewport examples, verbatim ----------------------------------------------------
CREATE EXTENSION IF NOT EXISTS geocluster;
CREATE TABLE markers (
  id  bigint PRIMARY KEY,
  lat float8 NOT NULL,
  lon float8 NOT NULL,
  qk  quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 23)) STORED
);
CREATE INDEX markers_qk_idx ON markers (qk);
INSERT INTO markers (id, lat, lon)
  SELECT i, 48.80 + (i % 100) * 0.001, 2.25 + (i / 100) * 0.001 FROM generate_series(0, 9999) i;
ANALYZE markers;

-- The markers in the viewport south 48.85, west 2.30, north 48.87, east 2.35, at map zoom 14
SELECT id, lat, lon
  FROM markers
 WHERE qk <@ quadkey_cover(48.85, 2.30, 48.87, 2.35, 14)
   AND lat BETWEEN 48.85 AND 48.87 AND lon BETWEEN 2.30 AND 2.35
 ORDER BY id LIMIT 5;

EXPLAIN (COSTS OFF)
SELECT id, lat, lon
  FROM markers
 WHERE qk <@ quadkey_cover(48.85, 2.30, 48.87, 2.35, 14)
   AND lat BETWEEN 48.85 AND 48.87 AND lon BETWEEN 2.30 AND 2.35;

-- The same with a geohash column, here under a GiST index
ALTER TABLE markers ADD gh geohash GENERATED ALWAYS AS (geohash(lat, lon, 12)) STORED;
CREATE INDEX markers_gh_idx ON markers USING gist (gh);
SELECT count(*)
  FROM markers
 WHERE gh <@ geohash_cover(48.85, 2.30, 48.87, 2.35, 6)
   AND lat BETWEEN 48.85 AND 48.87 AND lon BETWEEN 2.30 AND 2.35;

-- A viewport across the antimeridian: west 179.9 is east of east -179.9
SELECT count(*)
  FROM markers
 WHERE qk <@ quadkey_cover(-17.0, 179.9, -16.9, -179.9, 14)
   AND lat BETWEEN -17.0 AND -16.9 AND (lon >= 179.9 OR lon <= -179.9);
-- (end of the README's examples) -------------------------------------------------------------

-- The idiom returns exactly the markers of the box, through the index.
\pset tuples_only on
SELECT (SELECT count(*) FROM markers
         WHERE qk <@ quadkey_cover(48.85, 2.30, 48.87, 2.35, 14)
           AND lat BETWEEN 48.85 AND 48.87 AND lon BETWEEN 2.30 AND 2.35)
     = (SELECT count(*) FROM markers WHERE lat BETWEEN 48.85 AND 48.87 AND lon BETWEEN 2.30 AND 2.35)
       AS exactly_the_box;
\pset tuples_only off
-- Without a constant cover (a forced generic plan) the rewrite cannot happen; GiST and SP-GiST
-- still serve `<@ ANY (cover)`, evaluating the cover at run time.
PREPARE vp_gh(float8, float8, float8, float8, int) AS
  SELECT count(*) FROM markers WHERE gh <@ ANY (geohash_cover($1, $2, $3, $4, $5))
     AND lat BETWEEN $1 AND $3 AND lon BETWEEN $2 AND $4;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE vp_gh(48.85, 2.30, 48.87, 2.35, 6);
EXECUTE vp_gh(48.85, 2.30, 48.87, 2.35, 6);
RESET plan_cache_mode;
DEALLOCATE vp_gh;
-- A custom plan (the default for prepared statements) sees the values and rewrites.
PREPARE vp_qk(float8, float8, float8, float8, int) AS
  SELECT count(*) FROM markers WHERE qk <@ quadkey_cover($1, $2, $3, $4, $5)
     AND lat BETWEEN $1 AND $3 AND lon BETWEEN $2 AND $4;
EXPLAIN (COSTS OFF) EXECUTE vp_qk(48.85, 2.30, 48.87, 2.35, 14);
EXECUTE vp_qk(48.85, 2.30, 48.87, 2.35, 14);
DEALLOCATE vp_qk;
-- The rewrite leaves alone an array with NULLs. A cover of more than 128 ranges (a level much
-- deeper than the viewport needs) is merged into 128 ranges, with the exact test kept as a
-- filter: still through the index, still exact.
EXPLAIN (COSTS OFF) SELECT count(*) FROM markers WHERE qk <@ '{1202200110,NULL}'::quadkey[];
CREATE FUNCTION cv_plan(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line; END LOOP;
  RETURN plan;
END $$;
SELECT cardinality(quadkey_cover(48.85, 2.30, 48.87, 2.35, 18)) AS cells_at_zoom_18,
       cv_plan('SELECT count(*) FROM markers WHERE qk <@ quadkey_cover(48.85, 2.30, 48.87, 2.35, 18)')
         ~ 'BitmapOr.*Bitmap Index Scan on markers_qk_idx' AS merged_ranges_use_the_index,
       cv_plan('SELECT count(*) FROM markers WHERE qk <@ quadkey_cover(48.85, 2.30, 48.87, 2.35, 18)')
         ~ 'Filter: \(qk <@ ANY' AS exact_test_kept,
       (SELECT count(*) FROM markers WHERE qk <@ quadkey_cover(48.85, 2.30, 48.87, 2.35, 18))
         = (SELECT count(*) FROM markers m
             WHERE EXISTS (SELECT FROM unnest(quadkey_cover(48.85, 2.30, 48.87, 2.35, 18)) c
                            WHERE quadkey_parent(m.qk, 18) = c))
         AS still_right;
-- A cover of a few ranges is written out as they are.
SELECT cardinality(quadkey_cover(48.80, 2.25, 48.81, 2.26, 16)) AS cells,
       cv_plan('SELECT count(*) FROM markers WHERE qk <@ quadkey_cover(48.80, 2.25, 48.81, 2.26, 16)')
         ~ 'BitmapOr' AS rewritten;
DROP FUNCTION cv_plan;
DROP TABLE markers;
