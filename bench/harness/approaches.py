"""The approaches the benchmark runs, one small object each.

An approach turns a viewport into one SQL statement whose rows are clusters: (n, lat, lon) first,
anything after that is ignored. The scan floor is the exception: it returns one row, the count of
the viewport's rows. To add an approach, append an Approach to APPROACHES (geocluster's own go in
the marked place at the end); `requires` names SQL functions it needs, and an approach whose
functions the database lacks is skipped with a note instead of failing the run.

The baselines are written the way the seeds wrote them (see bench/README.md, "The approaches"):
  geohash_prefix  the geohash-prefix GROUP BY: bbox on the (lat, lon) btree, GROUP BY left(geohash, p)
  bigint_quadkey  the bigint quadkey schema: BETWEEN ranges of the bigint quadkey for the tiles that cover the
                   viewport, GROUP BY the cell at zoom + 2; like the seed, it returns whole tiles,
                   so its counts sum to the rows of those tiles, not of the viewport
  postgis_grid     geom && envelope on the GiST index, GROUP BY ST_SnapToGrid(geom, 60 px in deg)
  postgis_dbscan   ST_ClusterDBSCAN over the viewport, eps = 60 px in EPSG:3857 metres
                   (&& compares float4 boxes, so both PostGIS rows may hold a few points just
                   outside the viewport: their counts sum to the rows that pass &&)
  scan_floor       count(*) of the viewport's rows: no approach that reads them can be faster
and geocluster's own (at the end):
  geocluster_latlon   cluster_agg(lat, lon, zoom, 60, id) over the geohash-prefix GROUP BY's (lat, lon) bbox, with the
                      index the README recommends, (lat, lon) INCLUDE (id): index-only, like the floor
  geocluster_quadkey  cluster_agg(qk, zoom, 60, id), qk <@ quadkey_cover(viewport, zoom + 1) on the
                      qk btree AND the exact bbox (so its counts are the viewport's rows)
  geocluster_membership  geocluster_latlon plus an aggregate per cluster (max(id)) by GROUP BY
                      cluster_of(cluster_membership(...), lat, lon) over the same rows
and the floor ladder's rungs (LADDER, at the very end), run only when named.
"""

from dataclasses import dataclass, field
from typing import Callable

from . import viewports as V

DEFAULT_TIMEOUT_S = 120.0  # a safety net; DBSCAN has a tighter budget of its own
DBSCAN_BUDGET_S = 10.0


@dataclass
class Approach:
    name: str
    description: str
    sql: Callable  # (viewport, table) -> SQL text
    requires: tuple = ()  # SQL function names that must exist
    timeout_s: float = DEFAULT_TIMEOUT_S  # past this, the run counts as a timeout
    floor: bool = False  # returns the viewport's row count instead of clusters
    # Returns one row, the viewport's row count first, like the floor, but is timed against it:
    # the rungs of the floor ladder (below), which are not run unless named.
    one_row: bool = False
    # The rows the counts must add up to: None for the viewport's rows (the scan floor's count),
    # else (viewport, table) -> SQL counting them, and why they may exceed the viewport's.
    expected_rows_sql: Callable = None
    extra_rows: str = None
    params: Callable = field(default=lambda zoom: {})  # per-zoom parameters, for the report
    needs_column: str = None  # a column the dataset must have (geocluster's qk), else skipped
    max_zoom: int = None  # zooms above it are not run (geocluster_tiles keeps tiles for 0..6)
    prepare: Callable = None  # (server, conn, table, args, log) -> dict: builds what it reads, once
    # (conn, table): loads what it reads into shared buffers, after the dataset's prewarm (so that
    # the dataset does not evict it when both do not fit)
    prewarm: Callable = None
    # Not SQL: (server, conn, table, viewports by zoom, repeat, log) -> (dict for the report,
    # {(zoom, viewport index): {"samples_ms", "clusters", "counts_sum", "centres"}}), run once
    # before the SQL approaches (supercluster, in node).
    external: Callable = None
    # Returns as many rows as this other approach returns on the viewport (the result floor):
    # sql then takes (viewport, table, rows).
    rows_like: str = None
    # Its clusters are the ones whose centre lies in the viewport (supercluster's getClusters,
    # cluster_viewport), so their counts are not checked against the viewport's rows, only
    # compared ('by centre -1.2%'); their conservation is checked on the whole world instead.
    counts_by_centre: bool = False

    @property
    def counts_only(self):
        """Returns the viewport's row count, not clusters: the floor and the ladder's rungs."""
        return self.floor or self.one_row


# --- filters -------------------------------------------------------------------------------------

def _f(x):
    return repr(float(x))  # shortest text that reads back as the same double


def latlon_filter(vp):
    """The viewport on the lat and lon columns: one BETWEEN per longitude range."""
    lons = " OR ".join(f"lon BETWEEN {_f(w)} AND {_f(e)}" for w, e in vp.lon_ranges)
    return f"lat BETWEEN {_f(vp.lat_min)} AND {_f(vp.lat_max)} AND ({lons})"


def geom_filter(vp):
    """The viewport as envelopes for the GiST index: one per longitude range."""
    return " OR ".join(f"geom && ST_MakeEnvelope({_f(w)}, {_f(vp.lat_min)}, {_f(e)}, {_f(vp.lat_max)}, 4326)"
                       for w, e in vp.lon_ranges)


def quadkey_filter(vp, level):
    return " OR ".join(f"quadkey BETWEEN {lo} AND {hi}" for lo, hi in V.quadkey_cover(vp, level))


# --- the baselines -------------------------------------------------------------------------------

def scan_floor_sql(vp, table):
    return f"SELECT count(*) FROM {table} WHERE {latlon_filter(vp)}"


def geohash_sql(vp, table):
    # the geohash-prefix GROUP BY also groups by country code; the dataset has none, so the prefix alone groups.
    p = V.geohash_precision(vp.zoom)
    return (f"SELECT count(*) AS n, avg(lat) AS lat, avg(lon) AS lon FROM {table} "
            f"WHERE {latlon_filter(vp)} GROUP BY left(geohash, {p})")


def quadkey_sql(vp, table):
    level = V.quadkey_level(vp.zoom)
    cell = 4 ** (V.QUADKEY_ZOOM - level)  # the seed's mask keeps the digits down to `level`
    return (f"SELECT count(id) AS n, avg(lat) AS lat, avg(lon) AS lon, min(id) AS id FROM {table} "
            f"WHERE {quadkey_filter(vp, level)} GROUP BY quadkey / {cell}")


def quadkey_cover_rows_sql(vp, table):
    return f"SELECT count(*) FROM {table} WHERE {quadkey_filter(vp, V.quadkey_level(vp.zoom))}"


def envelope_rows_sql(vp, table):
    # && compares PostGIS' float4 bounding boxes, rounded outwards: a point up to ~1e-5 degrees
    # outside the envelope can pass. ST_Intersects would recheck exactly; && is what users write.
    return f"SELECT count(*) FROM {table} WHERE {geom_filter(vp)}"


def grid_sql(vp, table):
    # What a PostGIS user writes: snap in the data's own SRID, the cell 60 px wide in degrees of
    # longitude. (In Mercator the cells grow taller away from the equator: 1 / cos(lat).)
    return (f"SELECT count(*) AS n, avg(ST_Y(geom)) AS lat, avg(ST_X(geom)) AS lon FROM {table} "
            f"WHERE {geom_filter(vp)} GROUP BY ST_SnapToGrid(geom, {_f(V.grid_degrees(vp.zoom))})")


def dbscan_sql(vp, table):
    eps = _f(V.dbscan_eps_m(vp.zoom))
    if vp.crosses_antimeridian:
        # Move the western part one world east, so that DBSCAN sees one contiguous viewport and
        # a cluster on the line is not cut in two; then average the unwrapped longitude.
        west = "CASE WHEN ST_X(geom) < 0 THEN 1 ELSE 0 END"
        g = f"ST_Translate(ST_Transform(geom, 3857), {_f(V.EARTH_CIRCUMFERENCE_M)} * {west}, 0)"
        lon_u = f"avg(ST_X(geom) + 360 * {west})"
        lon = f"CASE WHEN {lon_u} >= 180 THEN {lon_u} - 360 ELSE {lon_u} END"
    else:
        g, lon = "ST_Transform(geom, 3857)", "avg(ST_X(geom))"
    return (f"SELECT count(*) AS n, avg(ST_Y(geom)) AS lat, {lon} AS lon FROM ("
            f"SELECT geom, ST_ClusterDBSCAN({g}, eps := {eps}, minpoints := 1) OVER () AS cid "
            f"FROM {table} WHERE {geom_filter(vp)}) AS c GROUP BY cid")


APPROACHES = [
    Approach("scan_floor", "count(*) of the viewport's rows (lat/lon bbox, the planner's best index)",
             scan_floor_sql, floor=True),
    Approach("geohash_prefix", "the geohash-prefix GROUP BY: (lat, lon) btree bbox, GROUP BY left(geohash, p)",
             geohash_sql, params=lambda z: {"precision": V.geohash_precision(z)}),
    Approach("bigint_quadkey", "the bigint quadkey schema: bigint quadkey BETWEEN tile ranges, GROUP BY cell at zoom + 2",
             quadkey_sql, expected_rows_sql=quadkey_cover_rows_sql, extra_rows="tiles",
             params=lambda z: {"level": V.quadkey_level(z)}),
    Approach("postgis_grid", "PostGIS: geom && envelope (GiST), GROUP BY ST_SnapToGrid(geom, 60 px in degrees)",
             grid_sql, expected_rows_sql=envelope_rows_sql, extra_rows="float4 boxes",
             params=lambda z: {"cell_deg": V.grid_degrees(z)}),
    Approach("postgis_dbscan", "PostGIS: ST_ClusterDBSCAN(ST_Transform(geom, 3857), eps = 60 px, minpoints 1)",
             dbscan_sql, requires=("st_clusterdbscan",), timeout_s=DBSCAN_BUDGET_S,
             expected_rows_sql=envelope_rows_sql, extra_rows="float4 boxes",
             params=lambda z: {"eps_m": V.dbscan_eps_m(z)}),
]

# --- geocluster's own approaches -----------------------------------------------------------------
# cluster_agg returns marker_cluster[] (count, lat, lon, min_lat, min_lon, max_lat, max_lon, id);
# unnest gives one row per cluster, (count, lat, lon) first as the harness reads them. Its clusters
# are measured like the baselines': counts must add up to the viewport's rows, centres are checked
# for overlap (none may overlap: the engine separates them by the radius).

GEOCLUSTER_RADIUS_PX = 60
# The cover's level for geocluster_quadkey: zoom + COVER_LEVEL_OFFSET, cells of 256 / 2 = 128 px
# (a 1280x800 viewport touches about 11x8 cells, merged into one index range per run of cells).
# Measured at 1M (3 viewports each at zooms 3, 9, 12): +1 was the fastest or within noise at every
# zoom, +2 up to 2x slower at zoom 3, +3 and +4 3-20x slower at zoom 3 (thousands of ranges).
COVER_LEVEL_OFFSET = 1


def _clusters(agg, table, where):
    return (f"SELECT c.count, c.lat, c.lon FROM (SELECT {agg} AS cs FROM {table} WHERE {where}) s, "
            f"unnest(s.cs) AS c")


def geocluster_latlon_sql(vp, table):
    return _clusters(f"cluster_agg(lat, lon, {vp.zoom}, {GEOCLUSTER_RADIUS_PX}, id)", table, latlon_filter(vp))


def quadkey_cover_sql(vp, level):
    """geocluster's cover of the viewport, one call: min_lon > max_lon crosses the antimeridian."""
    west, east = vp.lon_ranges[0][0], vp.lon_ranges[-1][1]
    return f"quadkey_cover({_f(vp.lat_min)}, {_f(west)}, {_f(vp.lat_max)}, {_f(east)}, {level})"


def geocluster_quadkey_sql(vp, table):
    # The cover finds the rows on the qk btree (the planner support turns `qk <@ cover` into one
    # index range per run of cells); the lat/lon test then drops the rows of the edge cells that
    # lie outside the viewport, so the clusters hold exactly the viewport's rows.
    level = min(29, vp.zoom + COVER_LEVEL_OFFSET)
    return _clusters(f"cluster_agg(qk, {vp.zoom}, {GEOCLUSTER_RADIUS_PX}, id)", table,
                     f"qk <@ {quadkey_cover_sql(vp, level)} AND {latlon_filter(vp)}")


# geocluster_tiles: the README's "Precomputed tiles" recipe (test/sql/include/tiles_recipe.sql) on the
# bench table: one cluster_state_agg state per tile of level zoom + 4 (16 px) for zooms 0..6,
# built once (dataset.ensure_tiles), and the viewport query merging the states of the tiles that
# cover it, the dirty-tile check included (its table is empty here: no writes during the bench).
# Like the bigint quadkey schema it returns whole tiles: its counts add up to the rows of the covering tiles.
TILES_LEVEL_OFFSET = 4
TILES_MAX_ZOOM = 6


def tiles_cover_sql(vp):
    return quadkey_cover_sql(vp, vp.zoom + TILES_LEVEL_OFFSET)


def geocluster_tiles_sql(vp, table):
    z, level = vp.zoom, vp.zoom + TILES_LEVEL_OFFSET
    return (f"WITH cover AS MATERIALIZED (SELECT unnest({tiles_cover_sql(vp)}) AS tile), "
            f"dirty AS (SELECT DISTINCT quadkey_parent(qk, {level}) AS tile FROM {table}_tiles_dirty "
            f"WHERE quadkey_parent(qk, {level}) IN (SELECT tile FROM cover)) "
            f"SELECT c.count, c.lat, c.lon FROM unnest((SELECT cluster_agg(s.state) FROM ("
            f"SELECT t.state FROM cover, LATERAL (SELECT state FROM {table}_tiles t "
            f"WHERE t.zoom = {z} AND t.tile = cover.tile OFFSET 0) t WHERE cover.tile NOT IN (SELECT tile FROM dirty) "
            f"UNION ALL SELECT cluster_state_agg(m.lat, m.lon, {z}, {GEOCLUSTER_RADIUS_PX}, m.id) "
            f"FROM dirty JOIN {table} m ON m.qk BETWEEN dirty.tile AND quadkey_range_end(dirty.tile)) s)) c")


def tiles_rows_sql(vp, table):
    level = vp.zoom + TILES_LEVEL_OFFSET
    return (f"SELECT count(*) FROM {table} WHERE quadkey_parent(qk, {level}) IN "
            f"(SELECT unnest({tiles_cover_sql(vp)}))")


def _prepare_tiles(server, conn, table, args, log):
    from . import dataset
    return dataset.ensure_tiles(conn, table, TILES_LEVEL_OFFSET, TILES_MAX_ZOOM, GEOCLUSTER_RADIUS_PX, log)


def geocluster_membership_sql(vp, table):
    # The README's "Any aggregate per cluster": cluster_agg and the membership from one pass over
    # the viewport (the two aggregates share their transition state), then a second pass that
    # groups the same rows by cluster_of and takes an aggregate per cluster (the newest id).
    z, r, f = vp.zoom, GEOCLUSTER_RADIUS_PX, latlon_filter(vp)
    return (f"WITH c AS (SELECT cluster_agg(lat, lon, {z}, {r}, id) AS cs, "
            f"cluster_membership(cluster_state_agg(lat, lon, {z}, {r}, id)) AS mb FROM {table} WHERE {f}), "
            f"p AS (SELECT cluster_of(c.mb, lat, lon) AS k, max(id) AS newest FROM c, {table} WHERE {f} GROUP BY 1) "
            f"SELECT cl.count, cl.lat, cl.lon, p.newest FROM c, unnest(c.cs) WITH ORDINALITY "
            f"AS cl(count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, k) JOIN p USING (k)")


GEOCLUSTER = [
    Approach("geocluster_latlon", "geocluster: cluster_agg(lat, lon, zoom, 60, id) over the (lat, lon) INCLUDE (id) btree bbox",
             geocluster_latlon_sql, requires=("cluster_agg",)),
    Approach("geocluster_quadkey", "geocluster: cluster_agg(qk, zoom, 60, id), qk <@ quadkey_cover(viewport, "
             "zoom + 1) on the qk btree, AND the exact lat/lon bbox",
             geocluster_quadkey_sql, requires=("cluster_agg", "quadkey_cover"), needs_column="qk",
             params=lambda z: {"cover_level": min(29, z + COVER_LEVEL_OFFSET)}),
    Approach("geocluster_membership", "geocluster: geocluster_latlon plus max(id) per cluster by GROUP BY "
             "cluster_of(cluster_membership(cluster_state_agg(...)), lat, lon) over the same rows",
             geocluster_membership_sql, requires=("cluster_agg", "cluster_membership", "cluster_of")),
    Approach("geocluster_tiles", "geocluster: cluster_agg(state) over stored per-tile states (level zoom + 4, "
             "zooms 0..6; README \"Precomputed tiles\"), dirty-tile check included",
             geocluster_tiles_sql, requires=("cluster_agg", "cluster_state_agg", "quadkey_cover"), needs_column="qk",
             expected_rows_sql=tiles_rows_sql, extra_rows="tiles", max_zoom=TILES_MAX_ZOOM, prepare=_prepare_tiles,
             params=lambda z: {"tiles_level": z + TILES_LEVEL_OFFSET}),
]
APPROACHES.extend(GEOCLUSTER)

# --- the cluster hierarchy against supercluster and the result floor (harness/hierarchy.py) ------
# geocluster_hierarchy reads a stored clustering of the whole table at every zoom (built once per
# dataset); the result floor returns as many rows of the same columns from a plain table by primary
# key range, so cluster_viewport's ratio to it is what finding its rows costs; supercluster is the
# in-process JavaScript index map clients build the same hierarchy with. `--hierarchy` runs these.


def _prepare_hierarchy(server, conn, table, args, log):
    from . import hierarchy
    return hierarchy.ensure(server, conn, table, log, rebuild=getattr(args, "rebuild_hierarchy", False))


def _prewarm_hierarchy(conn, table):
    from . import hierarchy
    hierarchy.prewarm(conn, table)


def _hierarchy_sql(vp, table):
    from . import hierarchy
    return hierarchy.viewport_sql(vp, table)


def _result_floor_sql(vp, table, rows):
    from . import hierarchy
    return hierarchy.floor_sql(vp, table, rows)


def _run_supercluster(server, conn, table, viewports_by_zoom, repeat, log):
    from . import supercluster
    return supercluster.run(server, conn, table, viewports_by_zoom, repeat, log)


HIERARCHY = [
    Approach("geocluster_hierarchy", "geocluster: cluster_viewport(hierarchy, viewport, zoom) on "
             "cluster_hierarchy_create(table, 'lat', 'lon', 'id', 60, 16), every cluster_node column",
             _hierarchy_sql, requires=("cluster_hierarchy_create", "cluster_viewport"), prepare=_prepare_hierarchy,
             prewarm=_prewarm_hierarchy, counts_by_centre=True),
    Approach("result_floor", "as many rows of cluster_node's columns as geocluster_hierarchy returns, from a "
             "plain table: WHERE pk BETWEEN a AND a + n - 1",
             _result_floor_sql, requires=("cluster_hierarchy_create", "cluster_viewport"),
             rows_like="geocluster_hierarchy"),
    Approach("supercluster", "supercluster (node, in process): getClusters([w, s, e, n], zoom) on an index of "
             "every point, {radius: 60, extent: 256, maxZoom: 16}; no round trip",
             None, external=_run_supercluster, counts_by_centre=True),
]
APPROACHES.extend(HIERARCHY)

# --- the floor ladder ----------------------------------------------------------------------------
# Where the time between the scan floor and geocluster_latlon goes, one rung at a time, each the
# previous one plus one thing. Every rung returns one row, count(*) first (so its rows are checked
# like the floor's), and is reported against the floor like any approach:
#   floor_columns        + the columns clustering reads, handed to PostgreSQL's own aggregates
#   geocluster_zoom0     + cluster_agg's per-row path on those columns, with nothing to cluster:
#                          at zoom 0 a viewport of zoom >= 9 falls in one or two 15 px bins
#   geocluster_norows    + the clustering at the viewport's zoom, its clusters counted, not returned
# and geocluster_latlon adds returning the clusters as rows. Run them by name (--approaches).


def _one_row_sql(aggregates, vp, table):
    return f"SELECT count(*), {aggregates} FROM {table} WHERE {latlon_filter(vp)}"


def _counted_clusters(zoom):
    return f"cardinality(cluster_agg(lat, lon, {zoom}, {GEOCLUSTER_RADIUS_PX}, id))"


LADDER = [
    Approach("floor_columns", "ladder: count(*), sum(lat), sum(lon), min(id) of the viewport's rows",
             lambda vp, table: _one_row_sql("sum(lat), sum(lon), min(id)", vp, table), one_row=True),
    Approach("geocluster_zoom0", "ladder: count(*), cardinality(cluster_agg(lat, lon, 0, 60, id)): "
             "the per-row path, nothing to cluster", lambda vp, table: _one_row_sql(_counted_clusters(0), vp, table),
             requires=("cluster_agg",), one_row=True),
    Approach("geocluster_norows", "ladder: count(*), cardinality(cluster_agg(lat, lon, zoom, 60, id)): "
             "the clustering, no rows returned", lambda vp, table: _one_row_sql(_counted_clusters(vp.zoom), vp, table),
             requires=("cluster_agg",), one_row=True),
]
APPROACHES.extend(LADDER)
# Run unless named: the ladder's rungs, and the hierarchy comparison's three (--hierarchy), whose
# builds take minutes at 10M.
DEFAULT_APPROACHES = [a for a in APPROACHES if not a.one_row and a not in HIERARCHY]
HIERARCHY_APPROACHES = [a.name for a in HIERARCHY]


def by_name(names):
    known = {a.name: a for a in APPROACHES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"bench: unknown approach {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[n] for n in names]


def missing_functions(conn, approach, table=None):
    with conn.cursor() as cur:
        missing = []
        if approach.needs_column and table:
            cur.execute("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s "
                        "AND NOT attisdropped", (table, approach.needs_column))
            if not cur.fetchone():
                missing.append(f"column {approach.needs_column}")
        for fn in approach.requires:
            cur.execute("SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = %s AND pg_function_is_visible(oid))",
                        (fn,))
            if not cur.fetchone()[0]:
                missing.append(fn)
        return missing
