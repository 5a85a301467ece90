#!/usr/bin/env python3
"""cluster_geojson drops in where supercluster's GeoJSON does.

supercluster/expected_shapes.json is what supercluster 9.1.0 (pinned by supercluster/package.json
and its lock) gives for 25,000 points: the keys of a cluster feature and of a point feature, the
JSON type of each property, whether points keep their own properties, and point_count_abbreviated
for each count it made (supercluster/shapes.mjs writes it; node and npm are not needed here). In
a database of its own on the server that PGHOST/PGPORT/PGUSER name, this makes the same points
(the same float arithmetic) with ids and a name, clusters them at the same zooms with
cluster_geojson(clusters, marker_properties) and checks, feature by feature:

  * a cluster has supercluster's properties, with the same JSON types (cluster: boolean,
    cluster_id, point_count: numbers, point_count_abbreviated: a number below 1000, else text),
    and supercluster's feature keys plus a bbox (the members' bounds, to zoom to); its top-level
    id is an integer in [2^52, 2^53) (exact in JavaScript; marker ids lie below), so that no id
    names both a cluster and a marker, and every id of a response is distinct;
  * a single marker has exactly supercluster's point feature keys, its own id, only its own
    properties (nothing that MapLibre's ['has', 'point_count'] filter would match) and its
    stored coordinates bit for bit (supercluster's come back within a few ulps);
  * point_count_abbreviated equals supercluster's, value and type, for every count it made.

Prints one line per check and `N passed, M failed` last; exits non-zero on any failure.
"""
import json
import os
import subprocess
import sys

from tally import Tally

HERE = os.path.dirname(os.path.abspath(__file__))
DB = "geocluster_geojson_supercluster"
ZOOMS = (0, 3, 6, 9, 12, 15, 17)
TALLY = Tally(print_ok=True)
check = TALLY.check


def psql(sql, db=DB):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout


def points():
    """The points of shapes.mjs, computed with the same float operations: {id: (lon, lat)}."""
    result = {}
    for i in range(25000):
        if i < 20000:
            lat, lon = 48.8 + (i * 7919 % 3001) / 15000, 2.25 + (i * 104729 % 3001) / 12000
        else:
            lat, lon = -60 + (i * 7919 % 12001) / 100, -180 + (i * 104729 % 36001) / 100
        result[i] = (lon, lat)
    return result


def types(properties):
    names = {bool: "boolean", int: "number", float: "number", str: "string"}
    return {k: names[type(v)] for k, v in properties.items()}


def main():
    expected = json.load(open(os.path.join(HERE, "supercluster", "expected_shapes.json")))
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    try:
        psql("""
            CREATE EXTENSION geocluster;
            CREATE TABLE markers (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL, name text NOT NULL);
            INSERT INTO markers
            SELECT i, CASE WHEN i < 20000 THEN 48.8::float8 + (i * 7919 % 3001)::float8 / 15000::float8
                           ELSE -60::float8 + (i * 7919 % 12001)::float8 / 100::float8 END,
                      CASE WHEN i < 20000 THEN 2.25::float8 + (i * 104729 % 3001)::float8 / 12000::float8
                           ELSE -180::float8 + (i * 104729 % 36001)::float8 / 100::float8 END,
                      'm' || i
              FROM generate_series(0::bigint, 24999::bigint) i;
            ANALYZE markers;""")
        inputs = points()
        cluster_shapes = [(sorted(set(s["feature"]) | {"bbox"}), s["geometry"], s["properties"])
                          for s in expected["cluster"]]
        point_shapes = [(sorted(s["feature"]), s["geometry"], s["properties"]) for s in expected["point"]]
        for zoom in ZOOMS:
            out = psql(f"""
                WITH c AS (SELECT cluster_agg(lat, lon, {zoom}, 60, id) AS clusters FROM markers)
                SELECT cluster_geojson(c.clusters, (
                         SELECT jsonb_object_agg(m.id, jsonb_build_object('name', m.name)) FROM markers m
                          WHERE m.id IN (SELECT s.id FROM unnest(c.clusters) s WHERE s.count = 1)))
                  FROM c""")
            features = json.loads(out)["features"]
            clusters = [f for f in features if "point_count" in f["properties"]]
            singles = [f for f in features if "point_count" not in f["properties"]]
            bad = [f for f in clusters
                   if (sorted(f), f["geometry"]["type"], types(f["properties"])) not in cluster_shapes
                   or f["properties"]["cluster"] is not True or f["properties"]["point_count"] < 2]
            check(f"zoom {zoom}: {len(clusters)} clusters shaped like supercluster's", not bad, bad[:1])
            bad = [f for f in singles
                   if (sorted(f), f["geometry"]["type"], types(f["properties"])) not in point_shapes
                   or f["properties"] != {"name": f"m{f['id']}"}
                   or tuple(f["geometry"]["coordinates"]) != inputs[f["id"]]]
            check(f"zoom {zoom}: {len(singles)} single markers are supercluster's points, at their exact position",
                  not bad, bad[:1])
            bad = [f.get("id") for f in clusters if not (isinstance(f.get("id"), int) and 2**52 <= f["id"] < 2**53)]
            check(f"zoom {zoom}: cluster ids in [2^52, 2^53), above every marker id", not bad, bad[:3])
            ids = [f.get("id") for f in features]
            check(f"zoom {zoom}: {len(ids)} top-level ids, all distinct", len(set(ids)) == len(ids) == len(features))
            check(f"zoom {zoom}: every marker counted once",
                  sum(f["properties"].get("point_count", 1) for f in features) == len(inputs))
        check("supercluster keeps a point's own properties", expected["points_keep_their_properties"])
        counts = sorted(int(n) for n in expected["point_count_abbreviated"])
        rows = ",".join(f"ROW({n}, 0, 0, 0, 0, 0, 0, 1)::marker_cluster" for n in counts)
        ours = [f["properties"]["point_count_abbreviated"]
                for f in json.loads(psql(f"SELECT cluster_geojson(ARRAY[{rows}])"))["features"]]
        theirs = [expected["point_count_abbreviated"][str(n)] for n in counts]
        differ = [(n, a, b) for n, a, b in zip(counts, ours, theirs) if a != b or type(a) is not type(b)]
        check(f"point_count_abbreviated of {len(counts)} counts ({counts[0]}..{counts[-1]}) equal to supercluster's, "
              "value and JSON type", not differ and len(counts) > 50 and max(counts) >= 10000, differ[:5])
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    return TALLY.done()


if __name__ == "__main__":
    sys.exit(main())
