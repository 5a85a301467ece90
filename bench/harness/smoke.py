"""bench/run --smoke: the harness checks itself on 10k markers and one zoom, on a throwaway cluster
(or --pghost). Prints one line, `bench smoke: ok` or `bench smoke: FAILED: ...`, and exits 0 or 1.

What it asserts:
  - the generator's self-test (the bigint quadkey schema's quadkey test vector, the geohash-prefix GROUP BY's geohash example, its math);
  - the same seed gives byte-identical output, any id range alone gives the same rows, and two
    builds of the dataset have the same fingerprint; another seed gives other data;
  - every row's geohash equals PostGIS' ST_GeoHash, its quadkey names a zoom-23 tile whose
    ST_TileEnvelope holds the point, lat/lon equal the geometry;
  - the bigint quadkey schema's tile cover holds every point of a viewport, at zooms 3 to 15, across the antimeridian;
  - the overlap share agrees with a brute-force count, across the antimeridian too;
  - the full harness at zoom 3: every approach runs within its budget, returns clusters whose counts
    add up (to the viewport's rows, or to the rows it says it covers: the bigint quadkey schema's tiles, the rows
    that pass PostGIS' &&), some viewport crosses the antimeridian, the report and the JSON/CSV
    files come out;
  - when the server has the geocluster extension: its rows (geocluster_latlon, geocluster_quadkey
    on the qk column the build adds) run, their counts equal the viewport's rows, 0% overlap;
  - supercluster (node, bench/supercluster; `npm ci` first when node_modules is missing) runs, and
    its zoom-0 world query holds every marker; when the extension has the cluster hierarchy,
    geocluster_hierarchy and result_floor run too: every zoom's nodes over the whole world add up
    to the markers, no two clusters of a viewport overlap, and the floor returns as many rows.
"""

import copy
import csv
import hashlib
import json
import os
import subprocess
import tempfile

from . import approaches as A
from . import dataset, report
from . import viewports as V
from .runner import SplitMix64

SMOKE_MARKERS = 10_000
SMOKE_ZOOM = 3
BASELINES = ["scan_floor", "geohash_prefix", "bigint_quadkey", "postgis_grid", "postgis_dbscan"]
# geocluster's own rows: required whenever the server has the extension (the test command installs
# it first); their clusters must not overlap at all.
GEOCLUSTER = ["geocluster_latlon", "geocluster_quadkey"]
# The floor ladder's rungs (approaches.LADDER), run by name: one row each, the count checked.
LADDER_BASE = ["floor_columns"]
LADDER_GEOCLUSTER = ["geocluster_zoom0", "geocluster_norows"]
# The cluster hierarchy comparison (approaches.HIERARCHY): supercluster always (node), the other
# two when the extension has cluster_hierarchy_create.
SUPERCLUSTER = ["supercluster"]
HIERARCHY = ["geocluster_hierarchy", "result_floor"]


class Failure(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Failure(what)


def _stream_md5(exe, seed, first, last):
    out = subprocess.run([exe, "--seed", str(seed), "--first", str(first), "--last", str(last)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    return hashlib.md5(out).hexdigest(), out


def check_generator(exe, seed):
    ok, msg = dataset.selftest(exe)
    check(ok, f"generator self-test: {msg}")
    md5_a, whole = _stream_md5(exe, seed, 1, SMOKE_MARKERS)
    md5_b, _ = _stream_md5(exe, seed, 1, SMOKE_MARKERS)
    check(md5_a == md5_b, "two generations with the same seed differ")
    _, head = _stream_md5(exe, seed, 1, 4321)
    _, tail = _stream_md5(exe, seed, 4322, SMOKE_MARKERS)
    check(head + tail == whole, "rows generated in two id ranges differ from one generation")
    md5_other, _ = _stream_md5(exe, seed + 1, 1, SMOKE_MARKERS)
    check(md5_other != md5_a, "another seed gives the same data")
    return md5_a


def check_cover(seed):
    """Points drawn inside viewports fall in the bigint quadkey schema's cover ranges (pure Python, no server)."""
    rng = SplitMix64(seed)
    for zoom in range(3, 16):
        level = V.quadkey_level(zoom)
        for k in range(20):
            lat = rng.next() / 2**64 * 170 - 85
            lon = 179.99 if k == 0 else rng.next() / 2**64 * 360 - 180
            vp = V.viewport_around(zoom, "test", 0, lat, lon, cross_antimeridian=(k == 0))
            check(k != 0 or vp.crosses_antimeridian, f"zoom {zoom}: antimeridian viewport does not cross")
            ranges = V.quadkey_cover(vp, level)
            for _ in range(30):
                w, e = vp.lon_ranges[rng.below(len(vp.lon_ranges))]
                plon = w + (e - w) * (rng.next() / 2**64)
                plat = vp.lat_min + (vp.lat_max - vp.lat_min) * (rng.next() / 2**64)
                q = V.quadkey_of_tile(V.tile_x(plon, 23), V.tile_y(plat, 23), 23)
                check(any(lo <= q <= hi for lo, hi in ranges),
                      f"zoom {zoom}: point {plat},{plon} outside the bigint quadkey schema's cover of its viewport")


def check_overlap(seed):
    """The bucketed overlap count equals a brute-force one, wrapping across the antimeridian."""
    rng = SplitMix64(seed + 7)
    for zoom in (3, 9, 15):
        w = V.world_px(zoom)
        centres = []
        for _ in range(300):
            x = (w - 200 + rng.below(400)) % w if rng.below(3) == 0 else rng.below(3000)
            y = w / 2 + rng.below(2000)
            centres.append((V.y_to_lat(y, zoom), V.x_to_lon(x, zoom)))
        pts = [(V.lon_to_x(lon, zoom) % w, V.lat_to_y(lat, zoom)) for lat, lon in centres]
        brute = sum(any(min(abs(a[0] - b[0]), w - abs(a[0] - b[0])) ** 2 + (a[1] - b[1]) ** 2 < V.CLUSTER_PX ** 2
                        for j, b in enumerate(pts) if j != i) for i, a in enumerate(pts))
        got, total = V.overlapping_share(centres, zoom)
        check(total == len(centres) and got == brute, f"zoom {zoom}: overlap {got}, brute force {brute}")


def check_oracles(conn, table):
    with conn.cursor() as cur:
        cur.execute(f"""SELECT count(*) FILTER (WHERE geohash <> ST_GeoHash(geom, 12)),
                               count(*) FILTER (WHERE lat <> ST_Y(geom) OR lon <> ST_X(geom)),
                               count(*) FILTER (WHERE lon < -180 OR lon >= 180 OR lat < -90 OR lat > 90)
                        FROM {table}""")
        bad_geohash, bad_geom, bad_range = cur.fetchone()
        check(bad_geohash == 0, f"{bad_geohash} geohashes differ from ST_GeoHash(geom, 12)")
        check(bad_geom == 0, f"{bad_geom} rows have lat/lon unlike their geometry")
        check(bad_range == 0, f"{bad_range} rows outside lon [-180, 180), lat [-90, 90]")
        # The quadkey's tile (digits de-interleaved) holds the point, within half a zoom-23 pixel
        # (the seed rounds pixels before dividing by 256) and with latitude clamped as the seed does.
        cur.execute(f"""SELECT count(*) FROM (
                          SELECT geom, lat, lon,
                                 (SELECT sum(((quadkey >> (2 * i)) & 1) << i) FROM generate_series(0, 22) i)::int AS tx,
                                 (SELECT sum(((quadkey >> (2 * i + 1)) & 1) << i) FROM generate_series(0, 22) i)::int AS ty
                          FROM {table}) d
                        WHERE NOT ST_Intersects(ST_Expand(ST_TileEnvelope(23, tx, ty), 0.02),
                                                ST_Transform(ST_SetSRID(ST_MakePoint(lon,
                                                    greatest(-85.05112878, least(85.05112878, lat))), 4326), 3857))""")
        bad_quadkey = cur.fetchone()[0]
        check(bad_quadkey == 0, f"{bad_quadkey} quadkeys name a tile that does not hold the point")
        cur.execute(f"SELECT count(*) FILTER (WHERE abs(lon) > 179.5), count(*) FILTER (WHERE abs(lat) > 85.05112878), "
                    f"count(*) - count(DISTINCT (lat, lon)) FROM {table}")
        near_line, beyond_mercator, duplicates = cur.fetchone()
        check(near_line > 0 and beyond_mercator > 0 and duplicates > 0,
              f"dataset lacks the hard cases: {near_line} rows near lon 180, {beyond_mercator} beyond "
              f"lat 85.05, {duplicates} exact duplicates")


def check_results(meta, results, floors, approaches_run):
    check(len(results) == 1, "expected the results of one zoom")
    z = results[0]
    check(z["crossing_viewports"] >= 1, "no viewport crosses the antimeridian")
    check(set(z["approaches"]) == set(approaches_run), f"approaches run: {sorted(z['approaches'])}")
    check(min(z["viewport_rows"]) > 0, "a viewport holds no rows")
    for name, s in z["approaches"].items():
        check(s["timeouts"] == 0 and s["skipped"] == 0, f"{name} timed out on 10k markers")
        if s["counts_by_centre"]:  # supercluster, the hierarchy: checked on the whole world below
            check(s["counts_ok"] is None and s["rows_vs_viewport"] is not None, f"{name}: no counts")
        else:
            check(s["counts_ok"] is True, f"{name}: counts do not add up to the rows they cover")
        check(s["median_ms"] is not None and s["median_ms"] > 0, f"{name}: no latency measured")
        if name not in floors and name not in LADDER_BASE + LADDER_GEOCLUSTER + ["result_floor"]:
            check(s["clusters_median"] > 0, f"{name}: no clusters")
            check(0.0 <= s["overlap_share"] <= 1.0, f"{name}: overlap share {s['overlap_share']}")
            check(s["counts_by_centre"] or s["rows_vs_viewport"] >= 0.0,
                  f"{name}: covers fewer rows than the viewport holds")
            if not s["extra_rows"] and not s["counts_by_centre"]:
                check(s["rows_vs_viewport"] == 0.0, f"{name}: counts differ from the viewport's rows")
            if name in GEOCLUSTER + ["geocluster_hierarchy"]:
                check(s["overlap_share"] == 0.0, f"{name}: {s['overlap_share']:.1%} of its clusters overlap")
    sc = meta["prepared"].get("supercluster")
    if sc:
        check(sc["world_counts_sum"] == sc["points"] == SMOKE_MARKERS,
              f"supercluster: the world at zoom 0 holds {sc['world_counts_sum']} of {sc['points']} points")
        check(sc["build_ms"] > 0 and sc["peak_rss_bytes"] > 0, "supercluster: no build time or memory")
    h = meta["prepared"].get("geocluster_hierarchy")
    if h:
        check(h["world_counts_ok"] and h["rows"] == SMOKE_MARKERS,
              f"geocluster_hierarchy: zooms whose nodes do not add up to {h['rows']} markers: {h['world_counts_bad']}")
        check(h["build_s"] > 0 and h["bytes"] > 0, "geocluster_hierarchy: no build time or size")
        check("cluster hierarchy" in report.render(meta, results, floors), "the report lacks the hierarchy section")
    text = report.render(meta, results, floors)
    check(all(n in text for n in approaches_run), "the report lacks an approach")
    with tempfile.TemporaryDirectory() as tmp:
        j, c = report.write(os.path.join(tmp, "smoke.json"), meta, results)
        with open(j) as f:
            check(json.load(f)["results"][0]["zoom"] == SMOKE_ZOOM, "the JSON result is unreadable")
        with open(c) as f:
            check(len(list(csv.DictReader(f))) == len(approaches_run), "the CSV result lacks rows")


def main(args, make_server, benchmark, log):
    quiet = lambda msg: None  # noqa: E731  (the smoke run prints one line)
    try:
        exe, _ = dataset.generator_binary(quiet)
        stream_md5 = check_generator(exe, args.seed)
        check_cover(args.seed)
        check_overlap(args.seed)
        with make_server(args, mode="throwaway") as srv:
            a = dataset.ensure(srv, SMOKE_MARKERS, args.seed, quiet, rebuild=True)
            b = dataset.ensure(srv, SMOKE_MARKERS, args.seed, quiet, rebuild=True,
                               table=dataset.table_name(SMOKE_MARKERS, args.seed) + "_again")
            check(a["stream_md5"] == stream_md5, "the loaded stream differs from the generator's output")
            check(a["stream_md5"] == b["stream_md5"] and a["fingerprint"] == b["fingerprint"],
                  f"two builds with the same seed differ: {a['fingerprint']} vs {b['fingerprint']}")
            conn = srv.connect()
            check_oracles(conn, a["table_name"])
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'geocluster'")
                has_ext = cur.fetchone() is not None
                cur.execute("SELECT to_regproc('cluster_hierarchy_create') IS NOT NULL")
                has_hierarchy = has_ext and cur.fetchone()[0]
            expected = (BASELINES + LADDER_BASE + SUPERCLUSTER + (GEOCLUSTER + LADDER_GEOCLUSTER if has_ext else [])
                        + (HIERARCHY if has_hierarchy else []))
            conn.close()
            smoke_args = copy.copy(args)
            smoke_args.approaches = ",".join(a.name for a in A.APPROACHES)  # the ladder's rungs too
            smoke_args.zooms, smoke_args.viewports, smoke_args.repeat = [SMOKE_ZOOM], 4, 1
            meta, results, floors = benchmark(srv, smoke_args, a, quiet)
        run = list(meta["workload"]["approaches"])
        missing = [n for n in expected if n not in run]
        check(not missing, f"approaches not run: {', '.join(missing)} ({'; '.join(meta['notes'])})")
        check_results(meta, results, floors, run)
    except Failure as e:
        print(f"bench smoke: FAILED: {e}", flush=True)
        return 1
    except Exception as e:  # a crash is a failure too, with its reason on the one line
        print(f"bench smoke: FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print(f"bench smoke: ok ({SMOKE_MARKERS:,} markers, zoom {SMOKE_ZOOM}, "
          f"{len(meta['workload']['approaches'])} approaches, fingerprint {a['fingerprint']})", flush=True)
    return 0
