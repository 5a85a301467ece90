#!/usr/bin/env python3
"""geocluster's benchmark: every approach, the same data, the same viewports, one run.

    bench/run --markers 1000000                  # build or reuse the dataset, run all zooms
    bench/run --markers 10000000 --viewports 10 --repeat 3 --baseline geohash_prefix
    bench/run --smoke                            # the test command's check (10k markers, one zoom)

See bench/README.md for what is measured and how.
"""

import argparse
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import approaches as A  # noqa: E402
from harness import dataset, report, runner, server  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--markers", type=int, default=1_000_000, help="dataset size (default 1000000)")
    p.add_argument("--seed", type=int, default=1, help="dataset and viewport seed (default 1)")
    p.add_argument("--zooms", help="comma-separated zooms (default 3,6,9,12,15; with --hierarchy 0,3,6,9,12,15)")
    p.add_argument("--viewports", type=int, help="viewports per zoom (default 10; with --hierarchy 20)")
    p.add_argument("--repeat", type=int, help="timed runs per viewport and approach (default 3; with --hierarchy 5)")
    p.add_argument("--approaches", help="comma-separated list (default: all available but the floor ladder's "
                                        "rungs and --hierarchy's three)")
    p.add_argument("--baseline", help="ratios against this approach (default geohash_prefix; with --hierarchy "
                                      "result_floor)")
    p.add_argument("--hierarchy", action="store_true",
                   help="the cluster hierarchy comparison: geocluster_hierarchy, result_floor and supercluster "
                        "(unless --approaches names others), and its report section")
    p.add_argument("--rebuild-hierarchy", action="store_true",
                   help="build the cluster hierarchy again even if the dataset's is current (so that its build "
                        "is timed in the same run as supercluster's)")
    p.add_argument("--out", help="results file (.json, with a .csv beside it); "
                                 "default bench/results/<markers>-s<seed>.json")
    p.add_argument("--rebuild", action="store_true", help="rebuild the dataset even if it exists")
    p.add_argument("--build-only", action="store_true", help="build or reuse the dataset, then stop")
    p.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                   help="override a PostgreSQL setting (repeatable); see bench/README.md")
    p.add_argument("--pghost", help="use this existing server instead of the benchmark's own cluster")
    p.add_argument("--pgport", help="its port")
    p.add_argument("--pguser", help="its user (default postgres)")
    p.add_argument("--pgdatabase", help=f"its database (default {server.DATABASE}, created if missing)")
    p.add_argument("--keep-running", action="store_true", help="leave the benchmark's cluster running")
    p.add_argument("--index-choice", metavar="FILE.json",
                   help="time count(*), cluster_state_agg and cluster_agg on the densest viewport of each "
                        "--zooms zoom of FILE with both (lat, lon) indexes, then the covering one alone, and stop")
    p.add_argument("--report", metavar="FILE.json", help="print the tables of a results file again, and stop")
    p.add_argument("--smoke", action="store_true",
                   help="the test command's self-check on a throwaway cluster: exits non-zero on failure")
    args = p.parse_args(argv)
    if args.hierarchy:
        args.approaches = args.approaches or ",".join(A.HIERARCHY_APPROACHES)
        args.zooms = args.zooms or "0,3,6,9,12,15"
        args.baseline = args.baseline or "result_floor"
        # Its queries take well under a millisecond: more viewports and runs make the p95 steadier.
        args.viewports = args.viewports or 20
        args.repeat = args.repeat or 5
    args.viewports = args.viewports or 10
    args.repeat = args.repeat or 3
    args.zooms = [int(z) for z in (args.zooms or "3,6,9,12,15").split(",")]
    args.baseline = args.baseline or "geohash_prefix"
    return args


def make_server(args, mode=None):
    if args.pghost:
        mode = "external"
    return server.Server(mode or "persistent",
                         bench_dir=os.environ.get("GEOCLUSTER_BENCH_DIR", server.DEFAULT_BENCH_DIR),
                         host=args.pghost, port=args.pgport, user=args.pguser, dbname=args.pgdatabase,
                         overrides=args.setting, keep_running=args.keep_running, log=log)


def select_approaches(conn, names, table=None):
    chosen = A.by_name(names) if names else list(A.DEFAULT_APPROACHES)
    ready, notes = [], []
    for a in chosen:
        missing = A.missing_functions(conn, a, table)
        if missing:
            notes.append(f"{a.name} skipped: the database has no {', '.join(missing)}")
        else:
            ready.append(a)
    return ready, notes


def benchmark(srv, args, ds, log=log):
    """Run the workload on dataset `ds` (a bench_datasets row). Returns (meta, results, floor names)."""
    conn = srv.connect()
    chosen, notes = select_approaches(conn, args.approaches.split(",") if args.approaches else None,
                                      ds["table_name"])
    for n in notes:
        log(f"bench: {n}")
    names = [a.name for a in chosen]
    for a in chosen:
        if a.rows_like and a.rows_like not in names:
            raise SystemExit(f"bench: {a.name} returns as many rows as {a.rows_like}, which is not run")
    if args.baseline not in [a.name for a in chosen]:
        raise SystemExit(f"bench: baseline {args.baseline} is not among the approaches run")
    table = ds["table_name"]
    for a in chosen:
        if a.prepare is not None:
            ds.setdefault("prepared", {})[a.name] = a.prepare(srv, conn, table, args, log)
    load_before = os.getloadavg()
    log(f"bench: warming the cache ({table} and its indexes)")
    dataset.prewarm(conn, table)
    for a in chosen:
        if a.prewarm is not None:
            a.prewarm(conn, table)
    vps = runner.draw_viewports(conn, table, ds["markers"], args.zooms, args.viewports, args.seed)
    external = {}
    for a in chosen:
        if a.external is not None:
            ds.setdefault("prepared", {})[a.name], external[a.name] = a.external(srv, conn, table, vps,
                                                                                 args.repeat, log)
    log(f"bench: running {len(chosen)} approaches on {args.viewports} viewports x {len(args.zooms)} zooms, "
        f"{args.repeat} timed runs each")
    results = runner.Runner(conn, table, args.repeat, log, external).run(chosen, vps)
    meta = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["bench/run"] + sys.argv[1:]),
        # Other work on the machine skews the timings: the load average says whether there was any.
        "machine": {**server.machine(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "settings": server.describe(conn),
        "dataset": {k: ds[k] for k in ("table_name", "markers", "seed", "generator", "stream_md5",
                                       "fingerprint", "kinds", "load_s", "index_s", "profile")},
        "prepared": ds.get("prepared", {}),
        "workload": {"zooms": args.zooms, "viewports": args.viewports, "repeat": args.repeat,
                     "slow_s": runner.SLOW_S, "timeout_cap_per_zoom": runner.MAX_TIMEOUTS_PER_ZOOM,
                     "baseline": args.baseline, "approaches": {a.name: a.description for a in chosen},
                     "floors": [a.name for a in chosen if a.floor]},
        "notes": notes,
    }
    conn.close()
    return meta, results, {a.name for a in chosen if a.floor}


def main(argv):
    args = parse_args(argv)
    if args.report:
        meta, results, floors = report.load(args.report)
        print(report.render(meta, results, floors))
        return 0
    if args.index_choice:
        from harness import index_choice
        with make_server(args) as srv:
            conn = srv.connect()
            print(index_choice.main(conn, args.index_choice, args.zooms), flush=True)
            conn.close()
        return 0
    if args.smoke:
        from harness import smoke
        return smoke.main(args, make_server, benchmark, log)
    with make_server(args) as srv:
        ds = dataset.ensure(srv, args.markers, args.seed, log, rebuild=args.rebuild)
        if args.build_only:
            return 0
        meta, results, floors = benchmark(srv, args, ds)
    print(report.render(meta, results, floors), flush=True)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   f"{args.markers}-s{args.seed}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    j, c = report.write(out, meta, results)
    log(f"bench: wrote {j} and {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
