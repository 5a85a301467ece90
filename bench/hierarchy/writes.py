#!/usr/bin/env python3
"""Writes to a table with a cluster hierarchy against the same table without one (issue 17's
Performance section), in one run, on a throwaway server (scripts/pgtmp) that is stopped at the end.

    bench/hierarchy/writes.py [--markers N] [--seconds T] [--copy-rows M] [--durability on|off|both]
    bench/hierarchy/writes.py --smoke          N = 20,000, T = 3 s, M = 5,000: under a minute

Tables: w_plain and w_hier (id bigint PRIMARY KEY, lat, lon float8), each the generator's rows
1..N (bench/gen/markers_gen.cpp, seed 1); w_hier gets cluster_hierarchy_create(w_hier, 'lat',
'lon', 'id') (60 px, zooms 0..16). No other index: the plain insert is as cheap as it gets, so the
ratios are the hierarchy's worst case. Positions of new rows: the generator's rows N+1..N+E
(w_extra), one at random per insert; ids from a sequence. Per durability setting, both tables are
made again, then:

  1. single-row inserts, pgbench (simple protocol): 1 client for T/3 s, then 8 clients / 2 threads
     for T s, plain and hierarchy alternated, --repeat times; tps, average and p95 latency (from pgbench's
     per-transaction log), ratios hierarchy / plain
  2. reads: cluster_viewport on w_hier at zooms 0,3,6,9,12,15 (viewport.py's boxes, centred on
     random markers), each viewport the median of 5 runs after a warm-up; p95 quiet, then while
     8 pgbench writers insert into w_hier, and the ratio
  3. COPY of M generator rows (N+1..N+M) into each table, seconds and ratio, each bounded by
     --copy-timeout; refused at geocluster.max_state_memory (54000), the hierarchy's is tried
     again with --copy-state-memory
  4. failures: pgbench retries 40001/40P01 (--max-tries); every ERROR the server logged during
     phases 1-2, by SQLSTATE (log_line_prefix carries %e), and pgbench's aborted clients
  6. with --copy-floors, what the COPY goal leaves the hierarchy (twice the plain COPY's time)
     against two floors measured in the same run: cluster_hierarchy_rebuild of w_hier after the
     COPY (the build's sweep over every row, rolled back), and the core alone inserting M
     generator rows into an in-memory hierarchy of --floor-core-markers rows, in the stored
     writer's order and chunks (bench/micro/hierarchy_update_bench.cpp --bulk: no storage, no SQL,
     CPU time of its thread)

The load average is printed next to every number. PGBIN names the server's binaries (default
pg_config's); the server has geocluster installed.
"""
import argparse
import datetime
import hashlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, HERE)
from harness import dataset  # noqa: E402
from viewport import box  # noqa: E402

ZOOMS = (0, 3, 6, 9, 12, 15)
QUIET_PASSES = 3
ROWS = {}  # zoom -> clusters each viewport call returned (its warm-up's), to print beside the times
# The server's settings besides durability: the dataset and the hierarchy stay in memory, and no
# checkpoint is forced by WAL volume inside a phase (each phase starts after a CHECKPOINT).
SERVER = ["shared_buffers=1GB", "max_wal_size=8GB", "checkpoint_timeout=30min", "max_connections=40", "jit=off",
          "log_line_prefix='%m [%p] %e '", "log_min_messages=warning"]
DURABILITY = {"on": ["fsync=on", "synchronous_commit=on"], "off": ["fsync=off", "synchronous_commit=on"]}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


class Pg:
    """The throwaway server: scripts/pgtmp start, with the settings above."""

    def __init__(self, settings):
        out = subprocess.run([os.path.join(ROOT, "scripts", "pgtmp"), "start", *settings], check=True,
                             capture_output=True, text=True).stdout
        self.env = dict(os.environ)
        for k, v in re.findall(r"(\w+)='?([^' ]*)'?", out):
            self.env[k] = v
        self.dir = self.env["GEOCLUSTER_PGTMP"]
        for kv in settings:  # a port= setting comes after pgtmp's own line, and wins
            if kv.replace(" ", "").startswith("port="):
                self.env["PGPORT"] = kv.split("=", 1)[1].strip()
        self.dsn = f"host={self.env['PGHOST']} port={self.env['PGPORT']} user=postgres dbname=postgres"

    def connect(self):
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        return conn

    def log_size(self):
        return os.path.getsize(os.path.join(self.dir, "server.log"))

    def errors_since(self, offset):
        """SQLSTATE -> count of the ERROR lines the server logged after offset."""
        counts = {}
        with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
            f.seek(offset)
            for line in f:
                m = re.match(r"\S+ \S+ \S+ \[\d+\] (\w{5}) (ERROR|FATAL|PANIC):", line)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "pgtmp"), "stop", self.dir], check=False)


def load_dataset(pg, n, extra):
    """w_src (ids 1..n) and w_extra (ids n+1..n+extra, k = 1..extra) from the generator."""
    exe, _ = dataset.generator_binary(log)
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION geocluster")
    cur.execute("CREATE UNLOGGED TABLE w_gen (id bigint, lat float8, lon float8, geohash text, quadkey bigint, "
                "geom text)")
    gen = subprocess.Popen([exe, "--seed", "1", "--first", "1", "--last", str(n + extra)], stdout=subprocess.PIPE)
    cur.copy_expert("COPY w_gen FROM STDIN", gen.stdout, size=1 << 20)
    if gen.wait() != 0:
        raise SystemExit("writes: markers_gen failed")
    cur.execute("CREATE TABLE w_src AS SELECT id, lat, lon FROM w_gen WHERE id <= %s", (n,))
    cur.execute("CREATE TABLE w_extra AS SELECT id - %s AS k, id, lat, lon FROM w_gen WHERE id > %s", (n, n))
    cur.execute("ALTER TABLE w_extra ADD PRIMARY KEY (k)")
    cur.execute("DROP TABLE w_gen")
    cur.execute("VACUUM ANALYZE w_src, w_extra")
    conn.close()


def make_tables(pg, n):
    """w_plain and w_hier, n rows each, the hierarchy on w_hier; returns its create's seconds."""
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT to_regclass('w_hier_clusters') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute("SELECT cluster_hierarchy_drop('w_hier_clusters')")
    cur.execute("DROP TABLE IF EXISTS w_plain, w_hier")
    cur.execute("DROP SEQUENCE IF EXISTS w_ids")
    cur.execute("CREATE SEQUENCE w_ids START 1000000000")
    for t in ("w_plain", "w_hier"):
        cur.execute(f"CREATE TABLE {t} (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL)")
        cur.execute(f"INSERT INTO {t} SELECT id, lat, lon FROM w_src ORDER BY id")
    t0 = time.monotonic()
    cur.execute("SELECT cluster_hierarchy_create('w_hier', 'lat', 'lon', 'id')")
    took = time.monotonic() - t0
    cur.execute("VACUUM ANALYZE w_plain, w_hier")
    cur.execute("CHECKPOINT")
    conn.close()
    return took


def pgbench(pg, work, table, clients, seconds, extra, tag):
    """Starts pgbench inserting into table; returns (process, log prefix)."""
    script = os.path.join(work, f"insert_{table}.sql")
    with open(script, "w") as f:
        f.write(f"\\set k random(1, {extra})\n"
                f"INSERT INTO {table} (id, lat, lon) SELECT nextval('w_ids'), lat, lon FROM w_extra WHERE k = :k;\n")
    prefix = os.path.join(work, tag)
    cmd = [os.path.join(os.environ.get("PGBIN", ""), "pgbench") if os.environ.get("PGBIN") else "pgbench",
           "-n", "-c", str(clients), "-j", str(min(2, clients)), "-T", str(seconds), "-f", script,
           "--max-tries", "10", "--failures-detailed", "-l", "--log-prefix", prefix]
    proc = subprocess.Popen(cmd, env=pg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
    return proc, prefix


def pgbench_result(proc, prefix):
    out, err = proc.communicate()
    lat_us, failed = [], 0
    d, base = os.path.dirname(prefix), os.path.basename(prefix)
    for name in os.listdir(d):
        if name.startswith(base + "."):
            with open(os.path.join(d, name)) as f:
                for line in f:
                    fields = line.split()
                    if fields[2].isdigit():
                        lat_us.append(int(fields[2]))
                    else:
                        failed += 1
    field = lambda pat: (re.search(pat, out) or [None, "0"])[1]  # noqa: E731
    return {"tps": float(field(r"tps = ([\d.]+) \(without initial")),
            "avg_ms": statistics.mean(lat_us) / 1000 if lat_us else float("nan"),
            "p95_ms": pct(lat_us, 95) / 1000, "xacts": len(lat_us), "failed": failed,
            "retried": int(field(r"number of transactions retried: (\d+)")),
            "serialization": int(field(r"number of serialization failures: (\d+)")),
            "deadlock": int(field(r"number of deadlock failures: (\d+)")),
            "aborted": len(re.findall(r"client \d+ aborted", err)), "rc": proc.returncode,
            "stderr": "\n".join(err.strip().splitlines()[:3])}


def run_inserts(pg, work, table, clients, seconds, extra, tag):
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("CHECKPOINT")
    cur.execute("SELECT pg_current_wal_lsn()")
    lsn0 = cur.fetchone()[0]
    conn.close()
    before = load()
    r = pgbench_result(*pgbench(pg, work, table, clients, seconds, extra, tag))
    if r["xacts"] == 0:
        raise SystemExit(f"writes: pgbench committed nothing: {r['stderr']}")
    r["load"] = f"{before} -> {load()}"
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn0,))
    r["wal_kb"] = float(cur.fetchone()[0]) / 1024 / r["xacts"]  # (the CHECKPOINT's record too: a few bytes)
    conn.close()
    return r


def hierarchy_mb(pg):
    """The hierarchy's three block tables, with their TOAST and indexes, in MB."""
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT sum(pg_total_relation_size(c)) / 1048576.0 FROM unnest(ARRAY['w_hier_clusters', "
                "'w_hier_clusters_members', 'w_hier_clusters_slots']::regclass[]) AS c")
    mb = float(cur.fetchone()[0])
    conn.close()
    return mb


def viewports(pg, per_zoom):
    """(zoom, box) of per_zoom viewports per zoom, centred on markers drawn by id (seed 1)."""
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT setseed(0.1)")
    cur.execute("SELECT lat, lon FROM w_src ORDER BY random() LIMIT %s", (per_zoom * len(ZOOMS),))
    centres = cur.fetchall()
    conn.close()
    return [(z, box(*centres[i * per_zoom + j], z)) for i, z in enumerate(ZOOMS) for j in range(per_zoom)]


def read_pass(pg, vps, per_zoom=None):
    """Per zoom, each viewport's median of 5 runs (after one warm-up), in ms, appended to per_zoom."""
    conn = pg.connect()
    cur = conn.cursor()
    sql = ("SELECT count, lat, lon FROM cluster_viewport('w_hier_clusters'::regclass, %s, %s, %s, %s, %s)")
    per_zoom = per_zoom if per_zoom is not None else {z: [] for z in ZOOMS}
    for z, (s, w, n, e) in vps:
        args = (s, w, n, e, z)
        cur.execute(sql, args)
        ROWS.setdefault(z, []).append(len(cur.fetchall()))
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            cur.execute(sql, args)
            cur.fetchall()
            runs.append((time.perf_counter() - t0) * 1000)
        per_zoom[z].append(statistics.median(runs))
    conn.close()
    return per_zoom


def run_reads(pg, work, extra, per_zoom, writer_seconds, tag):
    """QUIET_PASSES passes over the viewports on the quiet table, then passes for as long as 8
    writers insert (writer_seconds, at least one pass): each pass gives one median per viewport."""
    vps = viewports(pg, per_zoom)
    read_pass(pg, vps)  # the hierarchy's blocks into shared buffers
    quiet_load = load()
    t0 = time.monotonic()
    quiet = {z: [] for z in ZOOMS}
    for _ in range(QUIET_PASSES):
        read_pass(pg, vps, quiet)
    quiet_s = time.monotonic() - t0
    quiet_load += f" -> {load()}"
    proc, prefix = pgbench(pg, work, "w_hier", 8, writer_seconds, extra, tag)
    time.sleep(1.5)  # the writers connected and inserting
    busy_load = load()
    t0 = time.monotonic()
    busy = {z: [] for z in ZOOMS}
    passes, covered = 0, True
    while passes == 0 or proc.poll() is None:
        read_pass(pg, vps, busy)
        passes += 1
        covered = proc.poll() is None if passes == 1 else covered
    busy_s = time.monotonic() - t0
    busy_load += f" -> {load()}"
    writers = pgbench_result(proc, prefix)
    return {"quiet": quiet, "busy": busy, "quiet_load": quiet_load, "busy_load": busy_load, "quiet_s": quiet_s,
            "busy_s": busy_s, "covered": covered, "writers": writers, "writer_s": writer_seconds,
            "passes": passes}


def copy_into(cur, buf, table, timeout_s, state_memory=None):
    """One COPY, committed: (seconds, load, SQLSTATE of its error or None)."""
    cur.execute("CHECKPOINT")
    cur.execute(f"SET statement_timeout = '{int(timeout_s)}s'")
    if state_memory:
        cur.execute("SELECT set_config('geocluster.max_state_memory', %s, false)", (state_memory,))
    buf.seek(0)
    before = load()
    t0 = time.monotonic()
    try:
        cur.copy_expert(f"COPY {table} (id, lat, lon) FROM STDIN", buf)
        state = None
    except psycopg2.Error as e:
        state = e.pgcode
    took = time.monotonic() - t0
    cur.execute("RESET ALL")
    return took, f"{before} -> {load()}", state


def run_copy(pg, m, timeout_s, state_memory):
    """COPY of the generator's rows n+1..n+m into each table. When the hierarchy's COPY is refused
    at geocluster.max_state_memory (54000), it is tried again with state_memory."""
    conn = pg.connect()
    cur = conn.cursor()
    buf = tempfile.TemporaryFile()
    cur.copy_expert(f"COPY (SELECT id, lat, lon FROM w_extra WHERE k <= {m} ORDER BY k) TO STDOUT", buf)
    out = {t: copy_into(cur, buf, t, timeout_s) for t in ("w_plain", "w_hier")}
    if out["w_hier"][2] == "54000" and state_memory:
        out[f"w_hier, max_state_memory {state_memory}"] = copy_into(cur, buf, "w_hier", timeout_s, state_memory)
    conn.close()
    return out


def fmt_ins(name, r):
    return (f"  {name:22s} tps {r['tps']:9.1f}  avg {r['avg_ms']:8.2f} ms  p95 {r['p95_ms']:8.2f} ms  "
            f"xacts {r['xacts']:7d}  retried {r['retried']}  failed {r['failed']}  aborted {r['aborted']}  "
            + (f"WAL {r['wal_kb']:.1f} kB/xact  " if "wal_kb" in r else "") + f"load {r['load']}")


def durability_round(pg, args, work, mode, extra):
    """One durability setting: fresh tables, then phases 1-3. Prints as it goes; returns a summary."""
    conn = pg.connect()
    cur = conn.cursor()
    for kv in DURABILITY[mode]:
        k, v = kv.split("=")
        cur.execute(f"ALTER SYSTEM SET {k} = {v}")
    cur.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    cur.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
    fsync, sync = cur.fetchone()
    conn.close()
    print(f"\n== fsync={fsync}, synchronous_commit={sync}")
    create_s = make_tables(pg, args.markers)
    print(f"tables made, cluster_hierarchy_create: {create_s:.1f} s (load {load()})")
    made_mb = hierarchy_mb(pg)
    log_at = pg.log_size()
    res = {"mode": mode, "ins": {}}
    print(f"1. single-row inserts, {args.seconds} s per run")
    for clients, secs in ((1, args.single_seconds), (8, args.seconds)):
        for rep in range(args.repeat):
            for t in ("w_plain", "w_hier"):
                r = run_inserts(pg, work, t, clients, secs, extra, f"{mode}_{clients}_{t}_{rep}")
                res["ins"].setdefault((clients, t), []).append(r)
                print(fmt_ins(f"{clients} client(s) {t}", r), flush=True)
                if r["stderr"]:
                    print(f"    pgbench stderr: {r['stderr']}")
        a = res["ins"][(clients, "w_plain")]
        b = res["ins"][(clients, "w_hier")]
        tps_ratio = [y["tps"] / x["tps"] for x, y in zip(a, b)]
        lat_ratio = [y["avg_ms"] / x["avg_ms"] for x, y in zip(a, b)]
        print(f"  {clients} client(s): tps hier/plain per run {', '.join(f'{x:.3f}' for x in tps_ratio)}; "
              f"avg latency hier/plain {', '.join(f'{x:.2f}' for x in lat_ratio)}")
    print(f"2. cluster_viewport p95, {args.viewports} viewports per zoom {ZOOMS}")
    ROWS.clear()
    rd = run_reads(pg, work, extra, args.viewports, max(10, args.seconds), f"{mode}_reads_load")
    res["reads"] = rd
    allq = [x for z in ZOOMS for x in rd["quiet"][z]]
    allb = [x for z in ZOOMS for x in rd["busy"][z]]
    print(f"  {'zoom':>4s} {'quiet p95 ms':>13s} {'loaded p95 ms':>14s} {'ratio':>7s} {'clusters (median)':>18s}")
    for z in ZOOMS:
        q, b = pct(rd["quiet"][z], 95), pct(rd["busy"][z], 95)
        print(f"  {z:4d} {q:13.3f} {b:14.3f} {b / q:7.2f} {statistics.median(ROWS[z]):18.0f}")
    print(f"  {'all':>4s} {pct(allq, 95):13.3f} {pct(allb, 95):14.3f} {pct(allb, 95) / pct(allq, 95):7.2f}")
    print(f"  quiet: {QUIET_PASSES} passes, {rd['quiet_s']:.1f} s (load {rd['quiet_load']}); loaded: "
          f"{rd['passes']} passes, {rd['busy_s']:.1f} s (load {rd['busy_load']}) while the writers ran "
          f"{rd['writer_s']} s{'' if rd['covered'] else ' (they ENDED BEFORE the first loaded pass did)'}; "
          f"p95 over the passes' per-viewport medians")
    rd["writers"]["load"] = rd["busy_load"]
    print(fmt_ins("writers during reads", rd["writers"]))
    errors = pg.errors_since(log_at)
    res["errors"] = errors
    print("4. failures in 1 and 2 (server log, by SQLSTATE): "
          + (", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"))
    print(f"3. COPY of {args.copy_rows} rows (generator ids {args.markers + 1}..{args.markers + args.copy_rows})")
    cp = run_copy(pg, args.copy_rows, args.copy_timeout, args.copy_state_memory)
    res["copy"] = cp
    for t, (took, ld, state) in cp.items():
        what = "" if state is None else f" FAILED, SQLSTATE {state}" + (" (the timeout)" if state == "57014" else "")
        print(f"  {t:36s} {took:8.2f} s{what}  load {ld}")
    print(f"  ratio hier/plain {copy_ratio(cp)}")
    if args.copy_floors and cp["w_plain"][2] is None:
        res["floors"] = copy_floors(pg, args, cp)
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM w_hier")
    rows = cur.fetchone()[0]
    conn.close()
    print(f"5. the hierarchy's tables (with TOAST and indexes): {made_mb:.1f} MB after the create, "
          f"{hierarchy_mb(pg):.1f} MB after phases 1-3 ({rows - args.markers} rows written; no VACUUM "
          f"but autovacuum's)")
    return res


def core_bench_binary():
    """bench/micro/hierarchy_update_bench.cpp with the core, compiled once per version of the sources."""
    srcs = sorted(os.path.join(ROOT, "src", "core", f) for f in os.listdir(os.path.join(ROOT, "src", "core"))
                  if f.endswith((".cpp", ".hpp")))
    main_src = os.path.join(BENCH, "micro", "hierarchy_update_bench.cpp")
    h = hashlib.sha256()
    for f in [main_src, os.path.join(BENCH, "micro", "bench_common.hpp"), *srcs]:
        with open(f, "rb") as fh:
            h.update(fh.read())
    exe = os.path.join(dataset.BUILD, f"hierarchy_update_bench-{h.hexdigest()[:12]}")
    if not os.path.exists(exe):
        os.makedirs(dataset.BUILD, exist_ok=True)
        log(f"writes: compiling {os.path.relpath(exe, BENCH)}")
        tmp = f"{exe}.tmp{os.getpid()}"
        subprocess.run(["g++", *dataset.CXXFLAGS, "-DNDEBUG", "-I", os.path.join(ROOT, "src", "core"), "-o", tmp,
                        main_src, *[f for f in srcs if f.endswith(".cpp")]], check=True)
        os.replace(tmp, exe)
    return exe


def copy_floors(pg, args, cp):
    """Phase 6: the rebuild of w_hier and the core's inserts alone, against the plain COPY."""
    plain = cp["w_plain"][0]
    budget = 2 * plain  # <= 3x the plain COPY leaves the hierarchy twice its time
    print(f"6. floors of the COPY goal: <= 3x leaves the hierarchy {budget:.2f} s for {args.copy_rows} rows "
          f"({budget * 1e6 / args.copy_rows:.2f} us a row)")
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM w_hier")
    rows = cur.fetchone()[0]
    cur.execute("CHECKPOINT")
    before = load()
    cur.execute("BEGIN")
    t0 = time.monotonic()
    cur.execute("SELECT cluster_hierarchy_rebuild('w_hier_clusters')")
    rebuild = time.monotonic() - t0
    cur.execute("ROLLBACK")
    conn.close()
    print(f"  cluster_hierarchy_rebuild of the {rows} rows (rolled back): {rebuild:.2f} s, "
          f"{rebuild / plain:.1f}x the plain COPY (load {before} -> {load()})")
    k = min(args.markers, args.floor_core_markers)
    exe, _ = dataset.generator_binary(log)
    core = core_bench_binary()
    before = load()
    gen = subprocess.Popen([exe, "--seed", "1", "--first", "1", "--last", str(k + args.copy_rows)],
                           stdout=subprocess.PIPE)
    out = subprocess.run([core, "--markers", str(k), "--writes", str(args.copy_rows), "--bulk", "4000"],
                         stdin=gen.stdout, capture_output=True, text=True)
    gen.stdout.close()
    gen.wait()
    m = re.search(r"CPU ([0-9.]+) s, ([0-9.]+) us an insert", out.stdout)
    if out.returncode != 0 or m is None:
        print(f"  the core's inserts FAILED: {out.stderr.strip() or out.stdout.strip()}")
        return {"rebuild": rebuild, "plain": plain}
    core_s = float(m.group(1))
    print(f"  the core alone, {args.copy_rows} inserts into {k} markers held in memory (generator rows "
          f"{k + 1}..{k + args.copy_rows}), chunks of 4000 in the writer's order: {core_s:.2f} s of CPU, "
          f"{m.group(2)} us an insert, {core_s / plain:.1f}x the plain COPY (load {before} -> {load()})")
    return {"rebuild": rebuild, "plain": plain, "core": core_s}


def copy_ratio(cp):
    """The hierarchy's successful COPY against the plain one, or why there is none."""
    plain = cp["w_plain"]
    if plain[2] is not None:
        return f"n/a (the plain COPY failed, {plain[2]})"
    done = [(t, v) for t, v in cp.items() if t != "w_plain" and v[2] is None]
    if not done:
        return f"> {max(v[0] for v in cp.values()) / plain[0]:.0f} (no COPY into w_hier finished)"
    t, v = done[0]
    return f"{v[0] / plain[0]:.2f}" + ("" if t == "w_hier" else f" ({t})")


def summary(results, args):
    print("\n== summary (ratios hierarchy / plain; goals: 8-client tps >= 1/3, COPY <= 3x)")
    for res in results:
        i = res["ins"]
        med = lambda k, f: statistics.median(r[f] for r in i[k])  # noqa: E731
        t8 = med((8, "w_hier"), "tps") / med((8, "w_plain"), "tps")
        l1 = (med((1, "w_plain"), "avg_ms"), med((1, "w_hier"), "avg_ms"))
        rd = res["reads"]
        q = pct([x for z in ZOOMS for x in rd["quiet"][z]], 95)
        b = pct([x for z in ZOOMS for x in rd["busy"][z]], 95)
        cp = res["copy"]
        print(f"fsync {res['mode']:3s}: 8-client tps {med((8, 'w_plain'), 'tps'):.0f} -> "
              f"{med((8, 'w_hier'), 'tps'):.0f} ({t8:.3f}, goal >= 0.333: {'met' if t8 >= 1 / 3 else 'NOT met'}); "
              f"one insert alone {l1[0]:.2f} -> {l1[1]:.2f} ms ({l1[1] / l1[0]:.2f}x); "
              f"viewport p95 quiet {q:.2f} -> loaded {b:.2f} ms ({b / q:.2f}x); "
              f"COPY {args.copy_rows} rows: hier/plain {copy_ratio(cp)} (goal <= 3); "
              f"errors {res['errors'] or 'none'}")
        fl = res.get("floors")
        if fl:
            core = f"; the core's inserts alone {fl['core'] / fl['plain']:.1f}x" if "core" in fl else ""
            print(f"  floors: the rebuild {fl['rebuild'] / fl['plain']:.1f}x the plain COPY{core}")


def header(pg, args):
    git = lambda *a: subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()  # noqa
    commit = f"{git('log', '-1', '--format=%h %cd', '--date=short')} (src/ last changed in " \
             f"{git('log', '-1', '--format=%h', '--', 'src')})"
    dirty = git("status", "--porcelain", "--", "src")
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    conn = pg.connect()
    cur = conn.cursor()
    cur.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name IN ('server_version', "
                "'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_level', 'max_connections', "
                "'wal_sync_method', 'work_mem', 'jit') ORDER BY name")
    settings = ", ".join(f"{n}={s}" for n, s in cur.fetchall())
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'geocluster'")
    ext = cur.fetchone()[0]
    conn.close()
    print(f"writes benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: "
          f"{' '.join(sys.argv)}")
    print(f"machine: {platform.node()}, {cpu}, {os.cpu_count()} cores, load {load()}")
    print(f"commit {commit}{' (src/ modified)' if dirty else ''}, geocluster {ext}")
    print(f"N = {args.markers}, M = {args.copy_rows}, T = {args.seconds} s (1 client: {args.single_seconds} s), "
          f"repeat {args.repeat}, {args.viewports} viewports per zoom, durability {args.durability}")
    print(f"settings: {settings}; pgbench simple protocol, --max-tries 10; tables (id bigint PRIMARY KEY, lat, "
          f"lon), no other index")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--markers", type=int, default=1_000_000, help="N, rows of each table (default 1000000)")
    p.add_argument("--seconds", type=int, default=30, help="T, seconds of each 8-client run (default 30)")
    p.add_argument("--single-seconds", type=int, help="seconds of each 1-client run (default T / 3, at least 3)")
    p.add_argument("--copy-rows", type=int, default=100_000, help="M, rows of the COPY (default 100000)")
    p.add_argument("--copy-timeout", type=int, default=300,
                   help="statement_timeout of each COPY in seconds (default 300): the run stays bounded")
    p.add_argument("--copy-state-memory", default="2GB",
                   help="geocluster.max_state_memory of a second COPY into the hierarchy when the first is "
                        "refused at the default (54000); '' for none (default 2GB)")
    p.add_argument("--copy-floors", action="store_true",
                   help="phase 6: the rebuild and the core alone against the plain COPY")
    p.add_argument("--floor-core-markers", type=int, default=3_000_000,
                   help="markers of phase 6's in-memory hierarchy, at most N (default 3000000: about 6 GB)")
    p.add_argument("--repeat", type=int, default=2, help="runs of each insert measurement (default 2)")
    p.add_argument("--viewports", type=int, default=20, help="viewports per zoom (default 20)")
    p.add_argument("--durability", choices=("on", "off", "both"), default="both",
                   help="fsync on (synchronous_commit on), off, or both in turn (default both)")
    p.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                   help="another server setting (e.g. port=5530)")
    p.add_argument("--smoke", action="store_true", help="N 20000, T 3 s, M 5000, 5 viewports, 1 repeat, fsync on")
    args = p.parse_args()
    if args.smoke:
        args.markers, args.seconds, args.copy_rows, args.viewports, args.repeat = 20_000, 3, 5_000, 5, 1
        args.durability = "on" if args.durability == "both" else args.durability
    args.single_seconds = args.single_seconds or max(3, args.seconds // 3)
    return args


def main():
    args = parse_args()
    modes = ["on", "off"] if args.durability == "both" else [args.durability]
    extra = max(args.copy_rows, 100_000)
    work = tempfile.mkdtemp(prefix="geocluster-writes-")
    os.chmod(work, 0o755)
    pg = Pg(SERVER + DURABILITY[modes[0]] + args.setting)
    started = time.monotonic()
    try:
        t0 = time.monotonic()
        load_dataset(pg, args.markers, extra)
        header(pg, args)
        print(f"dataset: {args.markers} + {extra} generator rows loaded in {time.monotonic() - t0:.1f} s")
        results = [durability_round(pg, args, work, m, extra) for m in modes]
        summary(results, args)
        print(f"load at the end {load()}; {time.monotonic() - started:.0f} s in all")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
