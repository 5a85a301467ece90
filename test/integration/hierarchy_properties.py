#!/usr/bin/env python3
"""Property test of the stored cluster hierarchy (cluster_hierarchy_create and its query
functions), run by hierarchy_properties.sh against the server that PGHOST/PGPORT/PGUSER name.

Datasets: seeded random sets of markers (uniform world, city clumps, duplicates, a band across
the antimeridian, the poles, one or two markers), some with a partition column, and the
benchmark generator's distribution (bench/gen/markers_gen.cpp, a small size). Each gets a random
radius_px and max_zoom. Checked at every zoom (and per partition value), by the independent
checks of hierarchy_checks.py (conservation, separation, nesting, centre and bounds, viewport),
and here:

  determinism   the same rows inserted in another order give the identical nodes table

Prints `FAIL ...` lines and `N passed, M failed` last (one per dataset x property); exits non-zero
on failure. GEOCLUSTER_HIER_SEED (default 1) and GEOCLUSTER_HIER_DATASETS (default 32) choose the
draw.
"""
import os
import random
import sys

import psycopg2

from hierarchy_checks import bench_points, check_hierarchy, fetch_nodes
from tally import Tally

DB = "geocluster_hier_props"
SEED = int(os.environ.get("GEOCLUSTER_HIER_SEED", "1"))
DATASETS = int(os.environ.get("GEOCLUSTER_HIER_DATASETS", "32"))

TALLY = Tally()
check = TALLY.check


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
    return {"name": f"bench_{n}", "points": bench_points(n), "partitioned": False, "radius": 60.0, "max_zoom": 16,
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


def run_dataset(conn, ds):
    name = ds["name"]
    cur = conn.cursor()
    load(cur, ds, "src", "natural")
    part_arg = ", 'cat'" if ds["partitioned"] else ""
    cur.execute(f"SELECT cluster_hierarchy_create('src', 'lat', 'lon', 'id', %s, %s{part_arg})::text",
                (ds["radius"], ds["max_zoom"]))
    h = cur.fetchone()[0]
    pos = {i: (lat, lon) for i, lat, lon in ds["points"]}
    part_of = {i: ("c%d" % (i % 3) if ds["partitioned"] else None) for i, _, _ in ds["points"]}
    nodes = check_hierarchy(cur, h, name, check, ds["rng"], pos, part_of)

    # 6. determinism: the same rows in another order
    rng = ds["rng"]
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
