-- Viewport covers: every cell of one level that a lat/lon box touches (src/core/cover.hpp).
-- A point inside the box, edges included, always lies in a cell of the cover, and every cover
-- cell holds some point of the box. min_lon > max_lon is a box across the antimeridian
-- ([min_lon, 180] and [-180, max_lon]). Quadkey boxes are clamped to the Web Mercator
-- latitude limit, as the points are. A cover of more than 1,000,000 cells is refused
-- (SQLSTATE 54000) before anything is allocated: use a coarser level.
--
-- The README's "viewport" section shows how to query with them so that an index is used.

CREATE FUNCTION @extschema@.quadkey_cover(min_lat float8, min_lon float8, max_lat float8, max_lon float8, zoom int)
    RETURNS @extschema@.quadkey[]
    AS 'MODULE_PATHNAME', 'quadkey_cover' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quadkey_cover(float8, float8, float8, float8, int) IS
    'the tiles at zoom that the box touches, ascending; min_lon > max_lon crosses the antimeridian';

CREATE FUNCTION @extschema@.geohash_cover(min_lat float8, min_lon float8, max_lat float8, max_lon float8, "precision" int)
    RETURNS @extschema@.geohash[]
    AS 'MODULE_PATHNAME', 'geohash_cover' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.geohash_cover(float8, float8, float8, float8, int) IS
    'the geohash cells of that precision that the box touches, ascending; min_lon > max_lon crosses the antimeridian';

-- The same covers merged into code ranges: consecutive cover cells share one range
-- [first cell, last descendant of the last cell]. A range holds the descendants of its cells
-- and, between them, only coarser cells that contain one of them, so on a column whose values
-- all have the cover's level or a finer one, `col BETWEEN lo AND hi` over the ranges finds
-- exactly the rows that `col <@ ANY (cover)` finds, in fewer index descents.
CREATE FUNCTION @extschema@.quadkey_cover_ranges(min_lat float8, min_lon float8, max_lat float8, max_lon float8,
        zoom int, OUT lo @extschema@.quadkey, OUT hi @extschema@.quadkey)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'quadkey_cover_ranges' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 12;
COMMENT ON FUNCTION @extschema@.quadkey_cover_ranges(float8, float8, float8, float8, int) IS
    'quadkey_cover merged into ascending code ranges [lo, hi]';

CREATE FUNCTION @extschema@.geohash_cover_ranges(min_lat float8, min_lon float8, max_lat float8, max_lon float8,
        "precision" int, OUT lo @extschema@.geohash, OUT hi @extschema@.geohash)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'geohash_cover_ranges' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 12;
COMMENT ON FUNCTION @extschema@.geohash_cover_ranges(float8, float8, float8, float8, int) IS
    'geohash_cover merged into ascending code ranges [lo, hi]';

-- cell <@ cells: the cell lies inside one of the cells (as `cell <@ ANY (cells)`, NULL
-- elements included). Written against a constant cover it is the viewport query that every
-- index of the column serves: the planner support (41_planner_cover.sql) turns
-- `col <@ quadkey_cover(...)` into the OR of the cover's exact code ranges, one index range
-- scan each (README, "Viewport queries").
CREATE FUNCTION @extschema@.quadkey_contained_any(@extschema@.quadkey, @extschema@.quadkey[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quadkey_contained_any' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR @extschema@.<@ (
    LEFTARG = @extschema@.quadkey, RIGHTARG = @extschema@.quadkey[], FUNCTION = @extschema@.quadkey_contained_any,
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);
COMMENT ON OPERATOR @extschema@.<@ (@extschema@.quadkey, @extschema@.quadkey[]) IS
    'is inside one of the cells';

-- The geohash twin of the quadkey declarations above (SQL has no generic types).
CREATE FUNCTION @extschema@.geohash_contained_any(@extschema@.geohash, @extschema@.geohash[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'geohash_contained_any' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR @extschema@.<@ (
    LEFTARG = @extschema@.geohash, RIGHTARG = @extschema@.geohash[], FUNCTION = @extschema@.geohash_contained_any,
    RESTRICT = pg_catalog.matchingsel, JOIN = pg_catalog.matchingjoinsel);
COMMENT ON OPERATOR @extschema@.<@ (@extschema@.geohash, @extschema@.geohash[]) IS
    'is inside one of the cells';
