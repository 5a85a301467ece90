#!/usr/bin/env python3
"""Property test of the stored cluster hierarchy (cluster_hierarchy_create and its query
functions), run by hierarchy_properties.sh against the server that PGHOST/PGPORT/PGUSER name.

Datasets: seeded random sets of markers (uniform world, city clumps, duplicates, a band across
the antimeridian, the poles, one or two markers), some with a partition column, and the
benchmark generator's distribution (bench/gen/markers_gen.cpp, a small size). Each gets a random
radius_px and max_zoom. Checked at every zoom (and per partition value), with formulas written
here, independently of the C++ core:

  conservation  counts add up to the positioned markers, at every zoom and per partition
  separation    no two centres of one zoom (and partition) closer than radius_px world pixels
                (256 px tiles), dx measured across the antimeridian too
  nesting       a cluster's children (cluster_children, and the nodes whose parent it is) add up
                to it and are one zoom deeper; expansion_zoom is the lowest deeper zoom with more
                than one descendant (max_zoom + 1 if none, NULL for one marker), and
                cluster_viewport at that zoom over the cluster's bounds shows more than one of
                its descendants
  centre        the count-weighted mean of the members' Web Mercator positions (members from
                cluster_leaves, paged), within 1e-9 degrees; bounds = the members' exact box
                (the shorter of the ordinary and the antimeridian-crossing box)
  viewport      cluster_viewport = the stored clusters of that zoom whose centre is in the box,
                for random boxes (across the antimeridian, longitudes out of range, fractional
                zooms, beyond max_zoom: the markers themselves)
  determinism   the same rows inserted in another order give the identical nodes table

Prints `FAIL ...` lines and `N passed, M failed` last (one per dataset x property); exits non-zero
on failure. GEOCLUSTER_HIER_SEED (default 1) and GEOCLUSTER_HIER_DATASETS (default 32) choose the
draw.
"""
import math
import os
import random
import subprocess
import sys

import psycopg2

from tally import Tally

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DB = "geocluster_hier_props"
SEED = int(os.environ.get("GEOCLUSTER_HIER_SEED", "1"))
DATASETS = int(os.environ.get("GEOCLUSTER_HIER_DATASETS", "32"))
MAX_LAT = 85.05112878

TALLY = Tally()
check = TALLY.check


# ---- Web Mercator, from its definition ---------------------------------------------------

def merc_x(lon):
    return (lon + 180.0) / 360.0


def merc_y(lat):
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    return min(1.0, max(0.0, 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)))


def lat_of_y(y):
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


# ---- datasets ------------------------------------------------------------------------------

def make_dataset(rng, k):
    kinds = ["uniform", "cities", "duplicates", "antimeridian", "poles", "tiny", "cities", "mixed"]
    kind = kinds[k % len(kinds)]
    n = rng.choice([50, 200, 600, 1500, 3000]) if kind != "tiny" else rng.choice([1, 2, 3])
    pts = []
    for i in range(n):
        if kind == "uniform":
            lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
        elif kind in ("cities", "mixed"):
            if kind == "mixed" and rng.random() < 0.3:
                lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
            else:
                c = rng.randrange(8)
                crng = random.Random(k * 100 + c)
                clat, clon, spread = crng.uniform(-60, 70), crng.uniform(-180, 180), crng.choice([0.001, 0.05, 1, 5])
                lat = max(-90, min(90, rng.gauss(clat, spread)))
                lon = ((rng.gauss(clon, spread) + 180) % 360) - 180
        elif kind == "duplicates":
            lat, lon = rng.choice([(0.0, 0.0), (51.5, -0.12), (-33.9, 151.2), (10.0, 179.999)])
        elif kind == "antimeridian":
            lat = rng.uniform(-30, 30)
            lon = rng.choice([rng.uniform(170, 180), rng.uniform(-180, -170), 180.0, -180.0])
        elif kind == "poles":
            lat = rng.choice([rng.uniform(80, 90), rng.uniform(-90, -80), 90.0, -90.0, 85.05112878])
            lon = rng.uniform(-180, 180)
        else:
            lat, lon = rng.uniform(-80, 80), rng.uniform(-180, 180)
        lat, lon = round(lat, 7), round(lon, 7)
        pts.append((i + 1, lat, lon))
    partitioned = k % 3 == 1
    radius = rng.choice([20.0, 40.0, 60.0, 60.0, 90.0, 150.0, rng.uniform(10, 200)])
    max_zoom = rng.choice([3, 6, 10, 12, 14, 16])
    return {"name": f"ds{k}_{kind}", "points": pts, "partitioned": partitioned, "radius": radius,
            "max_zoom": max_zoom, "rng": rng}


def bench_dataset(n):
    gen = os.path.join("/tmp", f"geocluster_markers_gen_{os.getpid()}")
    subprocess.run(["g++", "-std=c++17", "-O2", "-ffp-contract=off", "-o", gen,
                    os.path.join(ROOT, "bench", "gen", "markers_gen.cpp")], check=True)
    out = subprocess.run([gen, "--seed", "1", "--first", "1", "--last", str(n)], check=True,
                         capture_output=True, text=True).stdout
    os.unlink(gen)
    pts = []
    for line in out.splitlines():
        f = line.split("\t")
        pts.append((int(f[0]), float(f[1]), float(f[2])))
    return {"name": f"bench_{n}", "points": pts, "partitioned": False, "radius": 60.0, "max_zoom": 16,
            "rng": random.Random(SEED * 7 + 1)}


# ---- the checks ---------------------------------------------------------------------------

def load(cur, ds, table, order):
    cur.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    cur.execute(f"CREATE TABLE {table} (id bigint, lat float8, lon float8, cat text)")
    pts = list(ds["points"])
    if order == "reversed":
        pts.reverse()
    elif order == "shuffled":
        random.Random(SEED).shuffle(pts)
    rows = ",".join(cur.mogrify("(%s,%s,%s,%s)", (i, lat, lon, "c%d" % (i % 3) if ds["partitioned"] else None)).decode()
                    for i, lat, lon in pts)
    if rows:
        cur.execute(f"INSERT INTO {table} VALUES {rows}")
    # a few rows without a position, which are not clustered
    cur.execute(f"INSERT INTO {table} VALUES (-1, NULL, 1, 'c0'), (-2, 1, NULL, 'c1')")


def fetch_nodes(cur, h):
    cols = ("cluster_id, parent_id, zoom, count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, expansion_zoom, "
            "count_w, sx_e, sx_w, sy, min_lon_e, max_lon_e, min_lon_w, max_lon_w")
    cur.execute(f"SELECT {cols}, part FROM cluster_hierarchy_nodes(%s) n ORDER BY cluster_id", (h,))
    keys = cols.split(", ") + ["part"]
    return [dict(zip(keys, r)) for r in cur.fetchall()]


def box_of(members):
    """contract 3: the shorter of the ordinary box and the one crossing the antimeridian."""
    lats = [m[0] for m in members]
    east = [m[1] for m in members if m[1] >= 0]
    west = [m[1] for m in members if m[1] < 0]
    min_lon, max_lon = min(m[1] for m in members), max(m[1] for m in members)
    crosses = False
    if east and west:
        crosses = 360.0 - (min(east) - max(west)) < max_lon - min_lon
    if crosses:
        min_lon, max_lon = min(east), max(west)
    return min(lats), min_lon, max(lats), max_lon, crosses


def centre_of(members, crosses):
    xs = [merc_x(lon) + (1.0 if crosses and lon < 0 else 0.0) for _, lon in members]
    ys = [merc_y(lat) for lat, _ in members]
    x = math.fsum(xs) / len(xs)
    if x > 1.0:
        x -= 1.0
    return lat_of_y(math.fsum(ys) / len(ys)), x * 360.0 - 180.0


def run_dataset(conn, ds):
    name = ds["name"]
    cur = conn.cursor()
    load(cur, ds, "src", "natural")
    part_arg = ", 'cat'" if ds["partitioned"] else ""
    cur.execute(f"SELECT cluster_hierarchy_create('src', 'lat', 'lon', 'id', %s, %s{part_arg})::text",
                (ds["radius"], ds["max_zoom"]))
    h = cur.fetchone()[0]
    nodes = fetch_nodes(cur, h)
    by_id = {n["cluster_id"]: n for n in nodes}
    pos = {i: (lat, lon) for i, lat, lon in ds["points"]}
    part_of = {i: ("c%d" % (i % 3) if ds["partitioned"] else None) for i, _, _ in ds["points"]}
    max_zoom, radius = ds["max_zoom"], ds["radius"]
    parts = sorted(set(part_of.values()), key=lambda p: p or "")

    # 1. conservation, per zoom and partition
    bad = []
    for z in range(max_zoom + 1):
        for p in parts:
            want = sum(1 for i in pos if part_of[i] == p)
            got = sum(n["count"] for n in nodes if n["zoom"] == z and n["part"] == p)
            if got != want:
                bad.append(f"zoom {z} part {p}: {got} != {want}")
    check(f"{name}: conservation", not bad, "; ".join(bad[:3]))

    # 2. separation, with a grid of radius-sized cells per zoom
    bad = []
    for z in range(max_zoom + 1):
        world = 256.0 * 2 ** z
        for p in parts:
            pts = [(merc_x(n["lon"]) * world, merc_y(n["lat"]) * world, n["cluster_id"]) for n in nodes
                   if n["zoom"] == z and n["part"] == p]
            cell = max(radius, 1e-9)
            ncols = max(1, int(world // cell))
            grid = {}
            for x, y, cid in pts:
                grid.setdefault((int(x // cell) % ncols, int(y // cell)), []).append((x, y, cid))
            for (cx, cy), items in grid.items():
                for dx_c in (-1, 0, 1):
                    for dy_c in (-1, 0, 1):
                        other = grid.get(((cx + dx_c) % ncols, cy + dy_c), [])
                        for x1, y1, c1 in items:
                            for x2, y2, c2 in other:
                                if c1 >= c2:
                                    continue
                                dx = abs(x1 - x2)
                                dx = min(dx, world - dx)
                                d = math.hypot(dx, y1 - y2)
                                if d < radius * (1 - 1e-9):
                                    bad.append(f"zoom {z}: {c1} and {c2} are {d:.6f} px apart < {radius}")
            if ncols < 3 and len(pts) > 1:  # tiny worlds: every pair
                for a in range(len(pts)):
                    for b in range(a + 1, len(pts)):
                        dx = abs(pts[a][0] - pts[b][0])
                        d = math.hypot(min(dx, world - dx), pts[a][1] - pts[b][1])
                        if d < radius * (1 - 1e-9):
                            bad.append(f"zoom {z}: {pts[a][2]} and {pts[b][2]} are {d:.6f} px apart")
    check(f"{name}: separation", not bad, f"{len(bad)} pairs, e.g. " + "; ".join(sorted(set(bad))[:2]))

    # 3. nesting
    children = {}
    for n in nodes:
        if n["parent_id"] is not None:
            children.setdefault(n["parent_id"], []).append(n)
    bad = []
    for n in nodes:
        if n["zoom"] < max_zoom:
            ch = children.get(n["cluster_id"], [])
            if sum(c["count"] for c in ch) != n["count"] or any(c["zoom"] != n["zoom"] + 1 or c["part"] != n["part"] for c in ch):
                bad.append(f"{n['cluster_id']}: children do not add up")
        if (n["parent_id"] is None) != (n["zoom"] == 0):
            bad.append(f"{n['cluster_id']}: parent {n['parent_id']} at zoom {n['zoom']}")
    # cluster_children returns exactly the nodes whose parent it is (a sample, plus every zoom 0 one)
    rng = ds["rng"]
    sample = [n for n in nodes if n["zoom"] == 0] + rng.sample(nodes, min(40, len(nodes)))
    for n in sample:
        cur.execute(f"SELECT cluster_id FROM cluster_children(%s, %s)", (h, n["cluster_id"]))
        got = sorted(r[0] for r in cur.fetchall())
        want = sorted(c["cluster_id"] for c in children.get(n["cluster_id"], []))
        if got != want:
            bad.append(f"cluster_children({n['cluster_id']}) = {got[:5]}... != {want[:5]}...")

    # descendants per zoom, for expansion zooms
    def split_zoom(n):
        level = [n]
        for z in range(n["zoom"] + 1, max_zoom + 1):
            level = [c for x in level for c in children.get(x["cluster_id"], [])]
            if len(level) > 1:
                return z, level
        return max_zoom + 1, level

    for n in nodes:
        want = None if n["count"] == 1 else split_zoom(n)[0]
        if n["expansion_zoom"] != want:
            bad.append(f"{n['cluster_id']}: expansion_zoom {n['expansion_zoom']} != {want}")
    for n in sample:
        if n["count"] == 1:
            continue
        ez, level = split_zoom(n)
        cur.execute("SELECT cluster_expansion_zoom(%s, %s)", (h, n["cluster_id"]))
        if cur.fetchone()[0] != ez:
            bad.append(f"cluster_expansion_zoom({n['cluster_id']}) != {ez}")
        # zooming to the expansion zoom over the cluster's bounds shows more than one of its parts
        # (the bounds as a map shows them: clamped to the Mercator square, where centres are,
        # and a hair wider, as centres are rounded to the engine's fixed point)
        south = min(n["min_lat"], MAX_LAT) - 1e-9
        north = max(n["max_lat"], -MAX_LAT) + 1e-9
        args = [h, south, n["min_lon"] - 1e-9, north, n["max_lon"] + 1e-9, ez] + ([n["part"]] if ds["partitioned"] else [])
        cur.execute(f"SELECT cluster_id, id FROM cluster_viewport({', '.join(['%s'] * len(args))})", args)
        rows = cur.fetchall()
        if ez <= max_zoom:
            below = {c["cluster_id"] for c in level}
            shown = sum(1 for r in rows if r[0] in below)
        else:
            members = set(leaves_of(cur, h, n["cluster_id"]))
            shown = sum(1 for r in rows if r[1] in members)
        if shown < 2:
            bad.append(f"{n['cluster_id']} (count {n['count']}): at its expansion zoom {ez} its bounds show {shown} of its parts")
    check(f"{name}: nesting", not bad, f"{len(bad)} problems, e.g. " + "; ".join(bad[:2]))

    # 4. centre and bounds from the members: every node, members from the tree, and for a
    # sample also from cluster_leaves (which must give the same ids, in order)
    cur.execute("SELECT id, leaf_id FROM cluster_hierarchy_members(%s)", (h,))
    leaf_members = {}
    for i, leaf in cur.fetchall():
        leaf_members.setdefault(leaf, []).append(i)
    members_of = {}
    for n in sorted(nodes, key=lambda n: -n["zoom"]):
        if n["zoom"] == max_zoom:
            members_of[n["cluster_id"]] = sorted(leaf_members.get(n["cluster_id"], []))
        else:
            members_of[n["cluster_id"]] = sorted(i for c in children.get(n["cluster_id"], []) for i in members_of[c["cluster_id"]])
    bad = []
    for n in nodes:
        ids = members_of[n["cluster_id"]]
        if len(ids) != n["count"] or n["id"] != min(ids, default=None):
            bad.append(f"{n['cluster_id']}: {len(ids)} members for count {n['count']}, id {n['id']}")
            continue
        pts = [pos[i] for i in ids]
        min_lat, min_lon, max_lat, max_lon, crosses = box_of(pts)
        if (min_lat, min_lon, max_lat, max_lon) != (n["min_lat"], n["min_lon"], n["max_lat"], n["max_lon"]):
            bad.append(f"{n['cluster_id']}: bounds {(n['min_lat'], n['min_lon'], n['max_lat'], n['max_lon'])} != {(min_lat, min_lon, max_lat, max_lon)}")
        # the exact sums kept for later writes: fixed-point positions (2^48 per world width; y
        # from the same formula up to its last bits, so one unit per member is allowed)
        east = [p for p in pts if p[1] >= 0]
        west = [p for p in pts if p[1] < 0]
        fx = lambda lon: math.floor(merc_x(lon) * 2.0 ** 48 + 0.5)
        fy = lambda lat: math.floor(merc_y(lat) * 2.0 ** 48 + 0.5)
        inf = float("inf")
        sums_ok = (n["count_w"] == len(west)
                   and abs(int(n["sx_e"]) - sum(fx(p[1]) for p in east)) <= len(east)
                   and abs(int(n["sx_w"]) - sum(fx(p[1]) for p in west)) <= len(west)
                   and abs(int(n["sy"]) - sum(fy(p[0]) for p in pts)) <= len(pts)
                   and (n["min_lon_e"], n["max_lon_e"]) == (min((p[1] for p in east), default=inf), max((p[1] for p in east), default=-inf))
                   and (n["min_lon_w"], n["max_lon_w"]) == (min((p[1] for p in west), default=inf), max((p[1] for p in west), default=-inf)))
        if not sums_ok:
            bad.append(f"{n['cluster_id']}: sums {n['count_w'], n['sx_e'], n['sx_w'], n['sy']} do not match its members")
        lat, lon = centre_of(pts, crosses)
        dlon = abs(lon - n["lon"])
        dlon = min(dlon, 360 - dlon)
        if abs(lat - n["lat"]) > 1e-9 or dlon > 1e-9:
            bad.append(f"{n['cluster_id']}: centre ({n['lat']}, {n['lon']}) != ({lat}, {lon})")
    for n in sample:
        got = leaves_of(cur, h, n["cluster_id"])
        if got != members_of[n["cluster_id"]]:
            bad.append(f"cluster_leaves({n['cluster_id']}) differs from its members")
    check(f"{name}: centre, bounds and sums", not bad, f"{len(bad)} problems, e.g. " + "; ".join(bad[:2]))

    # 5. viewports against the nodes (and the markers beyond max_zoom)
    bad = []
    for _ in range(25):
        south = rng.uniform(-90, 90)
        north = min(90.0, south + rng.choice([0.01, 1, 20, 180]))
        west = rng.uniform(-540, 540)
        east = west + rng.choice([0.5, 10, 90, 200, 359, 400])
        if rng.random() < 0.2:
            west, east = east - 360 * rng.choice([0, 1]), west  # west > east: across 180
        zoom = rng.uniform(0, max_zoom + 2)
        p = rng.choice(parts)
        args = [h, south, west, north, east, zoom] + ([p] if ds["partitioned"] else [])
        cur.execute(f"SELECT cluster_id, id, lat, lon, count FROM cluster_viewport({', '.join(['%s'] * len(args))})", args)
        got = cur.fetchall()
        # the box runs east from west; edges included (a centre within 1e-9 degrees of an edge
        # may be in or out: the tolerance of the edges' own wrapping)
        whole = east - west >= 360
        width = (east - west) % 360
        w = ((west + 180) % 360) - 180

        def inside(lat, lon, tol):
            if not south <= lat <= north:
                return False
            if whole:
                return True
            d = (lon - w) % 360
            return tol <= d <= width - tol if tol > 0 else (d <= width - tol or d >= 360 + tol)

        def clearly_inside(lat, lon):
            return inside(lat, lon, 1e-9)

        def may_be_inside(lat, lon):
            return inside(lat, lon, -1e-9)

        z = math.floor(zoom)
        if z <= max_zoom:
            cand = [n for n in nodes if n["zoom"] == z and n["part"] == p]
            got_ids = {r[0] for r in got}
            want_must = {n["cluster_id"] for n in cand if clearly_inside(n["lat"], n["lon"])}
            want_may = {n["cluster_id"] for n in cand if may_be_inside(n["lat"], n["lon"])}
        else:
            cand = [(i, lat, lon) for i, (lat, lon) in pos.items() if part_of[i] == p]
            got_ids = {r[1] for r in got}
            want_must = {i for i, lat, lon in cand if clearly_inside(lat, lon)}
            want_may = {i for i, lat, lon in cand if may_be_inside(lat, lon)}
            if any(r[4] != 1 or r[0] is not None for r in got):
                bad.append("beyond max_zoom: a row is not a single marker")
        if not (want_must <= got_ids <= want_may) or len(got_ids) != len(got):
            bad.append(f"box ({south}, {west}, {north}, {east}) zoom {zoom} part {p}: got {len(got)}, want {len(want_must)}..{len(want_may)}")
        order = [(-r[4], -r[2], r[3]) for r in got]
        if order != sorted(order):
            bad.append(f"box ({south}, {west}, {north}, {east}) zoom {zoom}: not in order")
    check(f"{name}: viewport", not bad, f"{len(bad)} boxes, e.g. " + "; ".join(bad[:2]))

    # 6. determinism: the same rows in another order
    cur.execute(f"SELECT cluster_hierarchy_drop(%s)", (h,))
    load(cur, ds, "src", rng.choice(["reversed", "shuffled"]))
    cur.execute(f"SELECT cluster_hierarchy_create('src', 'lat', 'lon', 'id', %s, %s{part_arg})::text",
                (ds["radius"], ds["max_zoom"]))
    h2 = cur.fetchone()[0]
    again = fetch_nodes(cur, h2)
    check(f"{name}: determinism", again == nodes,
          f"{sum(1 for a, b in zip(again, nodes) if a != b)} of {len(nodes)} nodes differ ({len(again)} nodes)")
    cur.execute("SELECT cluster_hierarchy_drop(%s)", (h2,))
    cur.execute("DROP TABLE src")
    return len(nodes)


def leaves_of(cur, h, cid):
    out, off = [], 0
    while True:
        cur.execute("SELECT cluster_leaves(%s, %s, 1000, %s)", (h, cid, off))
        page = [r[0] for r in cur.fetchall()]
        out += page
        if len(page) < 1000:
            return out
        off += 1000


def main():
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    admin.cursor().execute(f"CREATE DATABASE {DB}")
    try:
        conn = psycopg2.connect(dbname=DB)
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SET client_min_messages = warning")
        cur.execute("CREATE EXTENSION geocluster")
        cur.execute("SET extra_float_digits = 3")
        rng = random.Random(SEED)
        datasets = [make_dataset(random.Random(rng.random()), k) for k in range(DATASETS)]
        datasets.append(bench_dataset(int(os.environ.get("GEOCLUSTER_HIER_BENCH_ROWS", "20000"))))
        for ds in datasets:
            before = TALLY.passed + TALLY.failed
            try:
                n = run_dataset(conn, ds)
                print(f"{ds['name']}: {len(ds['points'])} markers, radius {ds['radius']:.1f} px, "
                      f"max_zoom {ds['max_zoom']}{', partitioned' if ds['partitioned'] else ''}: {n} nodes, "
                      f"{TALLY.passed + TALLY.failed - before} checks", flush=True)
            except psycopg2.Error as e:
                check(f"{ds['name']}: runs", False, str(e).strip())
                cur.execute("""DO $$ DECLARE r record; BEGIN
                    FOR r IN SELECT oid::regclass AS t FROM pg_class WHERE relname ~ '^src' AND relkind = 'r' LOOP
                        EXECUTE format('DROP TABLE IF EXISTS %s CASCADE', r.t);
                    END LOOP; END $$""")
        conn.close()
    finally:
        if not os.environ.get("GEOCLUSTER_HIER_KEEP"):
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    return TALLY.done()


if __name__ == "__main__":
    sys.exit(main())
