#!/usr/bin/env python3
"""The independent checks of a stored cluster hierarchy's guarantees, shared by the suites that
build hierarchies (hierarchy_properties.py), write to their sources (hierarchy_writes.py) and
the TAP tests (test/t/063_hierarchy_writes.pl runs this file as a command). The formulas are
written here, independently of the C++ core; the truth is the source table's rows as the
checking session sees them (or the dataset the caller loaded, when it passes one).

  conservation  counts add up to the positioned rows, at every zoom and per partition value
  separation    no two centres of one zoom (and partition) closer than radius_px world pixels
                (256 px tiles), dx measured across the antimeridian too
  nesting       a cluster's children (cluster_children, and the nodes whose parent it is) add up
                to it and are one zoom deeper; expansion_zoom is the lowest deeper zoom with more
                than one descendant (max_zoom + 1 if none, NULL for one marker), and
                cluster_viewport at that zoom over the cluster's bounds shows more than one of
                its descendants
  centre        the count-weighted mean of the members' Web Mercator positions (members from
                cluster_leaves, paged), within 1e-9 degrees; bounds = the members' exact box
                (the shorter of the ordinary and the antimeridian-crossing box); min id; the
                exact sums kept for writes
  viewport      cluster_viewport = the stored clusters of that zoom whose centre is in the box,
                for random boxes (across the antimeridian, longitudes out of range, fractional
                zooms, beyond max_zoom: the markers themselves)

As a command: hierarchy_checks.py DSN HIERARCHY [--fresh] checks one hierarchy against its
source's rows (--fresh: also compares its clusters per zoom with a fresh build of the same rows,
reported, not asserted) and prints `N passed, M failed` last.
"""
import math
import os
import random
import subprocess
import sys

from tally import Tally

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAX_LAT = 85.05112878


# ---- Web Mercator, from its definition ---------------------------------------------------

def merc_x(lon):
    return (lon + 180.0) / 360.0


def merc_y(lat):
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    return min(1.0, max(0.0, 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)))


def lat_of_y(y):
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


def bench_points(n, seed=1):
    """The first n markers of the benchmark generator's distribution (bench/gen/markers_gen.cpp):
    a list of (id, lat, lon)."""
    gen = os.path.join("/tmp", f"geocluster_markers_gen_{os.getpid()}")
    subprocess.run(["g++", "-std=c++17", "-O2", "-ffp-contract=off", "-o", gen,
                    os.path.join(ROOT, "bench", "gen", "markers_gen.cpp")], check=True)
    out = subprocess.run([gen, "--seed", str(seed), "--first", "1", "--last", str(n)], check=True,
                         capture_output=True, text=True).stdout
    os.unlink(gen)
    pts = []
    for line in out.splitlines():
        f = line.split("\t")
        pts.append((int(f[0]), float(f[1]), float(f[2])))
    return pts


# ---- what the server holds -----------------------------------------------------------------

def fetch_nodes(cur, h):
    cols = ("cluster_id, parent_id, zoom, count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, expansion_zoom, "
            "count_w, sx_e, sx_w, sy, min_lon_e, max_lon_e, min_lon_w, max_lon_w")
    cur.execute(f"SELECT {cols}, part FROM cluster_hierarchy_nodes(%s) n ORDER BY cluster_id", (h,))
    keys = cols.split(", ") + ["part"]
    return [dict(zip(keys, r)) for r in cur.fetchall()]


def hierarchy_info(cur, h):
    """(source, lat, lon, id, partition column or None, radius_px, max_zoom) of hierarchy h."""
    cur.execute("SELECT source::text, lat_column, lon_column, id_column, partition_column, radius_px, max_zoom "
                "FROM cluster_hierarchy_info(%s)", (h,))
    return cur.fetchone()


def source_rows(cur, h):
    """The rows the hierarchy must hold, as this session sees them: ({id: (lat, lon)}, {id: part})
    of the positioned rows (and, when partitioned, with a partition value), read the way the
    build reads them (float8 positions; the partition value's text form)."""
    source, lat, lon, id_col, part, _, _ = hierarchy_info(cur, h)
    q = '"{}"'.format
    part_expr = f"{q(part)}::text" if part else "NULL::text"
    where = f"{q(lat)} IS NOT NULL AND {q(lon)} IS NOT NULL" + (f" AND {q(part)} IS NOT NULL" if part else "")
    cur.execute(f"SELECT {q(id_col)}::int8, {q(lat)}::float8, {q(lon)}::float8, {part_expr} FROM {source} WHERE {where}")
    pos, part_of = {}, {}
    for i, la, lo, p in cur.fetchall():
        pos[i] = (la, lo)
        part_of[i] = p
    return pos, part_of


def counts_per_zoom(nodes):
    out = {}
    for n in nodes:
        out[n["zoom"]] = out.get(n["zoom"], 0) + 1
    return out


def fresh_counts(cur, h):
    """The clusters per zoom of a fresh build of the rows this session sees: a second hierarchy
    of the same source and parameters, created now and dropped again (the caller's transaction,
    if any, holds both)."""
    source, lat, lon, id_col, part, radius, max_zoom = hierarchy_info(cur, h)
    cur.execute("SELECT cluster_hierarchy_create(%s, %s, %s, %s, %s, %s, %s)::text",
                (source, lat, lon, id_col, radius, max_zoom, part))
    h2 = cur.fetchone()[0]
    cur.execute("SELECT zoom, count(*) FROM cluster_hierarchy_nodes(%s) GROUP BY zoom", (h2,))
    out = dict(cur.fetchall())
    cur.execute("SELECT cluster_hierarchy_drop(%s)", (h2,))
    return out


def drift_line(counts, fresh, max_zoom):
    """One line: clusters per zoom after the writes / in a fresh build, and the ratio of all."""
    a = sum(counts.values())
    b = sum(fresh.values())
    per_zoom = " ".join(f"{counts.get(z, 0)}/{fresh.get(z, 0)}" for z in range(max_zoom + 1))
    return f"clusters per zoom, maintained/fresh: {per_zoom}; all {a}/{b} = {a / b if b else float('nan'):.3f}"


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


def leaves_of(cur, h, cid):
    out, off = [], 0
    while True:
        cur.execute("SELECT cluster_leaves(%s, %s, 1000, %s)", (h, cid, off))
        page = [r[0] for r in cur.fetchall()]
        out += page
        if len(page) < 1000:
            return out
        off += 1000


class Context:
    """One check of one hierarchy: its nodes, the truth (pos, part_of) and the draw."""

    def __init__(self, cur, h, name, check, rng, pos, part_of, sample, boxes):
        _, _, _, _, part, radius, max_zoom = hierarchy_info(cur, h)
        self.cur, self.h, self.name, self.check, self.rng = cur, h, name, check, rng
        self.partitioned, self.radius, self.max_zoom = part is not None, radius, max_zoom
        self.pos, self.part_of = pos, part_of
        self.parts = sorted(set(part_of.values()), key=lambda p: p or "")
        self.nodes = fetch_nodes(cur, h)
        self.children = {}
        for n in self.nodes:
            if n["parent_id"] is not None:
                self.children.setdefault(n["parent_id"], []).append(n)
        self.sample = [n for n in self.nodes if n["zoom"] == 0] + rng.sample(self.nodes, min(sample, len(self.nodes)))
        self.boxes = boxes

    def split_zoom(self, n):
        """The lowest zoom below n with more than one descendant, and those descendants."""
        level = [n]
        for z in range(n["zoom"] + 1, self.max_zoom + 1):
            level = [c for x in level for c in self.children.get(x["cluster_id"], [])]
            if len(level) > 1:
                return z, level
        return self.max_zoom + 1, level


def check_hierarchy(cur, h, name, check, rng, pos=None, part_of=None, sample=40, boxes=25):
    """Every guarantee of hierarchy h against pos/part_of (by default the source's rows as cur's
    session sees them now). One check per property, named `<name>: <property>`. Returns the
    nodes."""
    if pos is None:
        pos, part_of = source_rows(cur, h)
    ctx = Context(cur, h, name, check, rng, pos, part_of, sample, boxes)
    for f in (check_conservation, check_separation, check_nesting, check_centres, check_viewports):
        f(ctx)
    return ctx.nodes


def check_conservation(ctx):
    """1. counts add up to the table's positioned rows, per zoom and partition."""
    cur, h, name, nodes, pos, part_of, parts = ctx.cur, ctx.h, ctx.name, ctx.nodes, ctx.pos, ctx.part_of, ctx.parts
    max_zoom, radius, children, sample, check = ctx.max_zoom, ctx.radius, ctx.children, ctx.sample, ctx.check
    # 1. conservation, per zoom and partition
    bad = []
    for z in range(max_zoom + 1):
        for p in parts:
            want = sum(1 for i in pos if part_of[i] == p)
            got = sum(n["count"] for n in nodes if n["zoom"] == z and n["part"] == p)
            if got != want:
                bad.append(f"zoom {z} part {p}: {got} != {want}")
    check(f"{name}: conservation", not bad, "; ".join(bad[:3]))


def check_separation(ctx):
    """2. no two centres of one zoom and partition closer than radius_px world pixels."""
    cur, h, name, nodes, pos, part_of, parts = ctx.cur, ctx.h, ctx.name, ctx.nodes, ctx.pos, ctx.part_of, ctx.parts
    max_zoom, radius, children, sample, check = ctx.max_zoom, ctx.radius, ctx.children, ctx.sample, ctx.check
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


def check_nesting(ctx):
    """3. children add up to their parent, one zoom deeper; expansion zooms."""
    cur, h, name, nodes, pos, part_of, parts = ctx.cur, ctx.h, ctx.name, ctx.nodes, ctx.pos, ctx.part_of, ctx.parts
    max_zoom, radius, children, sample, check = ctx.max_zoom, ctx.radius, ctx.children, ctx.sample, ctx.check
    # 3. nesting
    bad = []
    for n in nodes:
        if n["zoom"] < max_zoom:
            ch = children.get(n["cluster_id"], [])
            if sum(c["count"] for c in ch) != n["count"] or any(c["zoom"] != n["zoom"] + 1 or c["part"] != n["part"] for c in ch):
                bad.append(f"{n['cluster_id']}: children do not add up")
        if (n["parent_id"] is None) != (n["zoom"] == 0):
            bad.append(f"{n['cluster_id']}: parent {n['parent_id']} at zoom {n['zoom']}")
    # cluster_children returns exactly the nodes whose parent it is (a sample, plus every zoom 0 one)
    for n in sample:
        cur.execute(f"SELECT cluster_id FROM cluster_children(%s, %s)", (h, n["cluster_id"]))
        got = sorted(r[0] for r in cur.fetchall())
        want = sorted(c["cluster_id"] for c in children.get(n["cluster_id"], []))
        if got != want:
            bad.append(f"cluster_children({n['cluster_id']}) = {got[:5]}... != {want[:5]}...")
    split_zoom = ctx.split_zoom
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
        args = [h, south, n["min_lon"] - 1e-9, north, n["max_lon"] + 1e-9, ez] + ([n["part"]] if ctx.partitioned else [])
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


def check_centres(ctx):
    """4. centre, bounds, min id and exact sums from the members; cluster_leaves = members."""
    cur, h, name, nodes, pos, part_of, parts = ctx.cur, ctx.h, ctx.name, ctx.nodes, ctx.pos, ctx.part_of, ctx.parts
    max_zoom, radius, children, sample, check = ctx.max_zoom, ctx.radius, ctx.children, ctx.sample, ctx.check
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
            # (a child missing from the nodes, in a damaged hierarchy, counts no member: the
            # count check below reports it rather than a KeyError)
            members_of[n["cluster_id"]] = sorted(i for c in children.get(n["cluster_id"], [])
                                                 for i in members_of.get(c["cluster_id"], []))
    bad = []
    for n in nodes:
        ids = members_of[n["cluster_id"]]
        if len(ids) != n["count"] or n["id"] != min(ids, default=None):
            bad.append(f"{n['cluster_id']}: {len(ids)} members for count {n['count']}, id {n['id']}")
            continue
        missing = [i for i in ids if i not in pos]
        if missing:
            bad.append(f"{n['cluster_id']}: members {missing[:3]} are not positioned rows")
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


def check_viewports(ctx):
    """5. cluster_viewport = the stored clusters (or markers) whose centre is in the box."""
    cur, h, name, nodes, pos, part_of, parts = ctx.cur, ctx.h, ctx.name, ctx.nodes, ctx.pos, ctx.part_of, ctx.parts
    max_zoom, radius, children, sample, check = ctx.max_zoom, ctx.radius, ctx.children, ctx.sample, ctx.check
    # 5. viewports against the nodes (and the markers beyond max_zoom)
    bad = []
    rng = ctx.rng
    for _ in range(ctx.boxes):
        south = rng.uniform(-90, 90)
        north = min(90.0, south + rng.choice([0.01, 1, 20, 180]))
        west = rng.uniform(-540, 540)
        east = west + rng.choice([0.5, 10, 90, 200, 359, 400])
        if rng.random() < 0.2:
            west, east = east - 360 * rng.choice([0, 1]), west  # west > east: across 180
        zoom = rng.uniform(0, max_zoom + 2)
        p = rng.choice(parts or [None])
        args = [h, south, west, north, east, zoom] + ([p] if ctx.partitioned else [])
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



def main(argv):
    import psycopg2

    if len(argv) < 3:
        print("usage: hierarchy_checks.py DSN HIERARCHY [--fresh]", file=sys.stderr)
        return 2
    tally = Tally()
    conn = psycopg2.connect(argv[1])
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET extra_float_digits = 3")
    h = argv[2]
    try:
        nodes = check_hierarchy(cur, h, h, tally.check, random.Random(1))
        if "--fresh" in argv:
            fresh = fresh_counts(cur, h)
            print(drift_line(counts_per_zoom(nodes), fresh, hierarchy_info(cur, h)[6]), flush=True)
    except psycopg2.Error as e:
        tally.check(f"{h}: checks run", False, str(e).strip())
    return tally.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
