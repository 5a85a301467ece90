#!/usr/bin/env python3
"""Parallel equals serial (test/t/040_parallel_serial.pl runs this).

Random cluster_agg, cluster_state_agg and containment queries run on two connections to the
same database: one with parallelism forced (parallel_setup_cost = 0, parallel_tuple_cost = 0,
min_parallel_table_scan_size = 0, min_parallel_index_scan_size = 0,
max_parallel_workers_per_gather = 2, force_parallel_mode = on; parallel_leader_participation
off for two queries in three, so that the workers share the rows), one without
(max_parallel_workers_per_gather = 0). Every result must be identical, text
for text: cluster_agg promises the same clusters, in the same order, to the last bit, for any
split of the rows among workers (src/core/cluster.hpp, contract 5), and cluster_state_agg the
same bytes.

One test per kind of query (all its queries identical), plus: the parallel plans really are
parallel (EXPLAIN: Gather and Partial Aggregate, counted over every query); every fourth
partial plan of each kind, run again under EXPLAIN ANALYZE VERBOSE, launched workers, and in
each cluster kind some of those runs split their rows among two or more processes (so that
combining merged non-empty states); and a whole-table cluster_agg launched workers. Prints
`N passed, M failed` last.

Environment: libpq's (PGHOST, PGPORT, PGUSER); GEOCLUSTER_PARALLEL_DB (the database, which
040_parallel_serial.pl creates and loads), GEOCLUSTER_PARALLEL_QUERIES (default 1000),
GEOCLUSTER_PARALLEL_SEED (default 1).
"""
import os
import math
import random
import re
import sys
import time

import psycopg2

DB = os.environ.get("GEOCLUSTER_PARALLEL_DB", "geocluster_parallel")
N = int(os.environ.get("GEOCLUSTER_PARALLEL_QUERIES", "1000"))
SEED = int(os.environ.get("GEOCLUSTER_PARALLEL_SEED", "1"))
T = "par_markers"

PARALLEL = {
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "0",
    "min_parallel_index_scan_size": "0",
    "max_parallel_workers_per_gather": "2",
    "force_parallel_mode": "on",
}
SERIAL = {"max_parallel_workers_per_gather": "0"}


def connect(settings):
    conn = psycopg2.connect(dbname=DB)
    conn.autocommit = True
    with conn.cursor() as cur:
        for k, v in settings.items():
            cur.execute("SELECT set_config(%s, %s, false)", (k, v))
    return conn


class Gen:
    """Random queries. Each returns (kind, sql)."""

    def __init__(self, rng, cells, has_cover):
        self.r = rng
        self.qk_cells, self.gh_cells = cells
        self.has_cover = has_cover

    def radius(self):
        return self.r.choice([1, 10, 40, 60, 80.5, 200])

    def box(self):
        r = self.r
        if r.random() < 0.15:  # across the antimeridian
            lat0 = r.uniform(-60, 50)
            return (lat0, r.uniform(150, 179), lat0 + r.uniform(1, 30), r.uniform(-179, -150))
        lat0, lon0 = r.uniform(-85, 80), r.uniform(-180, 170)
        return (lat0, lon0, min(85, lat0 + r.uniform(0.01, 40)), min(180, lon0 + r.uniform(0.01, 90)))

    def qk(self):
        c = self.r.choice(self.qk_cells)
        return c[: self.r.randint(0, min(len(c), 14))]

    def gh(self):
        c = self.r.choice(self.gh_cells)
        return c[: self.r.randint(0, min(len(c), 6))]

    def where(self):
        """A filter (none, a cell, a box, a cover) and the deepest zoom worth clustering it at:
        about 6 levels below the filter's extent, so that a query returns at most some
        thousands of clusters (deeper, every marker is alone: slow to compare, no more telling)."""
        r = self.r.random()
        if r < 0.25:
            return "", 6
        if r < 0.45:
            cell = self.qk()
            return f" WHERE qk <@ '{cell}'", len(cell) + 6
        if r < 0.6:
            cell = self.gh()
            return f" WHERE gh <@ '{cell}'", (5 * len(cell)) // 2 + 6
        a, b, c, d = self.box()
        width = (d - b) % 360 or 360
        zmax = 6 + max(0, int(math.log2(360 / max(width, c - a, 1e-6))))
        if r < 0.85 or not self.has_cover:
            lon = f"lon BETWEEN {b} AND {d}" if b <= d else f"(lon >= {b} OR lon <= {d})"
            return f" WHERE lat BETWEEN {a} AND {c} AND {lon}", zmax
        z = self.r.randint(0, 4)
        return f" WHERE qk <@ ANY (quadkey_cover({a}, {b}, {c}, {d}, {z}))", zmax

    def zoom(self, zmax):
        return self.r.randint(0, min(zmax, 29))

    def agg_args(self, zmax):
        """cluster_agg's arguments after the position: zoom [, radius [, id]]."""
        z = self.zoom(zmax)
        k = self.r.randint(0, 2)
        if k == 0:
            return f"{z}"
        if k == 1:
            return f"{z}, {self.radius()}"
        return f"{z}, {self.radius()}, id"

    def query(self):
        r = self.r.random()
        w, zmax = self.where()
        if r < 0.2:
            return "cluster_agg(lat, lon)", f"SELECT cluster_agg(lat, lon, {self.agg_args(zmax)}) FROM {T}{w}"
        if r < 0.35:
            return "cluster_agg(quadkey)", f"SELECT cluster_agg(qk, {self.agg_args(zmax)}) FROM {T}{w}"
        if r < 0.5:
            return "cluster_agg(geohash)", f"SELECT cluster_agg(gh, {self.agg_args(zmax)}) FROM {T}{w}"
        if r < 0.6:
            # Groups (8 regions of 45 degrees of longitude, a column with statistics, so that
            # the planner aggregates partially per group): states per group, combined per group.
            by = self.r.choice(["region", "region, id % 3"])
            return ("cluster_agg GROUP BY",
                    f"SELECT {by}, cluster_agg(lat, lon, {self.agg_args(zmax)}) "
                    f"FROM {T}{w} GROUP BY {by} ORDER BY {by}")
        if r < 0.7:
            z, rad = self.zoom(zmax), self.radius()
            return ("cluster_state_agg",
                    f"SELECT s, cluster_state_clusters(s) FROM "
                    f"(SELECT cluster_state_agg(lat, lon, {z}, {rad}, id) AS s FROM {T}{w}) x")
        # Containment: counts, id sums, extremes (min/max(quadkey) combine in parallel too).
        col, cell = ("qk", self.qk()) if self.r.random() < 0.5 else ("gh", self.gh())
        op = self.r.choice(["<@", "@>", "&&", "="])
        if op in ("@>", "="):  # a full-depth value, so that there is something to find
            cell = self.r.choice(self.qk_cells if col == "qk" else self.gh_cells)
        return (f"containment {op}",
                f"SELECT count(*), sum(id), min({col}), max({col}) "
                f"FROM {T} WHERE {col} {op} '{cell}'")


def main():
    par, ser = connect(PARALLEL), connect(SERIAL)
    pc, sc = par.cursor(), ser.cursor()
    sc.execute(f"SELECT qk::text FROM {T} WHERE qk IS NOT NULL ORDER BY id LIMIT 2000")
    qk_cells = [row[0] for row in sc.fetchall()]
    sc.execute(f"SELECT gh::text FROM {T} WHERE gh IS NOT NULL ORDER BY id LIMIT 2000")
    gh_cells = [row[0] for row in sc.fetchall()]
    sc.execute("SELECT to_regproc('quadkey_cover') IS NOT NULL")
    has_cover = sc.fetchone()[0]
    gen = Gen(random.Random(SEED), (qk_cells, gh_cells), has_cover)

    passed = failed = 0

    def result(ok, msg):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
        print(("ok     " if ok else "FAILED ") + msg, flush=True)

    def run(cur, sql):
        try:
            cur.execute(sql)
            rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cur.fetchall()]
            return ("rows", rows)
        except psycopg2.Error as e:
            return ("error", e.pgcode)

    def split_of(cur, sql):
        """(workers launched, processes that received rows) of one run of sql's parallel plan:
        the per-worker rows of the first scan node (EXPLAIN ANALYZE VERBOSE), the leader's
        being the node's total minus the workers' (rows are per loop, rounded: a leader
        share under one row per loop is not counted)."""
        try:
            cur.execute("EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        except psycopg2.Error:
            return 0, 0
        plan = [row[0] for row in cur.fetchall()]
        launched = sum(int(line.split(":")[1]) for line in plan if "Workers Launched:" in line)
        scans = [j for j, line in enumerate(plan)
                 if re.search(r"->  (Parallel )?(Seq|Index|Index Only|Bitmap Heap) Scan", line)]
        if not scans:
            return launched, 0
        j = scans[0]
        m = re.search(r"actual rows=(\d+) loops=(\d+)", plan[j])
        if not m:
            return launched, 0
        rows, loops = int(m.group(1)), int(m.group(2))
        workers = []
        for line in plan[j + 1:]:
            w = re.search(r"Worker \d+:  actual rows=(\d+) loops=(\d+)", line)
            if w:
                workers.append(int(w.group(1)) * int(w.group(2)))
            elif "->" in line:
                break
        leader = rows * loops - sum(workers)
        return launched, sum(1 for w in workers if w > 0) + (leader > loops)

    kinds = {}  # kind -> [queries, mismatches, first mismatch, plans with a Partial Aggregate]
    errors = []  # queries that raised, on either side: the generator makes none
    plans = {"gather": 0, "partial": 0, "cluster": 0, "cluster_partial": 0}
    samples = {}  # kind -> [sampled partial plans, with workers launched, with rows split]
    start = time.time()
    for i in range(N):
        kind, sql = gen.query()
        k = kinds.setdefault(kind, [0, 0, None, 0])
        k[0] += 1
        # Two queries in three without the leader's participation: the workers then take all
        # the rows between them (with the leader scanning too, it often takes every row of a
        # small scan before the workers have started, and combining has nothing to merge).
        pc.execute(f"SET parallel_leader_participation = {'on' if i % 3 == 0 else 'off'}")
        try:
            pc.execute("EXPLAIN (COSTS OFF) " + sql)
            plan = "\n".join(row[0] for row in pc.fetchall())
        except psycopg2.Error:
            plan = ""  # the query itself fails the same way below, on both sides or not
        plans["gather"] += "Gather" in plan
        partial = "Partial" in plan and "Aggregate" in plan
        plans["partial"] += partial
        k[3] += partial
        if kind.startswith("cluster"):
            plans["cluster"] += 1
            plans["cluster_partial"] += partial
        if partial and k[3] % 4 == 1:
            # Every fourth partial plan of a kind runs once more under EXPLAIN ANALYZE: did
            # workers start, and did the rows really reach two or more processes (so that
            # two non-empty partial states were combined)?
            smp = samples.setdefault(kind, [0, 0, 0])
            launched, parts = split_of(pc, sql)
            smp[0] += 1
            smp[1] += launched > 0
            smp[2] += parts >= 2
        a, b = run(pc, sql), run(sc, sql)
        if "error" in (a[0], b[0]):
            errors.append((sql, a, b))
        if a != b:
            k[1] += 1
            if k[2] is None:
                k[2] = (sql, str(a)[:300], str(b)[:300])
    elapsed = time.time() - start

    for kind in sorted(kinds):
        n, bad, first, partial = kinds[kind]
        if bad == 0:
            result(True, f"{kind}: {n} queries ({partial} with a Partial Aggregate), parallel = serial")
        else:
            result(False, f"{kind}: {bad} of {n} queries differ; first:\n    {first[0]}\n"
                          f"    parallel: {first[1]}\n    serial:   {first[2]}")

    result(not errors, f"queries that raised an error: {len(errors)}"
           + (f"; first: {errors[0][0]}\n    parallel: {errors[0][1]}, serial: {errors[0][2]}" if errors else ""))
    result(plans["gather"] > 0 and plans["partial"] > 0,
           f"parallel plans: {plans['gather']} of {N} under Gather, {plans['partial']} with a Partial Aggregate "
           f"({plans['cluster_partial']} of the {plans['cluster']} cluster queries)")

    # Workers ran and shared the rows: every sampled plan launched workers, and in every
    # cluster kind at least one sampled run split its rows among two or more processes.
    sampled = sum(v[0] for v in samples.values())
    launched_all = sum(v[1] for v in samples.values())
    split = {kind: v for kind, v in samples.items() if kind.startswith("cluster")}
    result(sampled > 0 and launched_all == sampled
           and all(kind in samples for kind in kinds if kind.startswith("cluster") and kinds[kind][3] > 0)
           and all(v[2] > 0 for v in split.values()),
           f"EXPLAIN ANALYZE of {sampled} sampled partial plans: workers launched in {launched_all}; "
           f"rows split among 2+ processes in "
           + ", ".join(f"{kind} {v[2]} of {v[0]}" for kind, v in sorted(samples.items())))

    # Workers really ran (a Gather whose workers could not start runs in the leader alone).
    pc.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT cluster_agg(lat, lon, 8, 60, id) FROM {T}")
    plan = "\n".join(row[0] for row in pc.fetchall())
    launched = [int(line.split(":")[1]) for line in plan.splitlines() if "Workers Launched" in line]
    result("Partial Aggregate" in plan and launched and max(launched) > 0,
           f"EXPLAIN ANALYZE of a whole-table cluster_agg: Partial Aggregate, workers launched {launched}")
    if not launched or max(launched) == 0:
        print(plan)

    print(f"{N} queries in {elapsed:.0f} s (seed {SEED})")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
