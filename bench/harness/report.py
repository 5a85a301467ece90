"""The results: a table per zoom on stdout, and the same numbers as JSON and CSV."""

import csv
import json
import math


def _ms(v):
    if v is None:
        return "-"
    if math.isinf(v):
        return "timeout"
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def _ratio(v, base):
    if v is None or base is None or math.isinf(base) or base == 0:
        return "-"
    if math.isinf(v):
        return "timeout"
    r = v / base
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"  # 0.0032x, not 0.00x


def _rows(s, floor):
    """Whether the counts add up: 'ok' when they equal the rows the approach covers, which are the
    viewport's unless it says otherwise (seed 003's whole tiles, PostGIS' float4 boxes); then the
    excess over the viewport follows. 'MISMATCH' is a bug."""
    if s["counts_ok"] is None:
        return "-"
    if not s["counts_ok"]:
        return "MISMATCH"
    extra = s.get("rows_vs_viewport", 0.0)
    if floor or extra == 0:
        return "ok"
    pct = f"{100 * extra:+.1f}%" if abs(extra) >= 0.0005 else "+<0.1%"
    return f"ok, {s.get('extra_rows') or 'rows'} {pct}"


def header_lines(meta):
    d, m, st = meta["dataset"], meta["machine"], meta["settings"]
    ext = st.get("extensions", {})
    lines = [
        f"geocluster bench: {d['markers']:,} markers (seed {d['seed']}, table {d['table_name']}, "
        f"fingerprint {d['fingerprint']}, generator {d['generator']}; "
        f"heap {d['profile']['heap_bytes'] / 2**20:,.0f} MiB, indexes {d['profile']['index_bytes'] / 2**20:,.0f} MiB)",
        f"machine: {m['cpu']}, {m['nproc']} cores, {m['ram_gib']} GiB RAM"
        + (f", load average {m['loadavg_before'][0]:.2f} before, {m['loadavg_after'][0]:.2f} after"
           if "loadavg_before" in m else "") + "; "
        f"PostgreSQL {st.get('server_version')}, PostGIS {ext.get('postgis', '-')}"
        + (f", geocluster {ext['geocluster']}" if "geocluster" in ext else ""),
        "settings: " + " ".join(f"{k}={st[k]}" for k in
                                ("shared_buffers", "work_mem", "max_parallel_workers_per_gather",
                                 "max_parallel_workers", "jit", "random_page_cost", "effective_cache_size")
                                if k in st),
        f"workload: {meta['workload']['viewports']} viewports of 1280x800 px per zoom, "
        f"{meta['workload']['repeat']} timed runs each after a warm-up (runs over {meta['workload']['slow_s']:g} s: "
        f"one, no warm-up); latency = median over viewports of each viewport's median, p95 likewise; "
        f"clusters of 60 px at 256 px tiles; ratios of medians against {meta['workload']['baseline']}",
    ]
    for name, p in meta.get("prepared", {}).items():
        if p and "tiles" in p:
            lines.append(f"prepared: {name}: {p['tiles']:,} tile states, {p['bytes'] / 2**20:,.0f} MiB"
                         + (f", built in {p['build_s']:.1f} s" if p.get("build_s") else ", reused"))
    for note in meta.get("notes", []):
        lines.append(f"note: {note}")
    return lines


def zoom_lines(z, baseline, floor_names):
    p = z["params"]
    rows = z["viewport_rows"]
    lines = [
        "",
        f"zoom {z['zoom']}: rows per viewport median {sorted(rows)[len(rows) // 2]:,} (max {max(rows):,}), "
        f"{z['crossing_viewports']} of {len(rows)} viewports cross the antimeridian; "
        + ", ".join(text for key, text in (
            ("precision", f"geohash precision {p.get('precision')}"),
            ("level", f"quadkey level {p.get('level')}"),
            ("cell_deg", f"grid {p.get('cell_deg', 0):.4g} deg"),
            ("eps_m", f"eps {p.get('eps_m', 0):,.0f} m"),
            ("cover_level", f"geocluster cover level {p.get('cover_level')}")) if key in p),
    ]
    head = ["approach", "median ms", "p95 ms", "clusters", "overlap", "counts", f"vs {baseline}",
            "vs floor", "vs best seed"]
    table = []
    base = z["approaches"].get(baseline, {}).get("median_ms")
    # The two ratios issue 6 sets goals on: against count(*) of the same rows, and against
    # whichever seed approach had the lower median at this zoom (named in brackets).
    floor_ms = next((s["median_ms"] for n, s in z["approaches"].items() if n in floor_names), None)
    seeds = [(s["median_ms"], n) for n, s in z["approaches"].items()
             if n.startswith("seed") and s.get("median_ms") is not None]
    best_ms, best_name = min(seeds) if seeds else (None, None)
    for name, s in z["approaches"].items():
        floor = name in floor_names
        timeouts = s["timeouts"] + s["skipped"]
        table.append([
            name,
            _ms(s["median_ms"]),
            _ms(s["p95_ms"]),
            "-" if floor or "clusters_median" not in s else f"{s['clusters_median']:,.0f}",
            "-" if floor or "overlap_share" not in s else f"{s['overlap_share']:.1%}",
            _rows(s, floor) + (f" ({timeouts}/{s['runs']} timed out)" if timeouts else ""),
            _ratio(s["median_ms"], base),
            "-" if floor else _ratio(s["median_ms"], floor_ms),
            "-" if floor or name.startswith("seed") or best_name is None
            else f"{_ratio(s['median_ms'], best_ms)} ({best_name.split('_')[0]})",
        ])
    widths = [max(len(str(r[i])) for r in [head] + table) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i in (0, 5) else str(c).rjust(w)
                              for i, (c, w) in enumerate(zip(r, widths)))
    lines.append(fmt(head))
    lines.extend(fmt(r) for r in table)
    return lines


def plan_lines(results):
    lines = ["", "plans (first random viewport of each zoom):"]
    for z in results:
        for name, s in z["approaches"].items():
            if s.get("plan"):
                lines.append(f"  zoom {z['zoom']:>2} {name}: {s['plan']}")
    return lines


def render(meta, results, floor_names):
    lines = header_lines(meta)
    for z in results:
        lines.extend(zoom_lines(z, meta["workload"]["baseline"], floor_names))
    lines.extend(plan_lines(results))
    return "\n".join(lines)


def _json_safe(v):
    if isinstance(v, float) and math.isinf(v):
        return None  # a timeout: JSON has no infinity
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def load(path):
    """A results file back as (meta, results, floor names), timeouts as inf again."""
    with open(path) as f:
        data = json.load(f)
    for z in data["results"]:
        for s in z["approaches"].values():
            for key in ("median_ms", "p95_ms"):
                if s[key] is None and s["timeouts"] + s["skipped"]:
                    s[key] = math.inf
    return data["meta"], data["results"], set(data["meta"]["workload"].get("floors", ["scan_floor"]))


def write(path, meta, results):
    """path.json with everything (timeouts as null), path.csv with one row per zoom and approach."""
    stem = path[:-5] if path.endswith(".json") else path
    with open(stem + ".json", "w") as f:
        json.dump(_json_safe({"meta": meta, "results": results}), f, indent=1)
    base_name = meta["workload"]["baseline"]
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["markers", "seed", "zoom", "approach", "median_ms", "p95_ms", "ratio_vs_baseline",
                    "baseline", "clusters_median", "overlap_share", "counts_ok", "rows_vs_viewport",
                    "timeouts", "viewports"])
        for z in results:
            base = z["approaches"].get(base_name, {}).get("median_ms")
            for name, s in z["approaches"].items():
                med = s["median_ms"]
                ratio = (med / base if med is not None and base and not math.isinf(base) and not math.isinf(med)
                         else "")
                w.writerow([meta["dataset"]["markers"], meta["dataset"]["seed"], z["zoom"], name,
                            "" if med is None or math.isinf(med) else round(med, 3),
                            "" if s["p95_ms"] is None or math.isinf(s["p95_ms"]) else round(s["p95_ms"], 3),
                            "" if ratio == "" else round(ratio, 4), base_name,
                            s.get("clusters_median", ""), "" if "overlap_share" not in s else round(s["overlap_share"], 4),
                            s["counts_ok"], "" if "rows_vs_viewport" not in s else round(s["rows_vs_viewport"], 4),
                            s["timeouts"] + s["skipped"], s["runs"]])
    return stem + ".json", stem + ".csv"
