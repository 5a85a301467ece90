"""Draw the viewports, run every approach on each of them, and summarise.

Per zoom, the approaches take each viewport in turn (interleaved, so that drift in the machine hits
them all alike). An approach runs once untimed first (the warm-up) and then `repeat` times timed;
the clusters of its first run are the ones measured for overlap and counts. Runs slower than
SLOW_S are timed once and the next viewport of that zoom gets no warm-up: at that length the cache
state and the run-to-run noise are lost in the measurement, and repeating them would triple the
length of a 10M run. A viewport's latency is the median of its timed runs; a zoom reports the median
and the p95 (nearest rank) of its viewports' latencies.

A run past the approach's time budget is a timeout and counts as infinitely slow; after
MAX_TIMEOUTS_PER_ZOOM timeouts at a zoom the approach's remaining viewports at that zoom are
skipped and counted as timeouts too.
"""

import math
import statistics
import time

import psycopg2
import psycopg2.extensions

from . import viewports as V
from .approaches import latlon_filter

MASK64 = (1 << 64) - 1
MAX_TIMEOUTS_PER_ZOOM = 3
SLOW_S = 2.0


class SplitMix64:
    """The generator's PRNG, so the viewports depend on the seed alone."""

    def __init__(self, seed):
        self.x = seed & MASK64

    def next(self):
        self.x = (self.x + 0x9E3779B97F4A7C15) & MASK64
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


def draw_viewports(conn, table, markers, zooms, count, seed):
    """`count` viewports per zoom, centred on markers drawn with the seed: with 3 or more, the first
    is centred on one of the markers nearest the antimeridian and crosses it, the second on a
    marker beyond 70 degrees of latitude, the rest on markers drawn uniformly by id (so where the
    data is dense, as users look)."""
    kinds = ["random"] * count if count < 3 else ["antimeridian", "polar"] + ["random"] * (count - 2)
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, lat, lon FROM {table} WHERE lon > 179.5 OR lon < -179.5 "
                    f"ORDER BY 180 - abs(lon), id LIMIT 20")
        near_line = cur.fetchall()
        cur.execute(f"SELECT id, lat, lon FROM {table} WHERE lat >= 70 OR lat <= -70 ORDER BY id LIMIT 1000")
        polar = cur.fetchall()
        result = {}
        for zoom in zooms:
            rng = SplitMix64(seed * 1000003 + zoom)
            picks = []
            for kind in kinds:
                pool = near_line if kind == "antimeridian" else polar if kind == "polar" else None
                if pool:
                    picks.append((kind, pool[rng.below(len(pool))]))
                else:
                    picks.append(("random", 1 + rng.below(markers)))
            ids = [p for _, p in picks if isinstance(p, int)]
            cur.execute(f"SELECT id, lat, lon FROM {table} WHERE id = ANY(%s)", (ids,))
            by_id = {r[0]: r for r in cur.fetchall()}
            result[zoom] = []
            for kind, p in picks:
                mid, lat, lon = by_id[p] if isinstance(p, int) else p
                result[zoom].append(V.viewport_around(zoom, kind, mid, lat, lon,
                                                      cross_antimeridian=(kind == "antimeridian")))
    return result


def plan_summary(conn, sql):
    """The plan's shape in one line, e.g. 'HashAggregate > Bitmap Heap Scan > BitmapOr(28 x Bitmap
    Index Scan on t_quadkey_idx)'."""
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cur.fetchone()[0][0]["Plan"]

    def render(node):
        name = node["Node Type"]
        if name == "Aggregate":
            name = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"}.get(
                node.get("Strategy"), "Aggregate")
            if node.get("Partial Mode") in ("Partial", "Finalize"):
                name = f"{node['Partial Mode']} {name}"
        if node.get("Index Name"):
            name += f" on {node['Index Name']}"
        elif node.get("Relation Name") and "Scan" in name:
            name += f" on {node['Relation Name']}"
        if node.get("Workers Planned"):
            name += f" ({node['Workers Planned']} workers)"
        kids = [render(k) for k in node.get("Plans", [])]
        if not kids:
            return name
        if len(kids) == 1:
            return f"{name} > {kids[0]}"
        groups = {}
        for k in kids:
            groups[k] = groups.get(k, 0) + 1
        return f"{name}(" + ", ".join(k if n == 1 else f"{n} x {k}" for k, n in groups.items()) + ")"

    return render(plan)


class Runner:
    def __init__(self, conn, table, repeat, log, external=None):
        self.conn, self.table, self.repeat, self.log = conn, table, repeat, log
        # Results of the approaches that ran outside PostgreSQL before the SQL ones (supercluster):
        # {name: {(zoom, viewport index): {"samples_ms", "clusters", "counts_sum", "centres"}}}.
        self.external = external or {}
        self._timeout = None

    def _run(self, sql, timeout_s):
        """(rows, seconds), or (None, None) past the budget."""
        with self.conn.cursor() as cur:
            if self._timeout != timeout_s:
                cur.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
                self._timeout = timeout_s
            t0 = time.perf_counter()
            try:
                cur.execute(sql)
                rows = cur.fetchall()
            except psycopg2.extensions.QueryCanceledError:
                return None, None
            return rows, time.perf_counter() - t0

    def _count(self, sql):
        rows, _ = self._run(sql, 600)
        return rows[0][0]

    def run(self, approaches, viewports_by_zoom):
        results = []
        for zoom, vps in viewports_by_zoom.items():
            t_zoom = time.monotonic()
            active = [a for a in approaches if a.max_zoom is None or zoom <= a.max_zoom]
            recs = {a.name: {"latency_ms": [], "timeouts": 0, "skipped": 0, "viewports": [], "slow": False}
                    for a in active}
            viewport_rows = []
            plan_viewport = next((i for i, vp in enumerate(vps) if vp.kind == "random"), 0)
            for i, vp in enumerate(vps):
                rows_in_vp = self._count(f"SELECT count(*) FROM {self.table} WHERE {latlon_filter(vp)}")
                viewport_rows.append(rows_in_vp)
                rows_like = {}  # the row counts the result floor matches, per approach it follows
                for a in active:
                    rec = recs[a.name]
                    if a.external is not None:
                        rec["viewports"].append(self._external(a, vp, self.external[a.name][(zoom, i)], rec,
                                                               rows_in_vp))
                        continue
                    if a.rows_like:
                        if a.rows_like not in rows_like:
                            like = next(b for b in approaches if b.name == a.rows_like)
                            rows_like[a.rows_like] = self._count(
                                f"SELECT count(*) FROM ({like.sql(vp, self.table)}) s")
                        sql = a.sql(vp, self.table, rows_like[a.rows_like])
                    else:
                        sql = a.sql(vp, self.table)
                    if i == plan_viewport:
                        rec["plan"] = plan_summary(self.conn, sql)
                    if rec["timeouts"] >= MAX_TIMEOUTS_PER_ZOOM:
                        rec["skipped"] += 1
                        rec["latency_ms"].append(math.inf)
                        continue
                    rec["viewports"].append(self._viewport(a, vp, sql, rec, rows_in_vp,
                                                           rows_like.get(a.rows_like)))
            results.append(summarise(zoom, vps, viewport_rows, active, recs))
            self.log(f"bench:   zoom {zoom}: {len(vps)} viewports in {time.monotonic() - t_zoom:.0f} s")
        return results

    def _external(self, a, vp, res, rec, rows_in_vp):
        """An approach that ran outside PostgreSQL (its timed runs and first answer in `res`)."""
        latency = statistics.median(res["samples_ms"])
        rec["latency_ms"].append(latency)
        overlapping, clusters = V.overlapping_share([tuple(c) for c in res["centres"]], vp.zoom)
        return {"clusters": clusters, "overlapping": overlapping, "rows": res["counts_sum"],
                "expected_rows": rows_in_vp, "viewport_rows": rows_in_vp, "samples_ms": res["samples_ms"]}

    def _viewport(self, a, vp, sql, rec, rows_in_vp, rows_expected=None):
        """One approach on one viewport: warm-up, timed runs, measurements of the first run.
        rec["slow"] says whether the approach's last run was slower than SLOW_S."""
        first, samples = None, []
        if not rec["slow"]:
            first, seconds = self._run(sql, a.timeout_s)
            rec["slow"] = seconds is None or seconds > SLOW_S
            if first is None:  # the timed runs would time out as well
                samples.append(math.inf)
        while not samples or (len(samples) < self.repeat and not rec["slow"]):
            rows, seconds = self._run(sql, a.timeout_s)
            samples.append(math.inf if seconds is None else seconds * 1000)
            first = first if first is not None else rows
            rec["slow"] = seconds is None or seconds > SLOW_S
        latency = statistics.median(samples)
        rec["latency_ms"].append(latency)
        if first is None or math.isinf(latency):
            rec["timeouts"] += 1
        if first is None:
            return {"timeout": True, "samples_ms": samples}
        return {**self._measure(a, vp, first, rows_in_vp, rows_expected), "samples_ms": samples}

    def _measure(self, a, vp, rows, rows_in_vp, rows_expected=None):
        if a.counts_only:
            return {"clusters": None, "rows": rows[0][0], "expected_rows": rows_in_vp}
        if a.rows_like:  # the result floor: its rows are not clusters, only their number counts
            return {"clusters": None, "rows": len(rows), "expected_rows": rows_expected}
        overlapping, clusters = V.overlapping_share([(r[1], r[2]) for r in rows], vp.zoom)
        expected = rows_in_vp if a.expected_rows_sql is None else self._count(a.expected_rows_sql(vp, self.table))
        return {"clusters": clusters, "overlapping": overlapping, "rows": int(sum(r[0] for r in rows)),
                "expected_rows": expected, "viewport_rows": rows_in_vp}


def percentile(samples, q):
    """Nearest-rank percentile; inf (a timeout) sorts last."""
    s = sorted(samples)
    return s[max(0, math.ceil(q * len(s)) - 1)] if s else None


def summarise(zoom, vps, viewport_rows, approaches, recs):
    out = {"zoom": zoom, "viewports": [v.as_dict() for v in vps], "viewport_rows": viewport_rows,
           "crossing_viewports": sum(v.crosses_antimeridian for v in vps),
           "params": {}, "approaches": {}}
    for a in approaches:
        out["params"].update(a.params(zoom))
        rec = recs[a.name]
        done = [v for v in rec["viewports"] if not v.get("timeout")]
        s = {
            "extra_rows": a.extra_rows,
            "median_ms": percentile(rec["latency_ms"], 0.5),
            "p95_ms": percentile(rec["latency_ms"], 0.95),
            "timeouts": rec["timeouts"], "skipped": rec["skipped"], "runs": len(vps),
            "plan": rec.get("plan"),
            "latency_ms": rec["latency_ms"],
            "per_viewport": rec["viewports"],
            "counts_ok": (all(v["rows"] == v["expected_rows"] for v in done)
                          if done and not a.counts_by_centre else None),
            "counts_by_centre": a.counts_by_centre,
            "rows_like": a.rows_like,
        }
        if a.rows_like and done:
            s["rows_median"] = statistics.median(v["rows"] for v in done)
        if not a.counts_only and not a.rows_like and done:
            total = sum(v["clusters"] for v in done)
            s["clusters_median"] = statistics.median(v["clusters"] for v in done)
            s["overlap_share"] = sum(v["overlapping"] for v in done) / total if total else 0.0
            vp_rows = sum(v["viewport_rows"] for v in done)
            s["rows_vs_viewport"] = (sum(v["rows"] for v in done) / vp_rows - 1) if vp_rows else 0.0
        out["approaches"][a.name] = s
    return out
