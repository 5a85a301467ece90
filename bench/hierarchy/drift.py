#!/usr/bin/env python3
"""How far a hierarchy maintained under writes drifts from a fresh build of the same rows.

Loads the first N markers of the bench generator (markers_gen --seed 1) into a table, creates
its hierarchy (60 px, zooms 0-16), then runs W random writes through SQL in statements of B
rows each, a third of each kind: inserts of the generator's next markers, moves of live
markers to the positions of further generator markers, deletes of live markers. Then it builds
a second hierarchy of the same rows and prints the clusters per zoom of both and their ratio,
with the time the writes took. The writes are checked to have been counted (the viewport's
world sum at every zoom equals the row count) before the comparison.

    bench/hierarchy/drift.py GENERATOR_FILE N W [B]
    (GENERATOR_FILE: markers_gen --seed 1 --first 1 --last M output, M >= N + W)

The server comes from the environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
"""
import io
import random
import sys
import time

import psycopg2


def read_markers(path, limit):
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split("\t")
            out.append((int(parts[0]), float(parts[1]), float(parts[2])))
            if len(out) >= limit:
                break
    return out


def per_zoom(cur, h):
    cur.execute("SELECT zoom, count(*) FROM cluster_hierarchy_nodes(%s) GROUP BY 1 ORDER BY 1", (h,))
    return dict(cur.fetchall())


def main():
    path, n, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    # Inserts and moves take a third of the writes each, rounded up to whole statements.
    markers = read_markers(path, n + w)
    if len(markers) < n + w:
        sys.exit("not enough generator markers for N + W")
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET client_min_messages = warning")
    cur.execute("CREATE EXTENSION IF NOT EXISTS geocluster")
    cur.execute("DROP TABLE IF EXISTS drift_markers CASCADE")
    cur.execute("CREATE TABLE drift_markers (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL)")
    buf = io.StringIO("".join("%d\t%r\t%r\n" % m for m in markers[:n]))
    cur.copy_from(buf, "drift_markers", columns=("id", "lat", "lon"))
    t0 = time.time()
    cur.execute("SELECT cluster_hierarchy_create('drift_markers', 'lat', 'lon', 'id')::text")
    h = cur.fetchone()[0]
    print("create: %d markers in %.1f s" % (n, time.time() - t0), flush=True)

    rng = random.Random(1)
    live = [m[0] for m in markers[:n]]
    spare = iter(markers[n:])
    counts = {"insert": 0, "move": 0, "delete": 0}
    t0 = time.time()
    done = 0
    while done < w:
        kind = ("insert", "move", "delete")[(done // batch) % 3]
        k = min(batch, w - done)
        if kind == "insert":
            rows = [next(spare) for _ in range(k)]
            buf = io.StringIO("".join("%d\t%r\t%r\n" % m for m in rows))
            cur.copy_from(buf, "drift_markers", columns=("id", "lat", "lon"))
            live.extend(m[0] for m in rows)
        elif kind == "move":
            ids = rng.sample(live, k)
            pos = [next(spare)[1:] for _ in range(k)]
            cur.execute("UPDATE drift_markers d SET lat = u.lat, lon = u.lon "
                        "FROM unnest(%s::int8[], %s::float8[], %s::float8[]) AS u(id, lat, lon) WHERE d.id = u.id",
                        (ids, [p[0] for p in pos], [p[1] for p in pos]))
        else:
            idx = sorted(rng.sample(range(len(live)), k), reverse=True)
            ids = [live[i] for i in idx]
            for i in idx:
                live[i] = live[-1]
                live.pop()
            cur.execute("DELETE FROM drift_markers WHERE id = ANY(%s::int8[])", (ids,))
        counts[kind] += k
        done += k
        if done % (50 * batch) == 0:
            print("  %d writes, %.1f s" % (done, time.time() - t0), flush=True)
    took = time.time() - t0
    print("writes: %d (%d inserts, %d moves, %d deletes) in statements of %d, %.1f s (%.2f ms a write)"
          % (w, counts["insert"], counts["move"], counts["delete"], batch, took, 1000 * took / max(w, 1)))

    cur.execute("SELECT count(*) FROM drift_markers")
    rows = cur.fetchone()[0]
    cur.execute("SELECT z, (SELECT sum(v.count) FROM cluster_viewport(%s, -90, -180, 90, 180, z) AS v) "
                "FROM generate_series(0, 16) AS z", (h,))
    bad = [(z, c) for z, c in cur.fetchall() if c != rows]
    print("counted: %s (rows %d)" % ("every zoom" if not bad else "NOT at %s" % bad, rows))
    maintained = per_zoom(cur, h)
    t0 = time.time()
    cur.execute("SELECT cluster_hierarchy_create('drift_markers', 'lat', 'lon', 'id')::text")
    fresh_h = cur.fetchone()[0]
    print("fresh build: %.1f s" % (time.time() - t0))
    fresh = per_zoom(cur, fresh_h)
    print("| zoom | maintained | fresh build | ratio |")
    print("|---:|---:|---:|---:|")
    for z in sorted(fresh):
        print("| %d | %s | %s | %.2f |" % (z, f"{maintained.get(z, 0):,}", f"{fresh[z]:,}",
                                           maintained.get(z, 0) / fresh[z]))
    a, b = sum(maintained.values()), sum(fresh.values())
    print("| all | %s | %s | %.2f |" % (f"{a:,}", f"{b:,}", a / b))
    cur.execute("DROP TABLE drift_markers CASCADE")


if __name__ == "__main__":
    main()
