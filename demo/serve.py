#!/usr/bin/env python3
"""The demo map's HTTP server (scripts/demo-map; tested by test/integration/map_page.sh).

    demo/serve.py [--load-markers N] [--port P]      # PostgreSQL from PGHOST/PGPORT/PGUSER/PGDATABASE

Serves, on 127.0.0.1 only, the page (demo/web/index.html), MapLibre GL JS from
demo/web/node_modules (so the page works offline), label glyphs made by demo/glyphs.py, and the
clusters of a viewport as GeoJSON. Nothing else: every other path is a 404.

The clusters come from a *source*, one endpoint each (SOURCES below): `hierarchy`, the stored
cluster hierarchy (cluster_viewport_geojson, with expansion zooms for a click), and `agg`,
cluster_agg over the markers in the viewport. The page uses the first unless its URL names
another (?source=agg).

With --load-markers N it first creates the extension and a table `markers (id, lat, lon,
category)` of N markers from the benchmark's generator (bench/gen: cities, antimeridian
clusters, high latitudes), category one of CATEGORIES by id, and two hierarchies of it: one of
all markers, one partitioned by category.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.pool

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench"))
import glyphs  # noqa: E402  (demo/glyphs.py)

WEB = os.path.join(HERE, "web")
MAPLIBRE_DIST = os.path.join(WEB, "node_modules", "maplibre-gl", "dist")
STATIC_FILES = {
    "/": (os.path.join(WEB, "index.html"), "text/html; charset=utf-8"),
    "/lib/maplibre-gl.js": (os.path.join(MAPLIBRE_DIST, "maplibre-gl.js"), "text/javascript"),
    "/lib/maplibre-gl.css": (os.path.join(MAPLIBRE_DIST, "maplibre-gl.css"), "text/css"),
}
CATEGORIES = ("cafe", "shop", "park")
# Clusters at least this far apart on screen (px). MapLibre's tiles are 512 px: its zoom z is
# cluster_agg's (256 px tiles) zoom z + 1, at the same radius.
RADIUS_PX = 60.0
MAX_MAP_ZOOM = 22
HIERARCHY_MAX_ZOOM = 16
FONTSTACK = "geocluster-digits"

NUMBER = r"-?\d{1,3}(?:\.\d{1,15})?"
BBOX_RE = re.compile(rf"^({NUMBER}),({NUMBER}),({NUMBER}),({NUMBER})$")
ZOOM_RE = re.compile(r"^\d{1,2}$")
GLYPH_RE = re.compile(r"^/fonts/([A-Za-z0-9 %-]{1,100})/(\d{1,5})-(\d{1,5})\.pbf$")


class BadRequest(Exception):
    pass


def viewport_boxes(west, south, east, north):
    """The viewport as one or two longitude ranges within [-180, 180]. MapLibre reports bounds past
    +-180 when the view shows the next copy of the world (it draws copies side by side): the
    view is shifted by whole turns so that west is in [-180, 180), and the part past 180 is a
    second range from -180."""
    if east - west >= 360:
        return (-180.0, 180.0), (1.0, 0.0)   # the whole world; the second range is empty
    turns = math.floor((west + 180) / 360)
    west, east = west - 360 * turns, east - 360 * turns
    if east <= 180:
        return (west, east), (1.0, 0.0)
    return (west, 180.0), (-180.0, east - 360)


def parse_viewport(query):
    """bbox=west,south,east,north (degrees), zoom (MapLibre's, an integer), category (optional)."""
    def one(name, required=True):
        values = query.get(name, [])
        if len(values) > 1 or (required and not values):
            raise BadRequest(f"{name}: give it once")
        return values[0] if values else None

    m = BBOX_RE.match(one("bbox"))
    if not m:
        raise BadRequest("bbox: west,south,east,north in degrees")
    west, south, east, north = (float(g) for g in m.groups())
    if not (-90 <= south < north <= 90):
        raise BadRequest("bbox: need -90 <= south < north <= 90")
    if not (-540 <= west < east <= 540):
        raise BadRequest("bbox: need -540 <= west < east <= 540")
    zoom = one("zoom")
    if not ZOOM_RE.match(zoom) or int(zoom) > MAX_MAP_ZOOM:
        raise BadRequest(f"zoom: an integer 0..{MAX_MAP_ZOOM}")
    category = one("category", required=False)
    if category is not None and category not in CATEGORIES:
        raise BadRequest(f"category: one of {', '.join(CATEGORIES)}")
    return (west, south, east, north), int(zoom), category


def clusters_from_agg(cur, bbox, map_zoom, category):
    """cluster_agg over the markers in the viewport, as cluster_geojson's FeatureCollection."""
    (w1, e1), (w2, e2) = viewport_boxes(*bbox)
    params = {"zoom": map_zoom + 1, "radius_px": RADIUS_PX, "south": bbox[1], "north": bbox[3],
              "w1": w1, "e1": e1, "w2": w2, "e2": e2, "category": category}
    # Every value is a bound parameter; the f-string adds only the constant category clause.
    cur.execute(f"""
        SELECT cluster_geojson(cluster_agg(lat, lon, %(zoom)s::int, %(radius_px)s::float8, id))::text
          FROM markers
         WHERE lat BETWEEN %(south)s::float8 AND %(north)s::float8
           AND (lon BETWEEN %(w1)s::float8 AND %(e1)s::float8 OR lon BETWEEN %(w2)s::float8 AND %(e2)s::float8)
           {"AND category = %(category)s::text" if category is not None else ""}""", params)
    text = cur.fetchone()[0]
    return text if text is not None else '{"type": "FeatureCollection", "features": []}'


# The stored hierarchies load_markers makes: one of all markers, one partitioned by category.
HIERARCHIES = {}


def clusters_from_hierarchy(cur, bbox, map_zoom, category):
    """The stored hierarchy's clusters centred in the viewport (cluster_viewport_geojson: each
    with its expansion_zoom, in the hierarchy's 256 px zooms), from the one of all markers or,
    for a category, its partition of the one by category. cluster_viewport takes longitudes
    past +-180 as they come."""
    west, south, east, north = bbox
    if category is None:
        cur.execute("SELECT cluster_viewport_geojson(%s::regclass, %s::float8, %s::float8, %s::float8, %s::float8, %s::float8)::text",
                    (HIERARCHIES["all"], south, west, north, east, map_zoom + 1))
    else:
        cur.execute("""SELECT cluster_viewport_geojson(%s::regclass, %s::float8, %s::float8, %s::float8, %s::float8,
                                                       %s::float8, %s::text)::text""",
                    (HIERARCHIES["by_category"], south, west, north, east, map_zoom + 1, category))
    return cur.fetchone()[0]


# One endpoint per source: /clusters/<name>?bbox=...&zoom=...[&category=...]; the page uses
# the first unless its URL names another (?source=agg).
SOURCES = {"hierarchy": clusters_from_hierarchy, "agg": clusters_from_agg}


class Handler(BaseHTTPRequestHandler):
    pool = None          # set by main()
    quiet = False

    def log_message(self, fmt, *args):
        if not self.quiet:
            super().log_message(fmt, *args)

    def send(self, status, body, content_type, cache=False):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path in STATIC_FILES:
                path, content_type = STATIC_FILES[url.path]
                with open(path, "rb") as f:
                    return self.send(200, f.read(), content_type)
            if url.path == "/config.json":
                return self.send(200, json.dumps({"sources": list(SOURCES), "categories": CATEGORIES,
                                                  "radius_px": RADIUS_PX, "fontstack": FONTSTACK}),
                                 "application/json")
            m = GLYPH_RE.match(url.path)
            if m:
                first, last = int(m.group(2)), int(m.group(3))
                if not (first <= last <= 65535 and last - first < 256):
                    raise BadRequest("glyph range: first-last, at most 256 code points")
                return self.send(200, glyphs.encode_range(urllib.parse.unquote(m.group(1)), first, last),
                                 "application/x-protobuf", cache=True)
            if url.path.startswith("/clusters/") and url.path[len("/clusters/"):] in SOURCES:
                source = SOURCES[url.path[len("/clusters/"):]]
                bbox, zoom, category = parse_viewport(urllib.parse.parse_qs(url.query, keep_blank_values=True))
                conn = self.pool.getconn()
                try:
                    with conn.cursor() as cur:
                        body = source(cur, bbox, zoom, category)
                    conn.rollback()
                finally:
                    self.pool.putconn(conn)
                return self.send(200, body, "application/geo+json")
            return self.send(404, "not found\n", "text/plain")
        except BadRequest as e:
            return self.send(400, f"bad request: {e}\n", "text/plain")
        except psycopg2.Error as e:
            self.log_error("database error: %s", str(e).strip())
            return self.send(500, "database error\n", "text/plain")


def load_markers(conn, count):
    """The extension and `markers` (id, lat, lon, category): the benchmark generator's first
    `count` rows, so the demo shows the same world the benchmarks measure."""
    from harness import dataset   # bench/harness/dataset.py: compiles bench/gen/markers_gen.cpp once
    exe, _ = dataset.generator_binary(lambda msg: print(msg, file=sys.stderr))
    proc = subprocess.Popen([exe, "--seed", "1", "--first", "1", "--last", str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS geocluster")
        cur.execute("""CREATE TEMP TABLE generated (id bigint, lat float8, lon float8, geohash text,
                                                    quadkey bigint, geom text)""")
        cur.copy_expert("COPY generated FROM STDIN", proc.stdout, size=1 << 20)
        if proc.wait() != 0:
            raise RuntimeError("markers_gen failed")
        cur.execute("DROP TABLE IF EXISTS markers")
        cur.execute("""CREATE TABLE markers AS
                       SELECT id, lat, lon, (%s::text[])[1 + id %% 3] AS category FROM generated""",
                    (list(CATEGORIES),))
        cur.execute("ALTER TABLE markers ADD PRIMARY KEY (id)")
        # Index-only scans for a viewport, with and without the category (README, "Indexes for
        # viewport queries").
        cur.execute("CREATE INDEX ON markers (lat, lon) INCLUDE (id)")
        cur.execute("CREATE INDEX ON markers (category, lat, lon) INCLUDE (id)")
        cur.execute("DROP TABLE generated")
        cur.execute("SELECT to_regprocedure('cluster_hierarchy_create(regclass, name, name, name, float8, int, name)') IS NOT NULL")
        if not cur.fetchone()[0]:   # an older geocluster: cluster_agg only
            del SOURCES["hierarchy"]
            conn.commit()
            return
        # MapLibre's zooms 0..HIERARCHY_MAX_ZOOM - 1 (the hierarchy's 1..HIERARCHY_MAX_ZOOM);
        # beyond, the hierarchy gives single markers.
        cur.execute("SELECT cluster_hierarchy_create('markers', 'lat', 'lon', 'id', %s::float8, %s::int)::text",
                    (RADIUS_PX, HIERARCHY_MAX_ZOOM))
        HIERARCHIES["all"] = cur.fetchone()[0]
        cur.execute("""SELECT cluster_hierarchy_create('markers', 'lat', 'lon', 'id', %s::float8, %s::int,
                                                       'category')::text""", (RADIUS_PX, HIERARCHY_MAX_ZOOM))
        HIERARCHIES["by_category"] = cur.fetchone()[0]
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) markers")
    conn.autocommit = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--load-markers", type=int, metavar="N", help="create the markers table first")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args()
    if not os.path.exists(STATIC_FILES["/lib/maplibre-gl.js"][0]):
        sys.exit("demo/serve.py: MapLibre is missing: run `npm ci` in demo/web")

    Handler.pool = psycopg2.pool.ThreadedConnectionPool(1, 4, "")
    if args.load_markers:
        conn = Handler.pool.getconn()
        load_markers(conn, args.load_markers)
        Handler.pool.putconn(conn)
    Handler.quiet = args.quiet
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"the demo map: http://127.0.0.1:{server.server_address[1]}/   (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Handler.pool.closeall()


if __name__ == "__main__":
    main()
