"""supercluster (the JavaScript library map clients use) on the benchmark's points, as an external
approach: one node process per run (bench/supercluster/run.mjs) reads the dataset's points, builds
the index with {radius: 60, extent: 256, maxZoom: 16}, and times getClusters on every viewport of
the run, in process (it pays no round trip to a server, unlike the SQL approaches).

The points are exported once per dataset build, in id order, as PostgreSQL's binary COPY of (lat,
lon), beside the dataset (the benchmark cluster's directory, or bench/build/ with --pghost), under
a name that carries the dataset's fingerprint and build time. bench/supercluster/node_modules comes
from `npm ci` (the lock file pins supercluster) when it is missing or differs from the lock.
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from . import hierarchy as H

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "supercluster")
SCRIPT = os.path.join(HERE, "run.mjs")
EXTENT = 256
# Queried after the viewports: at zoom 0 the whole world's counts must add up to every point.
WORLD = {"zoom": 0, "west": -180.0, "south": -90.0, "east": 180.0, "north": 90.0}


def _locked_version():
    with open(os.path.join(HERE, "package-lock.json")) as f:
        return json.load(f)["packages"]["node_modules/supercluster"]["version"]


def _installed_version():
    try:
        with open(os.path.join(HERE, "node_modules", "supercluster", "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def node_binary():
    node = shutil.which("node")
    if not node:
        raise RuntimeError("supercluster needs node (scripts/install-deps installs nodejs and npm)")
    return node


def ensure_node_modules(log):
    """npm ci in bench/supercluster when node_modules is missing or not what the lock pins."""
    want = _locked_version()
    if _installed_version() == want:
        return want
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("supercluster needs npm to install its lock file (scripts/install-deps installs it)")
    log(f"bench: npm ci in {os.path.relpath(HERE)} (supercluster {want})")
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or _installed_version() != want:
        raise RuntimeError(f"npm ci in bench/supercluster failed: {r.stdout.strip()[-500:]}")
    return want


def _export_dir(server):
    if server.mode == "persistent":
        return os.path.join(server.bench_dir, "exports")
    if server.mode == "throwaway":
        return os.path.join(server.pgtmp_dir, "exports")  # removed with the cluster
    return os.path.join(os.path.dirname(HERE), "build", "exports")


def export_points(server, conn, table, log):
    """The dataset's (lat, lon) in id order as a binary COPY file, made once per dataset build."""
    with conn.cursor() as cur:
        cur.execute("SELECT fingerprint || '@' || built_at::text FROM bench_datasets WHERE table_name = %s", (table,))
        row = cur.fetchone()
    tag = hashlib.md5((row[0] if row else table).encode()).hexdigest()[:12]
    directory = _export_dir(server)
    path = os.path.join(directory, f"{table}-{tag}.latlon.pgcopy")
    if os.path.exists(path):
        return path
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, f"{table}-*.latlon.pgcopy")):
        os.remove(stale)
    log(f"bench: exporting the points of {table} for supercluster")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f, conn.cursor() as cur:
        cur.copy_expert(f"COPY (SELECT lat, lon FROM {table} ORDER BY id) TO STDOUT WITH (FORMAT binary)", f,
                        size=1 << 20)
    os.replace(tmp, path)
    return path


def _query(vp):
    # getClusters takes [west, south, east, north]; west > east crosses the antimeridian.
    return {"zoom": vp.zoom, "west": vp.lon_ranges[0][0], "south": vp.lat_min,
            "east": vp.lon_ranges[-1][1], "north": vp.lat_max}


def _heap_limit_mb():
    """node's heap limit: its default (about 4 GB) is too small for 10M GeoJSON features; allow
    three quarters of the machine's memory (the report shows what was used)."""
    try:
        with open("/proc/meminfo") as f:
            total_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        return 8192
    return max(2048, total_kb * 3 // 4 // 1024)


def run(server, conn, table, viewports_by_zoom, repeat, log):
    """Runs supercluster on every viewport. Returns (what the report prints about the build,
    {(zoom, index of the viewport): {"samples_ms", "clusters", "counts_sum", "centres"}})."""
    version = ensure_node_modules(log)
    points = export_points(server, conn, table, log)
    keys = [(zoom, i) for zoom, vps in viewports_by_zoom.items() for i in range(len(vps))]
    queries = [_query(viewports_by_zoom[z][i]) for z, i in keys] + [WORLD]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(queries, f)
        queries_path = f.name
    log(f"bench: supercluster {version}: building its index and running {len(keys)} viewports")
    load = os.getloadavg()
    try:
        r = subprocess.run([node_binary(), f"--max-old-space-size={_heap_limit_mb()}", SCRIPT,
                            "--points", points, "--queries", queries_path, "--radius", str(H.RADIUS_PX),
                            "--extent", str(EXTENT), "--max-zoom", str(H.MAX_ZOOM), "--repeat", str(repeat)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        os.remove(queries_path)
    if r.returncode != 0:
        raise RuntimeError(f"supercluster (node {SCRIPT}) failed: {r.stderr.strip()[-800:]}")
    out = json.loads(r.stdout)
    results = out.pop("queries")
    world = results.pop()
    out.update(loadavg_before=load, loadavg_after=os.getloadavg(), points_file=os.path.basename(points),
               world_counts_sum=world["counts_sum"], world_clusters=world["clusters"])
    log(f"bench:   supercluster index built in {out['build_ms'] / 1000:.1f} s, "
        f"peak RSS {out['peak_rss_bytes'] / 2**20:,.0f} MiB")
    return out, dict(zip(keys, results))
