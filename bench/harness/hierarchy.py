"""geocluster's cluster hierarchy in the benchmark: build it once per dataset (timed, its memory
sampled), its size, the result floor's table, and the two approaches' statements.

  geocluster_hierarchy  SELECT <every column of cluster_node> FROM cluster_viewport(h, s, w, n, e, zoom)
                        on the hierarchy cluster_hierarchy_create(source, 'lat', 'lon', 'id', 60, 16)
                        built from the dataset (ensure)
  result_floor          the same number of rows, of the same columns, from a plain table by primary
                        key range (WHERE pk BETWEEN a AND a + n - 1): what returning the hierarchy's
                        answer costs by itself, so that cluster_viewport's ratio to it is the price
                        of finding the rows

The hierarchy is kept while the dataset is unchanged: bench_hierarchies remembers which dataset
build (fingerprint and build time) and which parameters it was built from, and how long the build
took. --rebuild-hierarchy builds it again, so that its build is timed in the same run as
supercluster's.
"""

import os
import threading
import time

import psycopg2

RADIUS_PX = 60
MAX_ZOOM = 16
# The result floor's table holds this many rows (real nodes of the hierarchy, repeated when it has
# fewer): a 1280x800 viewport holds a few hundred 60 px clusters at most, and each viewport's range
# starts at a different row.
FLOOR_ROWS = 50_000
SAMPLE_S = 0.02  # the build's memory is sampled this often

# Registry of the hierarchy (and the floor table) built for each dataset table by ensure(): the
# approaches' statements are functions of (viewport, table) and find their relation here.
_BUILT = {}


def has_hierarchy(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT to_regproc('cluster_hierarchy_create') IS NOT NULL AND to_regproc('cluster_viewport') "
                    "IS NOT NULL AND to_regtype('cluster_node') IS NOT NULL")
        return cur.fetchone()[0]


def node_columns(conn):
    """cluster_node's columns, in order, as (name, type): the hierarchy query selects them all, with
    count, lat and lon moved first (the harness reads clusters as (count, lat, lon, ...))."""
    with conn.cursor() as cur:
        cur.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                       WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'cluster_node'::regtype)
                         AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""")
        cols = cur.fetchall()
    first = [c for name in ("count", "lat", "lon") for c in cols if c[0] == name]
    if len(first) != 3:
        raise RuntimeError(f"cluster_node lacks count, lat or lon: {cols}")
    return first + [c for c in cols if c not in first]


def _select_list(columns):
    return ", ".join(f'"{name}"' for name, _ in columns)


def _f(x):
    return repr(float(x))


def viewport_sql(vp, table):
    """cluster_viewport on the dataset's hierarchy: one call, west > east across the antimeridian."""
    built = _BUILT[table]
    west, east = vp.lon_ranges[0][0], vp.lon_ranges[-1][1]
    return (f"SELECT {_select_list(built['columns'])} FROM cluster_viewport({built['hierarchy_literal']}, "
            f"{_f(vp.lat_min)}, {_f(west)}, {_f(vp.lat_max)}, {_f(east)}, {_f(vp.zoom)})")


def _floor_start(vp, rows):
    """Where the viewport's range starts in the floor table: spread by the viewport's centre, so
    that every viewport reads other pages (all in shared buffers after the prewarm)."""
    span = max(1, FLOOR_ROWS - rows)
    return 1 + (int(vp.cx * 7919 + vp.cy * 104729 + vp.zoom) % span)


def floor_range_sql(floor_table, columns, start, rows):
    """The result floor's statement: rows rows of the floor table from pk start on."""
    return (f"SELECT {_select_list(columns)} FROM {floor_table} "
            f"WHERE pk BETWEEN {start} AND {start + rows - 1}")


def floor_sql(vp, table, rows):
    built = _BUILT[table]
    return floor_range_sql(built["floor_table"], built["columns"], _floor_start(vp, rows), rows)


# --- memory of a backend, sampled while it works ---------------------------------------------------

def _proc_status(pid):
    """VmHWM, VmRSS and RssAnon of a process, in bytes, or None when it is not on this machine."""
    try:
        with open(f"/proc/{pid}/status") as f:
            out = {}
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "RssAnon", "RssShmem"):
                    out[key] = int(value.split()[0]) * 1024
            return out
    except OSError:
        return None


class MemorySampler:
    """Samples a backend's /proc status while a statement runs. RssAnon is its private memory
    (palloc'd and malloc'd); VmHWM is the peak of everything it has mapped, shared buffers it
    touched included (a build that reads the whole table touches all of its pages)."""

    def __init__(self, pid):
        self.pid, self.peak_anon, self.start, self.last = pid, 0, _proc_status(pid), None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            s = _proc_status(self.pid)
            if s:
                self.peak_anon = max(self.peak_anon, s.get("RssAnon", 0))
                self.last = s
            self._stop.wait(SAMPLE_S)

    def __enter__(self):
        if self.start is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return False

    def result(self):
        if self.start is None:
            return {"sampled": False}
        end = _proc_status(self.pid) or self.last or {}
        return {"sampled": True, "interval_s": SAMPLE_S,
                "peak_rss_anon_bytes": max(self.peak_anon, end.get("RssAnon", 0)),
                "rss_anon_before_bytes": self.start.get("RssAnon"),
                "vm_hwm_bytes": end.get("VmHWM"), "vm_hwm_before_bytes": self.start.get("VmHWM")}


# --- the hierarchy and the floor table ------------------------------------------------------------

def hierarchy_relations(conn, hierarchy):
    """The relations the hierarchy consists of, each with its indexes and TOAST
    (pg_total_relation_size): its nodes table (the handle), and the members and metadata tables
    cluster_hierarchy_info names."""
    with conn.cursor() as cur:
        cur.execute("""SELECT c.oid::regclass::text, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
                              (SELECT count(*) FROM pg_index WHERE indrelid = c.oid)
                       FROM cluster_hierarchy_info(%s::regclass) i,
                            unnest(ARRAY[%s::regclass, i.members, i.meta]) WITH ORDINALITY AS r(rel, n)
                            JOIN pg_class c ON c.oid = r.rel
                       ORDER BY r.n""", (hierarchy, hierarchy))
        return [{"relation": r[0], "total_bytes": int(r[1]), "heap_bytes": int(r[2]), "indexes": r[3]}
                for r in cur.fetchall()]


def _ensure_registry(cur):
    cur.execute("""CREATE TABLE IF NOT EXISTS bench_hierarchies (
                     source text PRIMARY KEY, key text NOT NULL, hierarchy text NOT NULL,
                     build jsonb NOT NULL, built_at timestamptz NOT NULL DEFAULT now())""")


def _build(server, table, log):
    """cluster_hierarchy_create on a fresh connection, timed, its backend's memory sampled."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            load = os.getloadavg()
            t0 = time.monotonic()
            with MemorySampler(pid) as mem:
                cur.execute("SELECT cluster_hierarchy_create(%s::regclass, 'lat', 'lon', 'id', %s::float8, %s)::text",
                            (table, float(RADIUS_PX), MAX_ZOOM))
                hierarchy = cur.fetchone()[0]
            build_s = time.monotonic() - t0
            return hierarchy, {"build_s": round(build_s, 3), "memory": mem.result(),
                               "loadavg_before": load, "loadavg_after": os.getloadavg()}
    finally:
        conn.close()


def _drop(conn, hierarchy, log):
    """Drops an earlier build with cluster_hierarchy_drop. If that fails (its source table was
    rebuilt under it: --rebuild drops the dataset's table), its three tables go by name."""
    with conn.cursor() as cur:
        if not _exists(cur, hierarchy):
            return
        try:
            cur.execute("SELECT cluster_hierarchy_drop(%s::regclass)", (hierarchy,))
        except psycopg2.Error as e:
            log(f"bench: cluster_hierarchy_drop({hierarchy}) failed ({e.pgerror or e}): dropping its tables")
            for suffix in ("", "_members", "_meta"):
                cur.execute(f"DROP TABLE IF EXISTS {hierarchy}{suffix}")


def ensure(server, conn, table, log, rebuild=False):
    """The dataset's hierarchy (built now or reused) and the result floor's table. Returns what the
    report prints: build time and memory, and the sizes."""
    with conn.cursor() as cur:
        _ensure_registry(cur)
        cur.execute("SELECT fingerprint || '@' || built_at::text FROM bench_datasets WHERE table_name = %s", (table,))
        row = cur.fetchone()
        key = f"{row[0] if row else '?'} radius {RADIUS_PX} max_zoom {MAX_ZOOM}"
        cur.execute("SELECT key, hierarchy, build, built_at::text FROM bench_hierarchies WHERE source = %s", (table,))
        known = cur.fetchone()
        reuse = (known is not None and not rebuild and known[0] == key
                 and _exists(cur, known[1]))
        if reuse:
            hierarchy, build, built_at = known[1], dict(known[2], reused_from=known[3]), known[3]
            log(f"bench: reusing the hierarchy {hierarchy} (built {known[3][:19]} in {build['build_s']:.1f} s)")
        else:
            if known is not None:
                _drop(conn, known[1], log)
            log(f"bench: building the cluster hierarchy of {table} (radius {RADIUS_PX} px, max_zoom {MAX_ZOOM})")
            hierarchy, build = _build(server, table, log)
            log(f"bench:   {hierarchy} built in {build['build_s']:.1f} s")
            cur.execute("""INSERT INTO bench_hierarchies (source, key, hierarchy, build) VALUES (%s, %s, %s, %s)
                           ON CONFLICT (source) DO UPDATE SET key = EXCLUDED.key, hierarchy = EXCLUDED.hierarchy,
                                                              build = EXCLUDED.build, built_at = now()
                           RETURNING built_at::text""",
                        (table, key, hierarchy, _json(build)))
            built_at = cur.fetchone()[0]
            # What autovacuum would do soon after: statistics and the visibility map, timed apart.
            t0 = time.monotonic()
            for rel in hierarchy_relations(conn, hierarchy):
                cur.execute(f"VACUUM (ANALYZE) {rel['relation']}")
            build["vacuum_analyze_s"] = round(time.monotonic() - t0, 3)
            log("bench:   checking that every zoom's nodes over the whole world add up to the table's rows")
            build.update(_world_counts(cur, table, hierarchy))
            cur.execute("UPDATE bench_hierarchies SET build = %s WHERE source = %s", (_json(build), table))
        cur.execute("SELECT quote_literal(%s) || '::regclass'", (hierarchy,))
        literal = cur.fetchone()[0]
    columns = node_columns(conn)
    _BUILT[table] = {"hierarchy": hierarchy, "hierarchy_literal": literal, "columns": columns}
    floor_table = ensure_floor(conn, table, literal, f"{hierarchy} {built_at} {key}",
                                columns, log)
    _BUILT[table]["floor_table"] = floor_table
    rels = hierarchy_relations(conn, hierarchy)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_relation_size(%s::regclass), pg_total_relation_size(%s::regclass)", (table, table))
        source_heap, source_total = (int(v) for v in cur.fetchone())
    return {"hierarchy": hierarchy, "radius_px": RADIUS_PX, "max_zoom": MAX_ZOOM, **build,
            "relations": rels, "bytes": sum(r["total_bytes"] for r in rels),
            "source_heap_bytes": source_heap, "source_total_bytes": source_total,
            "floor_table": floor_table, "floor_rows": FLOOR_ROWS,
            "node_columns": [f"{n} {t}" for n, t in columns]}


def prewarm(conn, table):
    """The floor table and the hierarchy's tables into shared buffers, each heap after its indexes,
    the nodes table last, after the dataset's prewarm: at 10M the hierarchy alone exceeds 4 GB of
    shared buffers, and what is loaded last stays."""
    built = _BUILT[table]
    rels = [r["relation"] for r in hierarchy_relations(conn, built["hierarchy"])]
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'")
        if not cur.fetchone():
            return
        for rel in [built["floor_table"]] + rels[1:] + rels[:1]:
            cur.execute("""SELECT sum(pg_prewarm(indexrelid)) FROM pg_index WHERE indrelid = %s::regclass""", (rel,))
            cur.execute("SELECT pg_prewarm(%s::regclass)", (rel,))


def _world_counts(cur, table, hierarchy):
    """Conservation, checked once per build: at every zoom the nodes of the whole world hold every
    row of the table."""
    t0 = time.monotonic()
    cur.execute(f"SELECT count(*) FROM {table}")
    rows = cur.fetchone()[0]
    bad = {}
    for zoom in range(MAX_ZOOM + 1):
        cur.execute("SELECT coalesce(sum(count), 0) "
                    "FROM cluster_viewport(%s::regclass, -90, -180, 90, 180, %s::float8)", (hierarchy, float(zoom)))
        total = int(cur.fetchone()[0])
        if total != rows:
            bad[zoom] = total
    return {"world_counts_ok": not bad, "world_counts_bad": bad, "rows": rows,
            "world_counts_s": round(time.monotonic() - t0, 3)}


def _exists(cur, rel):
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (rel,))
    return cur.fetchone()[0]


def _json(v):
    import json
    return json.dumps(v)


def ensure_floor(conn, table, hierarchy_literal, key, columns, log):
    """{table}_result_floor: pk bigint PRIMARY KEY and cluster_node's columns, FLOOR_ROWS rows
    copied from the hierarchy's own nodes (zoom 0 upwards, repeated if there are fewer), so the
    floor returns values like the hierarchy's, NULLs included."""
    floor = f"{table}_result_floor"
    with conn.cursor() as cur:
        cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (floor,))
        if cur.fetchone()[0] == key:
            return floor
        log(f"bench: building {floor} ({FLOOR_ROWS:,} rows shaped like cluster_node)")
        cur.execute(f"DROP TABLE IF EXISTS {floor}")
        cols = ", ".join(f'"{n}" {t}' for n, t in columns)
        cur.execute(f"CREATE TABLE {floor} (pk bigint PRIMARY KEY, {cols})")
        have = 0
        for zoom in range(MAX_ZOOM + 1):
            cur.execute(f"INSERT INTO {floor} SELECT {have} + row_number() OVER (), {_select_list(columns)} "
                        f"FROM cluster_viewport({hierarchy_literal}, -90, -180, 90, 180, {zoom}::float8) "
                        f"LIMIT {FLOOR_ROWS - have}")
            have += cur.rowcount
            if have >= FLOOR_ROWS:
                break
        if have == 0:
            raise RuntimeError(f"the hierarchy {hierarchy_literal} returned no nodes for the whole world")
        while have < FLOOR_ROWS:
            cur.execute(f"INSERT INTO {floor} SELECT pk + {have}, {_select_list(columns)} FROM {floor} "
                        f"WHERE pk <= {FLOOR_ROWS - have}")
            have += cur.rowcount
        cur.execute(f"VACUUM (FREEZE, ANALYZE) {floor}")
        cur.execute(f"COMMENT ON TABLE {floor} IS %s", (key,))
    return floor
