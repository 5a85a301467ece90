"""Build or reuse the benchmark dataset: table markers_<N>_s<seed> with the baselines' columns and
indexes, described by a row of bench_datasets (fingerprint, load times, profile).

The generator (gen/markers_gen.cpp) is compiled on first use into bench/build/, under a name that
carries the hash of its source: a changed generator is a new binary, and a dataset built by another
generator is rebuilt rather than reused.
"""

import hashlib
import json
import os
import subprocess
import time

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_SRC = os.path.join(BENCH, "gen", "markers_gen.cpp")
BUILD = os.path.join(BENCH, "build")
CXXFLAGS = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-ffp-contract=off"]

COLUMNS = """
    id      bigint NOT NULL,
    lat     float8 NOT NULL,
    lon     float8 NOT NULL,
    geohash varchar(12) NOT NULL,  -- the geohash-prefix GROUP BY
    quadkey bigint NOT NULL,       -- the bigint quadkey schema: zoom 23, base-4 digits read as an integer
    geom    geometry(Point, 4326) NOT NULL
"""

# (suffix, definition): the PRIMARY KEY a DBA would add, then each baseline's index.
INDEXES = [
    ("pkey", "ALTER TABLE {t} ADD CONSTRAINT {t}_pkey PRIMARY KEY (id)"),
    ("lat_lon_idx", "CREATE INDEX {t}_lat_lon_idx ON {t} (lat, lon)"),  # the geohash-prefix GROUP BY's bbox
    ("geohash_idx", "CREATE INDEX {t}_geohash_idx ON {t} (geohash varchar_pattern_ops)"),  # prefix scans
    ("quadkey_idx", "CREATE INDEX {t}_quadkey_idx ON {t} (quadkey)"),  # the bigint quadkey schema's ranges
    ("geom_idx", "CREATE INDEX {t}_geom_idx ON {t} USING gist (geom)"),  # PostGIS
]


# geocluster's own column, when the server has the extension: the point's quadkey at zoom 29 (the
# finest), computed by the extension, with a btree for `qk <@ quadkey_cover(...)`. New builds get
# it as a generated column (computed during COPY); an existing table gets it with ensure_qk (one
# table rewrite, then its indexes are rebuilt: about 1/3 of a build).
QK_COLUMN = "qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 29)) STORED"
QK_INDEX = ("qk_idx", "CREATE INDEX {t}_qk_idx ON {t} (qk)")
# The index geocluster's README recommends for cluster_agg(lat, lon, zoom, radius_px, id) over a
# viewport: the seeds' (lat, lon) btree plus the id, so that the aggregate reads the index alone
# (an index-only scan), as count(*) - the scan floor - does on (lat, lon). Without it, every row
# of a small viewport costs a heap fetch the floor does not pay. Added like the qk column.
COVERING_INDEX = ("lat_lon_id_idx", "CREATE INDEX {t}_lat_lon_id_idx ON {t} (lat, lon) INCLUDE (id)")
GEOCLUSTER_INDEXES = [QK_INDEX, COVERING_INDEX]
# ... and, as the README advises, the only (lat, lon) index: beside a plain (lat, lon) btree the
# planner, which underestimates a viewport's rows by orders of magnitude (markers crowd into
# cities), reads small viewports through the narrower index with a heap fetch per row
# (harness/index_choice.py measured 4.2x the floor at zoom 12 that way, 1.84x without it). The
# covering index has the same key columns, so the geohash-prefix GROUP BY's bbox filter and the scan floor use it
# exactly as they used the plain one.
PLAIN_LATLON_SUFFIX = "lat_lon_idx"


def has_geocluster(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT to_regtype('quadkey') IS NOT NULL AND "
                    "to_regprocedure('quadkey(float8,float8,int)') IS NOT NULL")
        return cur.fetchone()[0]


def ensure_qk(server, table, log):
    """Add geocluster's qk column and its index to an existing dataset, if missing (idempotent).
    Returns the seconds it took, or None when nothing was done."""
    conn = server.connect()
    try:
        if not has_geocluster(conn):
            return None
        with conn.cursor() as cur:
            cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'qk' "
                        "AND NOT attisdropped", (table,))
            has_col = cur.fetchone() is not None
            missing_idx = []
            for suffix, ddl in GEOCLUSTER_INDEXES:
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{table}_{suffix}",))
                if not cur.fetchone()[0]:
                    missing_idx.append((suffix, ddl))
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{table}_{PLAIN_LATLON_SUFFIX}",))
            has_plain = cur.fetchone()[0]
            if has_col and not missing_idx and not has_plain:
                return None
            t0 = time.monotonic()
            if not has_col:
                log(f"bench: adding geocluster's qk column to {table} (rewrites the table and its indexes)")
                cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {QK_COLUMN}")
                log(f"bench:   qk column: {time.monotonic() - t0:.1f} s")
            for suffix, ddl in (GEOCLUSTER_INDEXES if not has_col else missing_idx):
                t1 = time.monotonic()
                cur.execute(ddl.format(t=table).replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS"))
                log(f"bench:   {table}_{suffix}: {time.monotonic() - t1:.1f} s")
            if has_plain:
                log(f"bench:   dropping {table}_{PLAIN_LATLON_SUFFIX}: the covering index replaces it")
                cur.execute(f"DROP INDEX {table}_{PLAIN_LATLON_SUFFIX}")
            t1 = time.monotonic()
            # The rewrite leaves the rows unfrozen and the visibility map empty: index-only scans
            # need the VACUUM, as after the first build.
            cur.execute(f"VACUUM (FREEZE, ANALYZE) {table}")
            log(f"bench:   vacuum: {time.monotonic() - t1:.1f} s")
            took = round(time.monotonic() - t0, 2)
            cur.execute("""UPDATE bench_datasets SET index_s = index_s || jsonb_build_object('qk_added_s', %s::float8)
                           WHERE table_name = %s""", (took, table))
            return took
    finally:
        conn.close()


def generator_binary(log):
    with open(GEN_SRC, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:12]
    exe = os.path.join(BUILD, f"markers_gen-{sha}")
    if not os.path.exists(exe):
        os.makedirs(BUILD, exist_ok=True)
        log(f"bench: compiling the generator ({os.path.relpath(exe, BENCH)})")
        tmp = f"{exe}.tmp{os.getpid()}"
        subprocess.run(["g++", *CXXFLAGS, "-o", tmp, GEN_SRC], check=True)
        os.replace(tmp, exe)
    return exe, sha


def selftest(exe):
    r = subprocess.run([exe, "--selftest"], stderr=subprocess.PIPE, text=True)
    return r.returncode == 0, r.stderr.strip()


def table_name(markers, seed):
    return f"markers_{markers}_s{seed}"


class _HashingReader:
    """The generator's stdout, hashed on its way into COPY: the md5 of every byte of the dataset."""

    def __init__(self, raw):
        self.raw, self.md5, self.bytes = raw, hashlib.md5(), 0

    def read(self, size=-1):
        chunk = self.raw.read(size)
        self.md5.update(chunk)
        self.bytes += len(chunk)
        return chunk


def ensure(server, markers, seed, log, rebuild=False, table=None):
    """The dataset's metadata row, building the table first if it is missing or stale."""
    exe, gen_sha = generator_binary(log)
    table = table or table_name(markers, seed)
    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute("""CREATE TABLE IF NOT EXISTS bench_datasets (
                         table_name text PRIMARY KEY, markers bigint, seed bigint, generator text,
                         stream_md5 text, fingerprint text, kinds jsonb, load_s float8,
                         index_s jsonb, profile jsonb, built_at timestamptz DEFAULT now())""")
        cur.execute("SELECT to_jsonb(d) FROM bench_datasets d WHERE table_name = %s AND to_regclass(%s) IS NOT NULL",
                    (table, table))
        row = cur.fetchone()
    conn.close()
    if row and not rebuild and row[0]["generator"] == gen_sha and row[0]["markers"] == markers \
            and row[0]["seed"] == seed:
        log(f"bench: reusing {table} (built {row[0]['built_at'][:19]}, fingerprint {row[0]['fingerprint']})")
        took = ensure_qk(server, table, log)
        if took is not None:
            row[0].setdefault("index_s", {})["qk_added_s"] = took
        conn = server.connect()
        try:
            row[0].setdefault("profile", {}).update(sizes(conn, table))
        finally:
            conn.close()
        return row[0]
    return build(server, exe, gen_sha, markers, seed, table, log)


def build(server, exe, gen_sha, markers, seed, table, log):
    log(f"bench: building {table}: {markers:,} markers, seed {seed}")
    conn = server.connect(autocommit=False)
    with_qk = has_geocluster(conn)
    conn.rollback()
    columns = COLUMNS + (f",\n    {QK_COLUMN}  -- geocluster\n" if with_qk else "")
    indexes = ([i for i in INDEXES if i[0] != PLAIN_LATLON_SUFFIX] + GEOCLUSTER_INDEXES) if with_qk else INDEXES
    t0 = time.monotonic()
    proc = subprocess.Popen([exe, "--seed", str(seed), "--first", "1", "--last", str(markers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader = _HashingReader(proc.stdout)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} ({columns})")
            # Created in this transaction, so FREEZE writes the rows frozen and all-visible
            # (index-only scans need no VACUUM first), and with wal_level = minimal COPY writes no WAL.
            cur.copy_expert(f"COPY {table} FROM STDIN WITH (FREEZE)", reader, size=1 << 20)
    except BaseException:
        proc.kill()
        proc.wait()
        conn.rollback()
        raise
    stderr = proc.stderr.read().decode()
    if proc.wait() != 0:
        conn.rollback()
        raise RuntimeError(f"markers_gen failed: {stderr.strip()}")
    conn.commit()
    load_s = time.monotonic() - t0
    kinds = json.loads(stderr.strip().splitlines()[-1])
    log(f"bench:   generated and loaded {reader.bytes / 1e6:,.0f} MB in {load_s:.1f} s")

    conn.autocommit = True
    index_s = {}
    with conn.cursor() as cur:
        for suffix, ddl in indexes:
            t1 = time.monotonic()
            cur.execute(ddl.format(t=table))
            index_s[suffix] = round(time.monotonic() - t1, 2)
            log(f"bench:   {table}_{suffix}: {index_s[suffix]:.1f} s")
        t1 = time.monotonic()
        cur.execute(f"VACUUM (ANALYZE) {table}")
        index_s["vacuum_analyze"] = round(time.monotonic() - t1, 2)
    t1 = time.monotonic()
    fp = fingerprint(conn, table)
    prof = profile(conn, table)
    prof["fingerprint_profile_s"] = round(time.monotonic() - t1, 2)
    meta = {"table_name": table, "markers": markers, "seed": seed, "generator": gen_sha,
            "stream_md5": reader.md5.hexdigest(), "fingerprint": fp, "kinds": kinds,
            "load_s": round(load_s, 2), "index_s": index_s, "profile": prof}
    with conn.cursor() as cur:
        cur.execute("DELETE FROM bench_datasets WHERE table_name = %s", (table,))
        cur.execute("""INSERT INTO bench_datasets (table_name, markers, seed, generator, stream_md5, fingerprint,
                                                   kinds, load_s, index_s, profile)
                       VALUES (%(table_name)s, %(markers)s, %(seed)s, %(generator)s, %(stream_md5)s,
                               %(fingerprint)s, %(kinds)s, %(load_s)s, %(index_s)s, %(profile)s)
                       RETURNING to_jsonb(bench_datasets)""",
                    {**meta, "kinds": json.dumps(kinds), "index_s": json.dumps(index_s),
                     "profile": json.dumps(prof)})
        row = cur.fetchone()[0]
    conn.close()
    total = load_s + sum(index_s.values())
    log(f"bench:   {table} ready in {total:.0f} s, fingerprint {fp}")
    return row


_ROW_TEXT = "concat_ws(',', id, lat, lon, geohash, quadkey, geom::text)"


def fingerprint(conn, table):
    """What the database holds, independent of physical order: the row count, the md5 of every
    row's text in id order for a sample of ids (all of them up to 100k rows), and an
    order-independent sum of a hash of every row."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        n = cur.fetchone()[0]
        step = max(1, n // 100000)
        cur.execute(f"""SELECT md5(string_agg({_ROW_TEXT}, ';' ORDER BY id) FILTER (WHERE id % {step} = 0)),
                               sum(hashtextextended({_ROW_TEXT}, 0)::numeric)
                        FROM {table}""")
        sample_md5, hash_sum = cur.fetchone()
    digest = hashlib.md5(f"{n}:{sample_md5}:{hash_sum}".encode()).hexdigest()
    return f"{n}:{digest[:16]}"


def profile(conn, table):
    """The numbers that describe the dataset in bench/README.md."""
    p = {}
    with conn.cursor() as cur:
        cur.execute(f"""SELECT count(*), count(*) FILTER (WHERE abs(lon) > 179.5),
                               count(*) FILTER (WHERE abs(lat) >= 70),
                               count(*) FILTER (WHERE abs(lat) > 85.05112878)
                        FROM {table}""")
        p["rows"], p["lon_beyond_179_5"], p["lat_beyond_70"], p["lat_beyond_mercator"] = cur.fetchone()
        cur.execute(f"SELECT count(*) FROM (SELECT DISTINCT lat, lon FROM {table}) d")
        p["distinct_positions"] = cur.fetchone()[0]
        # Density: tiles at zoom 6 (4096 of them, 626 km at the equator) and zoom 12 (9.8 km).
        for zoom in (6, 12):
            cur.execute(f"""SELECT count(*), max(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n),
                                   sum(n) FILTER (WHERE rank <= 10)
                            FROM (SELECT count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS rank
                                  FROM {table} GROUP BY quadkey >> {2 * (23 - zoom)}) t""")
            nonempty, densest, median, top10 = cur.fetchone()
            p[f"zoom{zoom}_tiles_nonempty"] = nonempty
            p[f"zoom{zoom}_tiles_total"] = 4 ** zoom
            p[f"zoom{zoom}_densest_tile_rows"] = densest
            p[f"zoom{zoom}_median_nonempty_tile_rows"] = median
            p[f"zoom{zoom}_top10_tiles_rows"] = int(top10)
    p.update(sizes(conn, table))
    return p


def sizes(conn, table):
    """The heap's and the indexes' bytes now (a reused dataset may have gained geocluster's column
    and indexes since its profile was taken)."""
    with conn.cursor() as cur:
        cur.execute("""SELECT pg_relation_size(%s), coalesce(sum(pg_relation_size(indexrelid)), 0)
                        FROM pg_index WHERE indrelid = %s::regclass""", (table, table))
        heap, index = (int(v) for v in cur.fetchone())
        cur.execute("""SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                       WHERE i.indrelid = %s::regclass ORDER BY 1""", (table,))
        return {"heap_bytes": heap, "index_bytes": index, "index_sizes": {k: int(v) for k, v in cur.fetchall()}}


def prewarm(conn, table):
    """Pull the table and its indexes into shared buffers (pg_prewarm if the server has it, else a
    scan), so the first timed query does not pay for the disk. geocluster_tiles' states as well,
    when they exist."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'")
        if cur.fetchone():
            cur.execute("""SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
                           WHERE c.oid IN (%s::regclass, to_regclass(%s))
                              OR c.oid IN (SELECT indexrelid FROM pg_index
                                            WHERE indrelid IN (%s::regclass, to_regclass(%s)))""",
                        (table, f"{table}_tiles", table, f"{table}_tiles"))
        else:
            cur.execute(f"SELECT count(*) FROM {table}")


def ensure_tiles(conn, table, level_offset, max_zoom, radius_px, log):
    """geocluster_tiles' stored states: {table}_tiles (one cluster_state_agg per tile of level
    zoom + level_offset, zooms 0..max_zoom) and the empty {table}_tiles_dirty, as the README's
    "Precomputed tiles" recipe builds them. Built once per dataset build: the tiles table's
    comment names the dataset row (fingerprint and build time) and the parameters, and a
    mismatch rebuilds. Returns the build seconds (None when reused) and the size."""
    tiles = f"{table}_tiles"
    with conn.cursor() as cur:
        cur.execute("SELECT fingerprint || '@' || built_at::text FROM bench_datasets WHERE table_name = %s", (table,))
        row = cur.fetchone()
        key = f"{row[0] if row else '?'} (zoom, tile) level zoom+{level_offset} zooms 0..{max_zoom} radius {radius_px}"
        cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (tiles,))
        took = None
        if cur.fetchone()[0] != key:
            log(f"bench: building {tiles} (zooms 0..{max_zoom}, tiles of level zoom + {level_offset})")
            t0 = time.monotonic()
            cur.execute(f"DROP TABLE IF EXISTS {tiles}, {tiles}_dirty")
            cur.execute(f"CREATE TABLE {tiles} (zoom int NOT NULL, tile quadkey NOT NULL, state bytea NOT NULL, "
                        f"PRIMARY KEY (zoom, tile))")
            cur.execute(f"CREATE TABLE {tiles}_dirty (qk quadkey NOT NULL)")
            cur.execute("SET work_mem = '1GB'")
            for z in range(max_zoom + 1):  # one zoom at a time: a smaller hash table each
                t1 = time.monotonic()
                cur.execute(f"INSERT INTO {tiles} SELECT {z}, quadkey_parent(qk, {z + level_offset}), "
                            f"cluster_state_agg(lat, lon, {z}, {radius_px}, id) FROM {table} GROUP BY 2")
                log(f"bench:   zoom {z}: {cur.rowcount:,} tiles in {time.monotonic() - t1:.1f} s")
            cur.execute("RESET work_mem")
            cur.execute(f"VACUUM (FREEZE, ANALYZE) {tiles}, {tiles}_dirty")
            cur.execute(f"COMMENT ON TABLE {tiles} IS %s", (key,))
            took = round(time.monotonic() - t0, 2)
        cur.execute(f"SELECT count(*), pg_total_relation_size(%s) FROM {tiles}", (tiles,))
        n, size = cur.fetchone()
    if took is None:
        log(f"bench: reusing {tiles} ({n:,} tiles, {size / 2**20:.0f} MiB)")
    return {"build_s": took, "tiles": n, "bytes": size}
