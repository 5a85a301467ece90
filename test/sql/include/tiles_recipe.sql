-- Precomputed tiles: one clustering state per map tile for the world zooms 0..6, kept exact
-- under writes. The tiles are quadkeys of level zoom + 4 (16 px at that zoom). It assumes the
-- markers table above: id, lat, lon, and qk, their quadkey of a level of 10 or more. Its
-- functions run with the caller's search_path: pg_catalog's functions and operators are named
-- with their schema, and geocluster's get arguments of exactly their types (60::double
-- precision for a radius), so that nothing another user creates in public can take a call.
CREATE TABLE marker_tiles (
    zoom  int NOT NULL,
    tile  quadkey NOT NULL,
    state bytea NOT NULL,
    PRIMARY KEY (zoom, tile)
);
INSERT INTO marker_tiles
SELECT z, quadkey_parent(qk, z + 4), cluster_state_agg(lat, lon, z, 60, id)
  FROM markers, generate_series(0, 6) AS z
 GROUP BY 1, 2;

-- Writes mark the positions they touch; until the next refresh, the tiles of those positions
-- are clustered from their rows instead of their stored states.
CREATE TABLE marker_tiles_dirty (qk quadkey NOT NULL);
CREATE FUNCTION marker_tiles_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'DELETE'::pg_catalog.text THEN
        INSERT INTO marker_tiles_dirty SELECT qk FROM new_rows;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.<>) 'INSERT'::pg_catalog.text THEN
        INSERT INTO marker_tiles_dirty SELECT qk FROM old_rows;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER marker_tiles_insert AFTER INSERT ON markers REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marker_tiles_mark();
CREATE TRIGGER marker_tiles_update AFTER UPDATE ON markers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marker_tiles_mark();
CREATE TRIGGER marker_tiles_delete AFTER DELETE ON markers REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION marker_tiles_mark();

-- The clusters of every marker in the tiles that cover a viewport (zoom 0..6): stored states
-- for the clean tiles, rows for the dirty ones. One index probe per cover tile: OFFSET 0 keeps
-- the planner from turning the probes into a scan of every tile of the zoom.
CREATE FUNCTION marker_tile_clusters(south float8, west float8, north float8, east float8, z int)
RETURNS SETOF marker_cluster LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH cover AS MATERIALIZED (
        SELECT pg_catalog.unnest(quadkey_cover(south, west, north, east, z OPERATOR(pg_catalog.+) 4)) AS tile),
    dirty AS (
        SELECT DISTINCT quadkey_parent(qk, z OPERATOR(pg_catalog.+) 4) AS tile FROM marker_tiles_dirty
         WHERE quadkey_parent(qk, z OPERATOR(pg_catalog.+) 4) IN (SELECT tile FROM cover))
    SELECT c.* FROM pg_catalog.unnest((
        SELECT cluster_agg(s.state) FROM (
            SELECT t.state FROM cover, LATERAL (
                SELECT state FROM marker_tiles t
                 WHERE t.zoom OPERATOR(pg_catalog.=) z AND t.tile = cover.tile OFFSET 0) t
             WHERE cover.tile NOT IN (SELECT tile FROM dirty)
            UNION ALL
            SELECT cluster_state_agg(m.lat, m.lon, z, 60::double precision, m.id)
              FROM dirty JOIN markers m ON m.qk BETWEEN dirty.tile AND quadkey_range_end(dirty.tile)
        ) s)) c
$$;

-- Recomputes the dirty tiles, in one statement (one snapshot): the marks it deletes are exactly
-- those of the writes its snapshot sees, and marks of later writes stay. Returns the number of
-- tiles rewritten (emptied ones, deleted, are not counted). Run it from cron or a worker; concurrent calls queue on the advisory lock.
CREATE FUNCTION marker_tiles_refresh() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock('marker_tiles'::regclass::oid::bigint);
    WITH marks AS (DELETE FROM marker_tiles_dirty RETURNING qk),
    tiles AS (SELECT DISTINCT z, quadkey_parent(qk, z OPERATOR(pg_catalog.+) 4) AS tile
                FROM marks, pg_catalog.generate_series(0, 6) AS z),
    fresh AS (
        SELECT tiles.z, tiles.tile, s.state FROM tiles, LATERAL (
            SELECT cluster_state_agg(m.lat, m.lon, tiles.z, 60::double precision, m.id) AS state FROM markers m
             WHERE m.qk BETWEEN tiles.tile AND quadkey_range_end(tiles.tile)) s),
    emptied AS (DELETE FROM marker_tiles t USING fresh f
                 WHERE t.zoom OPERATOR(pg_catalog.=) f.z AND t.tile = f.tile AND f.state IS NULL)
    INSERT INTO marker_tiles SELECT z, tile, state FROM fresh WHERE state IS NOT NULL
        ON CONFLICT (zoom, tile) DO UPDATE SET state = EXCLUDED.state;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
