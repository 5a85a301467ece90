"""Which (lat, lon) index cluster_agg gets, and what it costs at small viewports.

Before it was dropped, the bench dataset had the plain (lat, lon) btree that the seeds' queries
use beside the covering (lat, lon) INCLUDE (id) that the README recommends for cluster_agg. The
planner estimates a viewport's rows as the product of the lat and lon selectivities, far too few
for clustered data (33 against 14,027 at zoom 12), and with so few rows the narrower index plus
heap fetches looks as cheap as an index-only scan of the wider one. This measures, for the
densest viewport of each given zoom in a results file, count(*) (the floor), count + sums +
min(id) (reading the same three columns as cluster_agg), cluster_state_agg (the aggregate
without finalisation) and the geocluster_latlon query, with both indexes and with the covering
index alone (the plain index dropped, or on a dataset without it created, inside a transaction
that is rolled back). Medians of `runs` runs after 5 warm-ups.

    bench/run --markers 10000000 --index-choice bench/results/10m.json --zooms 12,15
"""

import json
import statistics
import time

from . import approaches as A
from .viewports import Viewport


def _densest(results_path, zooms):
    with open(results_path) as f:
        data = json.load(f)
    table = data["meta"]["dataset"]["table_name"]
    out = []
    for z in data["results"]:
        if z["zoom"] in zooms:
            i = max(range(len(z["viewport_rows"])), key=lambda k: z["viewport_rows"][k])
            v = z["viewports"][i]
            out.append((z["zoom"], z["viewport_rows"][i],
                        Viewport(zoom=v["zoom"], kind=v["kind"], centre_id=v["centre_id"], cx=v["cx"], cy=v["cy"])))
    return table, out


def _queries(vp, table):
    where = A.latlon_filter(vp)
    z, r = vp.zoom, A.GEOCLUSTER_RADIUS_PX
    return [
        ("count(*)", f"SELECT count(*) FROM {table} WHERE {where}"),
        ("count, sums, min(id)", f"SELECT count(*), sum(lat), sum(lon), min(id) FROM {table} WHERE {where}"),
        ("cluster_state_agg", f"SELECT length(cluster_state_agg(lat, lon, {z}, {r}, id)) FROM {table} WHERE {where}"),
        ("geocluster_latlon", A.geocluster_latlon_sql(vp, table)),
    ]


def _median_ms(cur, sql, runs):
    samples = []
    for i in range(runs + 5):
        t0 = time.perf_counter()
        cur.execute(sql)
        cur.fetchall()
        if i >= 5:
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main(conn, results_path, zooms, runs=50):
    table, cases = _densest(results_path, zooms)
    plain = f"{table}_lat_lon_idx"
    conn.autocommit = False
    cur = conn.cursor()
    cur.execute("SET work_mem = '64MB'; SET jit = off")
    lines = [f"index choice: {table}, the densest viewport of each zoom, median of {runs} runs (ms)"]
    queries = [_queries(vp, table) for _, _, vp in cases]

    def measure_all():
        return [[_median_ms(cur, sql, runs) for _, sql in qs] for qs in queries]

    cur.execute(f"SELECT to_regclass('{plain}') IS NOT NULL")
    if cur.fetchone()[0]:  # a dataset from before the covering index replaced the plain one
        both = measure_all()
        cur.execute(f"DROP INDEX {plain}")  # rolled back below
        alone = measure_all()
    else:
        alone = measure_all()
        # Built once for every zoom (a minute at 10M rows), rolled back below.
        cur.execute(f"CREATE INDEX {plain} ON {table} (lat, lon)")
        both = measure_all()
    for (zoom, rows, _), qs, b_ms, a_ms in zip(cases, queries, both, alone):
        lines.append(f"zoom {zoom}, {rows:,} rows:")
        for (name, _), b, a in zip(qs, b_ms, a_ms):
            lines.append(f"  {name:<22} both indexes {b:8.3f} ({b / b_ms[0]:4.2f}x floor)   "
                         f"covering index alone {a:8.3f} ({a / a_ms[0]:4.2f}x floor)")
    conn.rollback()
    conn.autocommit = True
    return "\n".join(lines)
