#!/usr/bin/env python3
"""cluster_viewport against its floor: the same number of rows of the same shape read from a
plain table by a primary key range (the harness's result floor, harness/hierarchy.py: its table
{TABLE}_result_floor and its statement, one implementation for both).

    bench/hierarchy/viewport.py TABLE [VIEWPORTS]      (PGHOST/PGPORT/PGUSER/PGDATABASE name the server)

TABLE has a hierarchy (cluster_hierarchy_create(TABLE, 'lat', 'lon', 'id'), its handle
TABLE_clusters). Viewports: 1280 x 800 px of 256 px tiles, centred on random markers, at random
zooms 0..max_zoom + 2, each timed as the median of 5 runs after one warm-up, both queries on the
same connection (prepared through psycopg2's plain protocol: the time includes parsing, as an
application's call would). Prints the p50 and p95 of both and of their ratio per viewport.
"""
import math
import os
import random
import statistics
import sys
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import hierarchy as hh  # noqa: E402


def box(lat, lon, z):
    """The 1280 x 800 px viewport (256 px tiles) centred on (lat, lon) at zoom z, as (south, west,
    north, east); west/east may pass +-180 (cluster_viewport wraps them). Also writes.py's boxes."""
    world = 256.0 * 2 ** z
    x = (lon + 180) / 360 * world
    s = math.sin(math.radians(max(-85.05, min(85.05, lat))))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * world
    west, east = (x - 640) / world * 360 - 180, (x + 640) / world * 360 - 180

    def lat_of(py):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * max(0, min(world, py)) / world))))

    return lat_of(y + 400), west, lat_of(y - 400), east


def main():
    table = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    h = f"{table}_clusters"
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT max_zoom FROM cluster_hierarchy_info(%s)", (h,))
    max_zoom = cur.fetchone()[0]
    cur.execute("SELECT quote_literal(%s) || '::regclass'", (h,))
    literal = cur.fetchone()[0]
    columns = hh.node_columns(conn)
    # The floor table is rebuilt when its comment (the key) names another build of the hierarchy
    # (a build or rebuild gives its nodes table a new relfilenode).
    cur.execute("SELECT %s || ' ' || relfilenode::text FROM pg_class WHERE oid = %s::regclass", (h, h))
    floor = hh.ensure_floor(conn, table, literal, f"viewport.py {cur.fetchone()[0]}", columns,
                            lambda msg: print(msg, file=sys.stderr))
    cur.execute(f"SELECT lat, lon FROM {table} TABLESAMPLE SYSTEM (1) LIMIT %s", (n,))
    centres = cur.fetchall()
    rng = random.Random(1)
    select = ", ".join(f'"{name}"' for name, _ in columns)
    rows_of = []
    t_view, t_floor, ratios = [], [], []

    def timed(sql, args):
        cur.execute(sql, args)  # warm-up
        got = cur.fetchall()
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            cur.execute(sql, args)
            cur.fetchall()
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs), len(got)

    for i, (lat, lon) in enumerate(centres):
        z = rng.randint(0, max_zoom + 2)
        south, west, north, east = box(lat, lon, z)
        tv, rows = timed(f"SELECT {select} FROM cluster_viewport(%s, %s, %s, %s, %s, %s)",
                         (h, south, west, north, east, z))
        start = 1 + (i * 7919) % max(1, hh.FLOOR_ROWS - rows)
        tf, _ = timed(hh.floor_range_sql(floor, columns, start, max(rows, 1)), None)
        t_view.append(tv)
        t_floor.append(tf)
        ratios.append(tv / tf)
        rows_of.append(rows)

    def pct(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

    print(f"{len(ratios)} viewports, rows per viewport: median {statistics.median(rows_of)}, max {max(rows_of)}")
    for name, v in (("cluster_viewport ms", [t * 1000 for t in t_view]), ("pk range ms", [t * 1000 for t in t_floor]),
                    ("ratio", ratios)):
        print(f"{name:20s} p50 {pct(v, 50):8.3f}  p95 {pct(v, 95):8.3f}")


if __name__ == "__main__":
    main()
