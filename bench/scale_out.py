"""The bench dataset split over three shard servers behind a coordinator (postgres_fdw foreign
partitions, docs/scale-out.md), against the same rows on one server: the same viewports, the
latency per zoom as a ratio sharded / single, and whether every result is byte-for-byte the same.

    bench/scale-out --markers 1000000 [--seed 1] [--zooms 0,3,6,9,12,15] [--viewports 6]
                    [--repeat 3] [--hierarchy] [--out FILE.json] [--dir DIR] [--keep]

Four throwaway servers (scripts/pgtmp, Unix sockets only) under DIR, removed at the end unless
--keep. The single-server table lives on the coordinator (the coordinator's own rows are never
read by the sharded query), so both sides run on the same machine with the same settings. On a
machine with fewer cores than servers the sharded side cannot be faster: what this measures is the
overhead of the shards' round trips and of the merge, and that the results are the same.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import dataset  # noqa: E402
from harness.runner import draw_viewports  # noqa: E402

PGTMP = os.path.join(os.path.dirname(HERE), "scripts", "pgtmp")
SHARDS = 3
# The same settings on every server: parallel query off, so that one query is one process on
# either side (the comparison is of the sharding, not of parallel workers on two cores).
SETTINGS = ["wal_level=minimal", "max_wal_senders=0", "shared_buffers=512MB", "jit=off",
            "max_parallel_workers_per_gather=0", "work_mem=64MB", "maintenance_work_mem=512MB"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Node:
    def __init__(self, name, parent):
        self.name, self.dir = name, os.path.join(parent, name)
        out = subprocess.run([PGTMP, "start", self.dir, *SETTINGS], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        env = dict(w.partition("=")[::2] for w in shlex.split(out) if "=" in w)
        self.host, self.port, self.user = env["PGHOST"], env["PGPORT"], env["PGUSER"]
        self.dbname = env.get("PGDATABASE", "postgres")

    def connect(self):
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.dbname,
                                application_name="geocluster-scale-bench")
        conn.autocommit = True
        return conn

    def stop(self):
        subprocess.run([PGTMP, "stop", self.dir], stdout=subprocess.DEVNULL)


def timed(cur, sql, args=None):
    t0 = time.perf_counter()
    cur.execute(sql, args)
    row = cur.fetchone()
    return time.perf_counter() - t0, row


def balanced_tiles(counts, parts):
    """Contiguous runs of the zoom-2 tiles (Z order) with about the same number of rows each."""
    total = sum(c for _, c in counts)
    runs, run, acc = [], [], 0
    for tile, c in counts:
        run.append(tile)
        acc += c
        if acc >= total * (len(runs) + 1) / parts and len(runs) < parts - 1:
            runs.append(run)
            run = []
    runs.append(run)
    while len(runs) < parts:
        runs.append([])
    return runs


def load(coord, shards, markers, seed, tmpdir):
    exe, _ = dataset.generator_binary(log)
    t0 = time.monotonic()
    conn = coord.connect()
    conn.autocommit = False
    proc = subprocess.Popen([exe, "--seed", str(seed), "--first", "1", "--last", str(markers)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE raw (id bigint, lat float8, lon float8, geohash text, quadkey bigint, geom text)")
        cur.copy_expert("COPY raw FROM STDIN WITH (FREEZE)", proc.stdout, size=1 << 20)
    if proc.wait() != 0:
        raise RuntimeError("markers_gen failed")
    with conn.cursor() as cur:
        # NULL positions go with tile NULL, as in the test (the generator makes none)
        cur.execute("""CREATE TABLE single AS
                       SELECT id, lat, lon, public.quadkey_to_bigint(public.quadkey(lat, lon, 2))::int AS tile FROM raw""")
        cur.execute("DROP TABLE raw")
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE INDEX single_lat_lon_id ON single (lat, lon) INCLUDE (id)")
        cur.execute("VACUUM (FREEZE, ANALYZE) single")
        # every tile of zoom 2, with or without rows, so that any marker has a partition
        cur.execute("""SELECT t, count(s.tile) FROM generate_series(0, 15) t LEFT JOIN single s ON s.tile = t
                       GROUP BY t ORDER BY t""")
        counts = cur.fetchall()
    single_s = time.monotonic() - t0
    runs = balanced_tiles(counts, len(shards))
    log(f"bench: single table loaded in {single_s:.1f} s; shards' tiles: {runs}")
    shard_load = []
    for shard, tiles in zip(shards, runs):
        t1 = time.monotonic()
        path = os.path.join(tmpdir, f"{shard.name}.copy")
        with open(path, "w") as f, conn.cursor() as cur:
            cur.copy_expert(f"COPY (SELECT id, lat, lon, tile FROM single WHERE tile = ANY(ARRAY{tiles or [-1]}::int[])) TO STDOUT", f)
        sc = shard.connect()
        sc.autocommit = False
        with sc.cursor() as cur, open(path) as f:
            cur.execute("CREATE TABLE markers_part (id bigint, lat float8, lon float8, tile int)")
            cur.copy_expert("COPY markers_part FROM STDIN WITH (FREEZE)", f, size=1 << 20)
        sc.commit()
        sc.autocommit = True
        with sc.cursor() as cur:
            cur.execute("CREATE INDEX markers_part_lat_lon_id ON markers_part (lat, lon) INCLUDE (id)")
            cur.execute("VACUUM (FREEZE, ANALYZE) markers_part")
            cur.execute("SELECT count(*), pg_relation_size('markers_part'), pg_total_relation_size('markers_part') FROM markers_part")
            rows, heap, total = cur.fetchone()
        sc.close()
        os.unlink(path)
        shard_load.append({"shard": shard.name, "tiles": tiles, "rows": rows, "heap_bytes": heap,
                           "total_bytes": total, "load_s": round(time.monotonic() - t1, 2)})
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION postgres_fdw")
        cur.execute("CREATE TABLE markers (id bigint, lat float8, lon float8, tile int) PARTITION BY LIST (tile)")
        for i, (shard, tiles) in enumerate(zip(shards, runs)):
            cur.execute(f"""CREATE SERVER {shard.name} FOREIGN DATA WRAPPER postgres_fdw
                            OPTIONS (host %s, port %s, dbname %s, extensions 'geocluster', async_capable 'true')""",
                        (shard.host, str(shard.port), shard.dbname))
            cur.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {shard.name}")
            values = ", ".join(["NULL"] if i == 0 else []) + (", " if i == 0 and tiles else "") + ", ".join(map(str, tiles))
            cur.execute(f"""CREATE FOREIGN TABLE markers_{shard.name} PARTITION OF markers FOR VALUES IN ({values or '-1'})
                            SERVER {shard.name} OPTIONS (table_name 'markers_part')""")
    conn.close()
    return {"single_load_s": round(single_s, 2), "shards": shard_load}


def viewport_args(vp):
    if len(vp.lon_ranges) == 2:  # across the antimeridian: (west, 180) and (-180, east)
        west, east = vp.lon_ranges[0][0], vp.lon_ranges[1][1]
    else:
        west, east = vp.lon_ranges[0]
    return vp.lat_min, west, vp.lat_max, east


def run(args):
    zooms = [int(z) for z in args.zooms.split(",")]
    parent = args.dir or tempfile.mkdtemp(prefix="geocluster-scale-bench.")
    os.makedirs(parent, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres", parent], check=True)
    nodes = []
    try:
        coord = Node("coordinator", parent)
        nodes.append(coord)
        shards = []
        for i in range(SHARDS):
            shards.append(Node(f"shard{i + 1}", parent))
            nodes.append(shards[-1])
        for n in nodes:
            c = n.connect()
            c.cursor().execute("CREATE EXTENSION geocluster")
            c.close()
        loaded = load(coord, shards, args.markers, args.seed, parent)
        conn = coord.connect()
        cur = conn.cursor()
        vps = draw_viewports(conn, "single", args.markers, zooms, args.viewports, args.seed)
        result = {"markers": args.markers, "seed": args.seed, "settings": SETTINGS, "load": loaded,
                  "zooms": [], "state_bytes": {}, "merge_ms": {}, "world_state_ms": {}}
        # per zoom: the latency of the same viewport on both sides, and the bytes of the results
        for zoom in zooms:
            rows = []
            for vp in vps[zoom]:
                s, w, n, e = viewport_args(vp)
                lon_sql = " OR ".join(f"lon BETWEEN {a!r} AND {b!r}" for a, b in vp.lon_ranges)
                single_sql = (f"SELECT md5(array_send(c)), cardinality(c) FROM (SELECT cluster_agg(lat, lon, {zoom}, 60::float8, id) AS c "
                              f"FROM single WHERE lat BETWEEN {s!r} AND {n!r} AND ({lon_sql})) q")
                sharded_sql = (f"SELECT md5(array_send(c)), cardinality(c) FROM (SELECT cluster_agg_sharded('markers'::regclass, 'tile', "
                               f"{s!r}::float8, {w!r}::float8, {n!r}::float8, {e!r}::float8, {zoom}, 60::float8) AS c) q")
                res, times = {}, {"single": [], "sharded": []}
                for side, sql in (("single", single_sql), ("sharded", sharded_sql)):
                    _, res[side] = timed(cur, sql)  # warm-up
                for _ in range(args.repeat):  # interleaved, so drift hits both alike
                    for side, sql in (("single", single_sql), ("sharded", sharded_sql)):
                        t, r = timed(cur, sql)
                        times[side].append(t)
                        if r != res[side]:
                            raise RuntimeError(f"{side} differs between runs at zoom {zoom}")
                rows.append({"viewport": vp.as_dict(), "equal": res["single"] == res["sharded"],
                             "clusters": res["single"][1],
                             "single_ms": statistics.median(times["single"]) * 1e3,
                             "sharded_ms": statistics.median(times["sharded"]) * 1e3})
            single = statistics.median(r["single_ms"] for r in rows)
            sharded = statistics.median(r["sharded_ms"] for r in rows)
            result["zooms"].append({"zoom": zoom, "viewports": len(rows), "equal": sum(r["equal"] for r in rows),
                                    "single_ms": round(single, 2), "sharded_ms": round(sharded, 2),
                                    "ratio": round(sharded / single, 2) if single else None,
                                    "clusters_median": statistics.median(r["clusters"] or 0 for r in rows),
                                    "rows": rows})
            log(f"bench: zoom {zoom}: single {single:.1f} ms, sharded {sharded:.1f} ms")
        # the whole world on each shard: the state's size per zoom, its time, and the merge alone
        for zoom in zooms:
            sizes, ms = [], []
            for shard in shards:
                sc = shard.connect()
                try:
                    t, (nbytes,) = timed(sc.cursor(), f"SELECT length(cluster_state_agg(lat, lon, {zoom}, 60::float8, id)) FROM markers_part")
                    sizes.append(nbytes or 0)
                    ms.append(round(t * 1e3, 1))
                except psycopg2.Error as e:  # the state memory limit, at deep zooms over the world
                    sizes.append(f"{e.pgcode}: {e.pgerror.splitlines()[0]}")
                    ms.append(None)
                sc.close()
            result["state_bytes"][zoom] = sizes
            result["world_state_ms"][zoom] = ms
            try:
                cur.execute("DROP TABLE IF EXISTS states")
                cur.execute(f"""CREATE TABLE states AS SELECT cluster_state_agg(lat, lon, {zoom}, 60::float8, id) AS state
                                FROM single GROUP BY tile""")
                merges = [timed(cur, "SELECT cardinality(cluster_agg(state)) FROM states")[0] for _ in range(3)]
                result["merge_ms"][zoom] = round(statistics.median(merges) * 1e3, 1)
            except psycopg2.Error as e:
                result["merge_ms"][zoom] = f"{e.pgcode}: {e.pgerror.splitlines()[0]}"
        if args.hierarchy:
            result["hierarchy_build_s"] = {}
            t, _ = timed(cur, "SELECT cluster_hierarchy_create('single', 'lat', 'lon', 'id', 60, 16)::text")
            result["hierarchy_build_s"]["single"] = round(t, 1)
            for shard in shards:
                sc = shard.connect()
                t, _ = timed(sc.cursor(), "SELECT cluster_hierarchy_create('markers_part', 'lat', 'lon', 'id', 60, 16)::text")
                result["hierarchy_build_s"][shard.name] = round(t, 1)
                sc.close()
        conn.close()
    finally:
        if not args.keep:
            for n in nodes:
                n.stop()
            if not args.dir:
                os.rmdir(parent)
    return result


def report(result):
    print(f"scale-out benchmark: {result['markers']:,} markers, seed {result['seed']}, 3 shards + coordinator, "
          f"one machine ({os.cpu_count()} cores); settings {' '.join(result['settings'])}")
    for s in result["load"]["shards"]:
        print(f"  {s['shard']}: tiles {s['tiles']}, {s['rows']:,} rows, heap {s['heap_bytes'] / s['rows']:.1f} B/row, "
              f"with index {s['total_bytes'] / s['rows']:.1f} B/row" if s["rows"] else f"  {s['shard']}: empty")
    print()
    print("| zoom | viewports | equal | clusters (median) | single ms (median) | sharded ms (median) | sharded / single |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for z in result["zooms"]:
        print(f"| {z['zoom']} | {z['viewports']} | {z['equal']} | {z['clusters_median']} | {z['single_ms']} | "
              f"{z['sharded_ms']} | {z['ratio']} |")
    print()
    print("| zoom | world state bytes per shard | cluster_state_agg ms per shard (whole shard) | merge ms (cluster_agg over the 16 tile states) |")
    print("|---:|---|---|---:|")
    for zoom, sizes in result["state_bytes"].items():
        print(f"| {zoom} | {', '.join(f'{b:,}' if isinstance(b, int) else b for b in sizes)} | {', '.join(map(str, result['world_state_ms'][zoom]))} | "
              f"{result['merge_ms'][zoom]} |")
    if "hierarchy_build_s" in result:
        print()
        print("hierarchy build (s): " + ", ".join(f"{k} {v}" for k, v in result["hierarchy_build_s"].items()))
    equal = all(z["equal"] == z["viewports"] for z in result["zooms"])
    print()
    print("results: " + ("every sharded result is byte-for-byte the single server's" if equal else "DIFFERENCES (see the JSON)"))
    return equal


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--markers", type=int, default=1000000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--zooms", default="0,3,6,9,12,15")
    p.add_argument("--viewports", type=int, default=6)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--hierarchy", action="store_true", help="also time cluster_hierarchy_create on each side")
    p.add_argument("--out", help="results as JSON")
    p.add_argument("--dir", help="parent directory of the four servers (default: a new one in /tmp)")
    p.add_argument("--keep", action="store_true", help="leave the servers running")
    args = p.parse_args()
    result = run(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    sys.exit(0 if report(result) else 1)


if __name__ == "__main__":
    main()
