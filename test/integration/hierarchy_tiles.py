#!/usr/bin/env python3
"""The vector tiles of stored cluster hierarchies (geocluster_postgis' cluster_hierarchy_tile),
decoded with postgis_mvt.py's decoder, against the hierarchy's nodes table. Run by
hierarchy_tiles.sh on the server that PGHOST/PGPORT/PGUSER name.

For a few datasets (city clumps, markers on tile corners, across the antimeridian, beyond the
Mercator clamp at the poles; one partitioned), every tile of zooms 0..3 and, at deeper zooms
(max_zoom and one beyond it included), every tile that holds a centre and its neighbours:

  * each cluster is drawn in exactly the tile holding its centre (tile numbers computed here
    from the Web Mercator formulas), at its centre, as a feature whose id is 2^52 + its
    cluster_id, or for a single marker its marker id (as in cluster_viewport_geojson: no id
    names both a cluster and a marker);
  * the other features of a tile are neighbours' clusters within the 64-unit render buffer;
  * the owned features of a zoom together count every marker once (sum of point_count);
  * properties: cluster, point_count, point_count_abbreviated, id, cluster_id (none beyond
    max_zoom);
  * cluster_hierarchy_tile_with_properties (unpartitioned datasets): the same tile, but single
    markers carry their row's other columns of a view (name, score), except those named like the
    tile's own properties (cluster, point_count), which keep the tile's values.

Prints failures and `N passed, M failed` last.
"""
import math
import os
import random
import sys

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postgis_mvt as mvt  # noqa: E402  (the decoder)
from tally import Tally  # noqa: E402

DB = "geocluster_hier_tiles"
MAX_LAT = 85.05112878
TALLY = Tally()
check = TALLY.check


def tile_of(lat, lon, z):
    """The tile holding a point: half-open tiles, lon 180 and the south edge in the last ones."""
    n = 1 << z
    x = (lon + 180.0) / 360.0
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    y = 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)
    return min(n - 1, int(math.floor(x * n))), min(n - 1, max(0, int(math.floor(y * n))))


def dataset(rng, kind):
    pts = []
    if kind == "cities":
        for c in range(12):
            clat, clon = rng.uniform(-60, 70), rng.uniform(-180, 180)
            for _ in range(rng.choice([1, 5, 40, 200])):
                pts.append((clat + rng.gauss(0, 0.5), ((clon + rng.gauss(0, 0.5) + 180) % 360) - 180))
    elif kind == "edges":  # on tile corners of zoom 3 and 5, across 180, at the poles
        for z in (3, 5):
            for _ in range(10):
                n = 1 << z
                tx, ty = rng.randrange(n), rng.randrange(1, n)
                lon = tx / n * 360 - 180
                lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))
                pts += [(lat, lon)] * rng.choice([1, 3])
        pts += [(-17 + rng.uniform(-1, 1), rng.choice([179.99, -179.99, 180.0, -180.0])) for _ in range(30)]
        pts += [(rng.choice([89.0, -89.5, 90.0]), rng.uniform(-10, 10)) for _ in range(20)]
    return [(i + 1, max(-90.0, min(90.0, lat)), lon) for i, (lat, lon) in enumerate(pts)]


def run(cur, name, pts, partitioned, max_zoom, deep_zooms):
    cur.execute("DROP TABLE IF EXISTS tm CASCADE")
    cur.execute("CREATE TABLE tm (id bigint, geom geometry(Point, 4326), cat text)")
    for i, lat, lon in pts:
        cur.execute("INSERT INTO tm VALUES (%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)",
                    (i, lon, lat, "c%d" % (i % 2) if partitioned else None))
    cur.execute("SELECT cluster_hierarchy_create('tm', 'geom', 'id', 60, %s" + (", 'cat'" if partitioned else "") + ")::text",
                (max_zoom,))
    h = cur.fetchone()[0]
    if not partitioned:
        cur.execute("CREATE VIEW tm_props AS SELECT id, 'm' || id AS name, id * 2 AS score,"
                    " 'x'::text AS cluster, 'y'::text AS point_count FROM tm")
    parts = ["c0", "c1"] if partitioned else [None]
    named_total = 0
    for p in parts:
        for z in list(range(0, 4)) + deep_zooms:
            if z <= max_zoom:
                cur.execute("SELECT cluster_id, lat, lon, count, id FROM cluster_hierarchy_nodes(%s)"
                            " WHERE zoom = %s AND part IS NOT DISTINCT FROM %s", (h, z, p))
                items = {(2 ** 52 + r[0] if r[3] > 1 else r[4]): r for r in cur.fetchall()}
            else:  # beyond max_zoom: the markers, by id
                items = {i: (None, lat, lon, 1, i) for i, lat, lon in pts if (not partitioned or "c%d" % (i % 2) == p)}
            owner = {k: tile_of(v[1], v[2], z) for k, v in items.items()}
            n = 1 << z
            tiles = {(x, y) for x in range(n) for y in range(n)} if z <= 3 else set()
            if z > 3:
                for (tx, ty) in set(owner.values()):
                    for dx in (-1, 0, 1):
                        for dy in (-1, 0, 1):
                            if 0 <= ty + dy < n:
                                tiles.add(((tx + dx) % n, ty + dy))
            seen, owned_count, bad, single_markers_named = {}, 0, [], 0
            for (x, y) in sorted(tiles):
                args = (h, z, x, y) + ((p,) if partitioned else ())
                cur.execute("SELECT cluster_hierarchy_tile(" + ", ".join(["%s"] * len(args)) + ")", args)
                buf = bytes(cur.fetchone()[0])
                layers = mvt.decode_tile(buf) if buf else []
                features = layers[0]["features"] if layers else []
                if layers and (layers[0].get("name"), layers[0]["extent"]) != ("clusters", 4096):
                    bad.append(f"tile {z}/{x}/{y}: layer {layers[0].get('name')}")
                if not partitioned:
                    cur.execute("SELECT cluster_hierarchy_tile_with_properties(%s, %s, %s, %s, 'tm_props')", (h, z, x, y))
                    buf = bytes(cur.fetchone()[0])
                    own = mvt.decode_tile(buf)[0]["features"] if buf else []
                    expected = [(f["id"], f["geometry"], dict(f["properties"], **(
                        {} if f["properties"]["cluster"] else
                        {"name": f"m{f['properties']['id']}", "score": 2 * f["properties"]["id"]})))
                        for f in features]
                    if [(f["id"], f["geometry"], f["properties"]) for f in own] != expected:
                        bad.append(f"tile {z}/{x}/{y}: with properties {own[:2]}, expected {expected[:2]}")
                    single_markers_named += sum(1 for f in own if "name" in f["properties"])
                ids = set()
                for f in features:
                    fid, props = f["id"], f["properties"]
                    item = items.get(fid)
                    if item is None:
                        bad.append(f"tile {z}/{x}/{y}: feature id {fid} is no cluster of zoom {z}")
                        continue
                    ids.add(fid)
                    cnt = item[3]
                    if (props.get("point_count"), props.get("cluster"), props.get("id"), props.get("point_count_abbreviated"),
                            props.get("cluster_id")) != (cnt, cnt > 1, item[4], mvt.abbreviated(cnt), item[0]):
                        bad.append(f"tile {z}/{x}/{y}: properties of {fid}: {props}")
                    pt = mvt.point_of(f["geometry"])
                    ex, ey = mvt.tile_units(max(-MAX_LAT, min(MAX_LAT, item[1])), item[2], z, x, y)
                    if ex < -2048:
                        ex += 4096 * n
                    elif ex > 4096 + 2048:
                        ex -= 4096 * n
                    if pt is None or abs(pt[0] - ex) > 1 or abs(pt[1] - ey) > 1:
                        bad.append(f"tile {z}/{x}/{y}: {fid} at {pt}, its centre at ({ex:.1f}, {ey:.1f})")
                    if owner[fid] == (x, y):
                        seen[fid] = seen.get(fid, 0) + 1
                        owned_count += cnt
                    elif not (-64 - 1 <= ex <= 4096 + 64 + 1 and -64 - 1 <= ey <= 4096 + 64 + 1):
                        bad.append(f"tile {z}/{x}/{y}: {fid} (owned by {owner[fid]}) is beyond the buffer at ({ex:.0f}, {ey:.0f})")
                missing = [k for k, t in owner.items() if t == (x, y) and k not in ids]
                if missing:
                    bad.append(f"tile {z}/{x}/{y}: its clusters {missing[:3]} are missing")
            total = len([1 for i, _, _ in pts if not partitioned or "c%d" % (i % 2) == p])
            if owned_count != total or any(v != 1 for v in seen.values()) or len(seen) != len(items):
                bad.append(f"owned features count {owned_count} markers of {total}, {len(seen)} of {len(items)} clusters")
            check(f"{name} part {p} zoom {z}: {len(tiles)} tiles, {len(items)} clusters", not bad, "; ".join(bad[:3]))
            named_total += single_markers_named
    if not partitioned:
        check(f"{name}: single markers' own columns in the tiles with properties ({named_total} features)", named_total > 0)
    cur.execute("SELECT cluster_hierarchy_drop(%s)", (h,))


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
        cur.execute("CREATE EXTENSION geocluster_postgis CASCADE")
        cur.execute("SET extra_float_digits = 3")
        rng = random.Random(int(os.environ.get("GEOCLUSTER_HIER_SEED", "1")))
        run(cur, "cities", dataset(rng, "cities"), False, 6, [5, 6, 7])
        run(cur, "edges", dataset(rng, "edges"), False, 5, [4, 5, 6])
        run(cur, "cities, partitioned", dataset(rng, "cities"), True, 4, [4, 5])
        conn.close()
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    return TALLY.done()


if __name__ == "__main__":
    sys.exit(main())
