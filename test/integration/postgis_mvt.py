#!/usr/bin/env python3
"""Decodes the vector tiles of the README's cluster_tile recipe and checks what is in them.

PostGIS can write Mapbox Vector Tiles (ST_AsMVT) but not read them, so this is a small decoder
of the MVT protobuf (https://github.com/mapbox/vector-tile-spec, version 2) in the standard
library. In a database of its own on the server that PGHOST/PGPORT/PGUSER name, it creates the
README's table and tile function, taken word for word from test/sql/postgis_mvt.sql (README blocks 1
and 3), and checks:

  * the README's Paris grid: the tile of central Paris holds the clusters that the recipe's
    query computes in SQL (their number, their point_count values and their sum);
  * markers in compact spots (in tiles' middles, on tile corners, across the antimeridian and
    beyond the Mercator clamp at the poles): every tile of zooms 0..4, and at zooms 5..8 every
    tile holding a cluster and its neighbours, has exactly the clusters of the whole map whose centre is in it --
    count, point_count, point_count_abbreviated, cluster, id -- each drawn as one point at its
    centre (to the nearest tile unit), and the tiles together hold every marker once;
  * each tile has one layer, `clusters`, of version 2 and extent 4096; a tile without clusters
    is empty.

Prints failures as they happen and `N passed, M failed` last; exits non-zero on any failure.
"""
import math
import os
import re
import subprocess
import sys

from tally import Tally

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB = "geocluster_postgis_mvt"
EXTENT = 4096
HALF_WORLD = 20037508.342789244  # Web Mercator half-width in metres (EPSG:3857)

TALLY = Tally()
check = TALLY.check


def psql(sql, db=DB):
    """Runs sql; returns the rows of its output as lists of strings (unaligned, | separated)."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}\n--- sql:\n{sql[:2000]}")
    return [line.split("|") for line in out.stdout.splitlines() if line != ""]


# ---- a minimal protobuf reader ------------------------------------------------------------

def varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one message; bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def packed(buf):
    pos, out = 0, []
    while pos < len(buf):
        v, pos = varint(buf, pos)
        out.append(v)
    return out


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


def decode_value(buf):
    import struct
    for number, _, v in fields(buf):
        if number == 1:
            return v.decode()
        if number == 2:
            return struct.unpack("<f", v)[0]
        if number == 3:
            return struct.unpack("<d", v)[0]
        if number == 4:
            return v - (1 << 64) if v >= 1 << 63 else v
        if number == 5:
            return v
        if number == 6:
            return zigzag(v)
        if number == 7:
            return bool(v)
    return None


def decode_tile(buf):
    """[{name, version, extent, features: [{id, type, geometry, properties}]}]"""
    layers = []
    for number, _, layer_buf in fields(buf):
        if number != 3:
            continue
        layer = {"version": 1, "extent": 4096, "features": []}
        keys, values, raw_features = [], [], []
        for n, _, v in fields(layer_buf):
            if n == 15:
                layer["version"] = v
            elif n == 1:
                layer["name"] = v.decode()
            elif n == 2:
                raw_features.append(v)
            elif n == 3:
                keys.append(v.decode())
            elif n == 4:
                values.append(decode_value(v))
            elif n == 5:
                layer["extent"] = v
        for fbuf in raw_features:
            feature = {"id": None, "type": 0, "geometry": [], "properties": {}}
            for n, _, v in fields(fbuf):
                if n == 1:
                    feature["id"] = v
                elif n == 2:
                    tags = packed(v)
                    for k, val in zip(tags[0::2], tags[1::2]):
                        feature["properties"][keys[k]] = values[val]
                elif n == 3:
                    feature["type"] = v
                elif n == 4:
                    feature["geometry"] = packed(v)
            layer["features"].append(feature)
        layers.append(layer)
    return layers


def point_of(geometry):
    """The single point of a POINT geometry: [MoveTo x 1, dx, dy], else None."""
    if len(geometry) != 3 or geometry[0] != (1 | (1 << 3)):
        return None
    return zigzag(geometry[1]), zigzag(geometry[2])


# ---- expectations computed here, independently of SQL ----------------------------------

SINGLES_SEEN = []  # ids of the single markers check_tile saw


def markers_in(feature):
    """A cluster's point_count; a single marker has none and stands for 1."""
    return feature["properties"].get("point_count", 1)


def abbreviated(count):
    """supercluster's point_count_abbreviated (JavaScript's Math.round: halves go up)."""
    if count >= 10000:
        return f"{math.floor(count / 1000 + 0.5)}k"
    if count >= 1000:
        return f"{math.floor(count / 100 + 0.5) / 10:g}k"
    return str(count)


def tile_units(lat, lon, z, x, y):
    """lat/lon -> position in tile z/x/y, in tile units (0..EXTENT, y down)."""
    mx = math.radians(lon) * 6378137.0
    my = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * 6378137.0
    size = 2 * HALF_WORLD / (1 << z)
    return (mx - (-HALF_WORLD + x * size)) / size * EXTENT, ((HALF_WORLD - y * size) - my) / size * EXTENT


def readme_blocks():
    text = open(os.path.join(ROOT, "test", "sql", "postgis_mvt.sql")).read()
    blocks = dict(re.findall(r"^-- README block (\d+)[^\n]*\n(.*?)^-- README end", text, re.S | re.M))
    return blocks["1"], blocks["3"]


def check_tile(label, buf, expected, z, x, y):
    """expected: list of (count, lat, lon, id) of the clusters that tile z/x/y must hold."""
    if not expected:
        check(f"{label}: a tile without clusters is empty", len(buf) == 0, f"{len(buf)} bytes")
        return
    layers = decode_tile(buf)
    check(f"{label}: one layer", len(layers) == 1, str(len(layers)))
    if not layers:
        return
    layer = layers[0]
    check(f"{label}: layer name, version, extent",
          (layer.get("name"), layer["version"], layer["extent"]) == ("clusters", 2, EXTENT),
          str((layer.get("name"), layer["version"], layer["extent"])))
    features = layer["features"]
    check(f"{label}: feature count", len(features) == len(expected), f"{len(features)} != {len(expected)}")
    counts = sorted(markers_in(f) for f in features)
    check(f"{label}: point_count values", counts == sorted(e[0] for e in expected),
          f"{counts} != {sorted(e[0] for e in expected)}")
    by_id = {e[3]: e for e in expected}
    for f in features:
        props = f["properties"]
        # cluster_geojson's shape: a single marker is its feature id and nothing else; a
        # cluster has no feature id and supercluster's properties.
        fid = props.get("cluster_id", f["id"])
        e = by_id.get(fid)
        if e is None:
            check(f"{label}: feature id {fid} expected", False)
            continue
        count, lat, lon, _ = e
        if count == 1:
            SINGLES_SEEN.append(fid)
            ok_props = props == {} and f["id"] == fid
        else:
            ok_props = f["id"] is None and props == {"cluster": True, "cluster_id": fid, "point_count": count,
                                                     "point_count_abbreviated": abbreviated(count)}
        check(f"{label}: properties of cluster {fid}", ok_props, f"id {f['id']}, {props}")
        pt = point_of(f["geometry"])
        ex, ey = tile_units(lat, lon, z, x, y)
        check(f"{label}: cluster {fid} is one point at its centre",
              f["type"] == 1 and pt is not None and abs(pt[0] - ex) <= 1 and abs(pt[1] - ey) <= 1,
              f"type {f['type']}, geometry {f['geometry']}, expected ({ex:.2f}, {ey:.2f})")


def main():
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB} TEMPLATE template0", db="postgres")
    try:
        table_block, recipe_block = readme_blocks()
        psql("SET client_min_messages = warning;\n" + table_block + recipe_block)

        # The README's Paris grid: the tile against the clusters the recipe's query computes.
        z, x, y = 11, 1037, 704
        rows = psql(f"""
            SELECT c.count, c.lat, c.lon, c.id
              FROM unnest((SELECT cluster_agg(m.geom, {z}, 60, m.id) FROM markers m
                            WHERE m.geom && ANY (cluster_tile_boxes({z}, {x}, {y}, 60)))) AS c
             WHERE quadkey(c.lat, c.lon, {z}) = quadkey_from_tile({z}, {x}, {y})""")
        expected = [(int(r[0]), float(r[1]), float(r[2]), int(r[3])) for r in rows]
        check("README grid: the tile has clusters", len(expected) > 5, str(len(expected)))
        buf = bytes.fromhex(psql(f"SELECT encode(cluster_tile({z}, {x}, {y}), 'hex')")[0][0])
        check_tile(f"README grid {z}/{x}/{y}", buf, expected, z, x, y)
        total = psql(f"""SELECT count(*), sum(c.count) FROM unnest((SELECT cluster_agg(m.geom, {z}, 60, m.id)
                          FROM markers m WHERE m.geom && ANY (cluster_tile_boxes({z}, {x}, {y}, 60)))) AS c
                         WHERE quadkey(c.lat, c.lon, {z}) = quadkey_from_tile({z}, {x}, {y})""")[0]
        decoded = decode_tile(buf)[0]["features"]
        check("README grid: cluster count and sum of point_count as computed in SQL",
              (len(decoded), sum(markers_in(f) for f in decoded)) == (int(total[0]), int(total[1])),
              f"{len(decoded)}, {sum(markers_in(f) for f in decoded)} != {total}")

        # Compact spots: every tile against the whole map's clusters.
        psql("""
            TRUNCATE markers;
            SELECT setseed(0.4242);
            INSERT INTO markers (id, lon, lat)
            SELECT row_number() OVER (),
                   greatest(-180, least(180, lon + (random() - 0.5) * spread)),
                   greatest(-90, least(90, lat + (random() - 0.5) * spread))
              FROM (SELECT c.lon, c.lat, 0.01 AS spread, 1 + floor(random() * 1500)::int AS n
                      FROM generate_series(1, 24) i,
                           quadkey_center(quadkey_from_tile(3, floor(random() * 8)::int, floor(random() * 8)::int)) c
                    UNION ALL
                    SELECT -120.3, -10.2, 0.01, 10500
                    UNION ALL
                    SELECT lon, lat, 0.002, 25 FROM (VALUES (0.0, 0.0), (-90, 66.51326044311186), (45, 0)) v(lon, lat)
                    UNION ALL
                    SELECT lon, 30, 0.004, 40 FROM (VALUES (179.999), (-179.999)) v(lon)
                    UNION ALL
                    SELECT -60.1, lat, 0.01, 11 FROM (VALUES (87.0), (-88.0)) v(lat)
                    UNION ALL  -- markers alone, drawn as single markers at every zoom
                    SELECT lon, lat, 0, 1 FROM (VALUES (-30.5, -45.25), (100.75, 55.5), (-150.25, 20.5)) v(lon, lat)) spots,
                   generate_series(1, n);
            ANALYZE markers;""")
        n_markers = int(psql("SELECT count(*) FROM markers")[0][0])
        world = psql("""
            SELECT z, t.x, t.y, c.count, c.lat, c.lon, c.id
              FROM generate_series(0, 8) z,
                   LATERAL unnest((SELECT cluster_agg(geom, z, 60, id) FROM markers)) c,
                   LATERAL quadkey_tile(quadkey(c.lat, c.lon, z)) t""")
        expected_by_tile = {}
        for z, x, y, count, lat, lon, cid in world:
            expected_by_tile.setdefault((int(z), int(x), int(y)), []).append(
                (int(count), float(lat), float(lon), int(cid)))
        tiles = {(z, x, y) for z in range(5) for x in range(1 << z) for y in range(1 << z)}
        for z, x, y in [t for t in expected_by_tile if t[0] >= 5]:  # and their neighbours
            n = 1 << z
            tiles |= {(z, (x + dx) % n, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if 0 <= y + dy < n}
        values = ", ".join(f"({z}, {x}, {y})" for z, x, y in sorted(tiles))
        rows = psql(f"SELECT z, x, y, encode(cluster_tile(z, x, y), 'hex') FROM (VALUES {values}) t(z, x, y)")
        counted = {}
        for z, x, y, hexbytes in rows:
            z, x, y = int(z), int(x), int(y)
            buf = bytes.fromhex(hexbytes)
            check_tile(f"spots {z}/{x}/{y}", buf, expected_by_tile.get((z, x, y), []), z, x, y)
            if buf:
                counted[z] = counted.get(z, 0) + sum(markers_in(f)
                                                     for layer in decode_tile(buf) for f in layer["features"])
        check("spots: tiles decoded", len(rows) == len(tiles), f"{len(rows)} of {len(tiles)}")
        check("single markers were drawn (as their feature id alone)", len(SINGLES_SEEN) > 10, str(len(SINGLES_SEEN)))
        for z in range(9):
            check(f"spots: zoom {z}, the tiles hold every marker once", counted.get(z) == n_markers,
                  f"{counted.get(z)} != {n_markers}")
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, and the protocol line still ends the output
        check("the suite ran to the end", False, repr(e))
    sys.exit(TALLY.done())
