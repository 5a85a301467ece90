#!/usr/bin/env python3
"""Writes to the source of a stored cluster hierarchy (issue 17), run by hierarchy_writes.sh
against the server that PGHOST/PGPORT/PGUSER name.

Small datasets (50-400 rows: uniform, city clumps, a band across the antimeridian, the poles;
plain tables and tables partitioned by LIST, with and without the hierarchy's partition column)
take a seeded random sequence of writes, every kind at least once per dataset:

  insert1        a single-row INSERT
  move_am        an UPDATE moving a marker across the antimeridian (lon to the other side of 180)
  move_pole      an UPDATE moving a marker over a pole (lat to +-89.9, another longitude)
  delete1        a single-row DELETE
  bulk_insert    INSERT ... SELECT of 5-60 rows
  bulk_update    one UPDATE moving ~10 % of the rows (some back from a NULL position)
  bulk_delete    one DELETE of ~10 % of the rows
  copy           COPY of 5-60 rows (psycopg2 copy_from)
  update_other   an UPDATE of a column the hierarchy does not read: the nodes must not change
  update_id      an UPDATE of the id column
  update_part    an UPDATE of the partition value (moves rows between partitions of a
                 partitioned table, and between the hierarchy's partitions)
  null_pos       an UPDATE setting a position to NULL (the marker leaves the hierarchy)
  rollback       BEGIN, writes, a check inside, ROLLBACK: the nodes are those of before
  savepoint      BEGIN, a write, SAVEPOINT, writes, a check, ROLLBACK TO: the nodes are those
                 after the first write; one more write, COMMIT
  multi          one transaction of insert, moves, delete, COPY and an id change, checked
                 inside before its COMMIT
  truncate       TRUNCATE (the hierarchy empties), then INSERT ... SELECT refills it

After every step (and inside the transactions), hierarchy_checks.py checks every guarantee
against the table's rows as the session sees them: conservation per zoom and partition,
separation, nesting (children, expansion zooms), exact centres, bounds and sums against the
members, cluster_leaves = members, viewports. Then the clusters per zoom are compared with a
fresh build of the same rows (a second hierarchy created at that moment, dropped again).

Drift: the ratio is reported per step (maintained/fresh, all zooms) and summarised per dataset.
The contract promises the guarantees, not a cluster count: deletes leave clusters coarser than a
fresh build (fewer clusters), and an incremental insert's greedy choice may differ from the
build's either way. So the only count asserted is the one the guarantees imply: a zoom holds
clusters exactly when the fresh build's does (both are non-empty iff a row is visible, by
conservation). The ratio is printed, and a dataset whose all-zoom ratio leaves [0.5, 2] (the
loose bound the core's unit test asserts on its own scenarios) gets a WARN line, not a failure.

Then a large run: GEOCLUSTER_WRITES_ROWS rows (default 20000) of the benchmark generator's
distribution, GEOCLUSTER_WRITES_COUNT random single-row writes (default 3000: inserts, moves,
deletes) and a few bulk statements, checked once at the end, with the drift.

Then a reader's snapshot: a REPEATABLE READ session counts its rows and, at every zoom, the
sum of the counts of cluster_viewport over the world, while another session inserts, moves and
deletes and commits; the sums stay equal to the first session's row count. A third session
(READ COMMITTED) counts a single-row INSERT in its next cluster_viewport.

A refused write (0A000, as before writes were maintained) is one failed check, after which the
datasets run their step 0 only. GEOCLUSTER_WRITES_EMULATE=1 checks the harness itself: every
write statement runs between a drop and a create of the hierarchy in the same transaction, so
every guarantee holds and the drift is 1 (the reader's test is skipped then: a dropped hierarchy
is no snapshot's).

Environment: GEOCLUSTER_WRITES_SEED (default 1), GEOCLUSTER_WRITES_DATASETS (default 8),
GEOCLUSTER_WRITES_STEPS (default 20 per dataset), GEOCLUSTER_WRITES_ROWS, GEOCLUSTER_WRITES_COUNT.
Prints `FAIL ...` lines and `N passed, M failed` last; exits non-zero on failure.
"""
import io
import os
import random
import sys
import time

import psycopg2

from hierarchy_checks import (bench_points, check_hierarchy, counts_per_zoom, drift_line, fetch_nodes,
                              fresh_counts, source_rows)
from tally import Tally

DB = "geocluster_hier_writes"
SEED = int(os.environ.get("GEOCLUSTER_WRITES_SEED", "1"))
DATASETS = int(os.environ.get("GEOCLUSTER_WRITES_DATASETS", "8"))
STEPS = int(os.environ.get("GEOCLUSTER_WRITES_STEPS", "20"))
LARGE_ROWS = int(os.environ.get("GEOCLUSTER_WRITES_ROWS", "20000"))
LARGE_WRITES = int(os.environ.get("GEOCLUSTER_WRITES_COUNT", "3000"))
EMULATE = os.environ.get("GEOCLUSTER_WRITES_EMULATE") == "1"
KINDS = ["insert1", "move_am", "move_pole", "delete1", "bulk_insert", "bulk_update", "bulk_delete", "copy",
         "update_other", "update_id", "update_part", "null_pos", "rollback", "savepoint", "multi", "truncate"]
# Per-step checks draw fewer drill-downs and boxes than the checks at a dataset's ends.
STEP_SAMPLE, STEP_BOXES = 12, 8

TALLY = Tally()
check = TALLY.check


class Refused(Exception):
    """A write refused because hierarchies do not follow writes yet (0A000)."""


def refusal(e):
    return isinstance(e, psycopg2.Error) and e.pgcode == "0A000" and "stale" in str(e)


# ---- datasets ------------------------------------------------------------------------------

def point(rng, kind):
    if kind == "antimeridian" or (kind == "mixed" and rng.random() < 0.3):
        lat, lon = rng.uniform(-40, 40), rng.choice([rng.uniform(178, 180), rng.uniform(-180, -178), 180.0, -180.0])
    elif kind == "poles" or (kind == "mixed" and rng.random() < 0.3):
        lat, lon = rng.choice([rng.uniform(84, 90), rng.uniform(-90, -84), 89.9, -89.9]), rng.uniform(-180, 180)
    elif kind == "cities":
        c = rng.randrange(5)
        lat = max(-90.0, min(90.0, rng.gauss(-50 + 25 * c, 0.3)))
        lon = ((rng.gauss(-170 + 80 * c, 0.3) + 180) % 360) - 180
    else:
        lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
    return round(lat, 7), round(lon, 7)


def make_dataset(rng, k):
    kind = ["antimeridian", "poles", "cities", "uniform", "mixed"][k % 5]
    layout = ["plain", "plain+part", "parted", "parted+part"][k % 4]
    return {"name": f"ds{k}_{kind}_{layout}", "kind": kind, "layout": layout, "rows": rng.randint(50, 400),
            "radius": rng.choice([40.0, 60.0, 90.0, rng.uniform(20, 150)]), "max_zoom": rng.choice([5, 8, 12, 16]),
            "rng": rng}


def create_source(cur, table, layout):
    cur.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    cols = "id bigint NOT NULL, lat float8, lon float8, cat text NOT NULL, note text"
    if layout.startswith("parted"):
        cur.execute(f"CREATE TABLE {table} ({cols}) PARTITION BY LIST (cat)")
        cur.execute(f"CREATE TABLE {table}_a PARTITION OF {table} FOR VALUES IN ('c0')")
        cur.execute(f"CREATE TABLE {table}_b PARTITION OF {table} FOR VALUES IN ('c1', 'c2')")
    else:
        cur.execute(f"CREATE TABLE {table} ({cols}, PRIMARY KEY (id))")


class Run:
    """One dataset's table, its hierarchy and its writes."""

    def __init__(self, conn, ds, table="src"):
        self.conn, self.cur, self.ds, self.rng, self.table = conn, conn.cursor(), ds, ds["rng"], table
        self.next_id = 1
        self.ratios = []
        self.in_tx = False
        create_source(self.cur, table, ds["layout"])
        self.insert_rows(ds["rows"], raw=True)
        self.part = "cat" if ds["layout"].endswith("+part") else None
        self.cur.execute("SELECT cluster_hierarchy_create(%s, 'lat', 'lon', 'id', %s, %s, %s)::text",
                         (table, ds["radius"], ds["max_zoom"], self.part))
        self.h = self.cur.fetchone()[0]

    # -- writing --

    def new_rows(self, n):
        rows = []
        for _ in range(n):
            lat, lon = point(self.rng, self.ds["kind"])
            rows.append((self.next_id, lat, lon, "c%d" % self.rng.randrange(3), "n%d" % self.next_id))
            self.next_id += 1
        return rows

    def write(self, fn, raw=False):
        """Runs fn(cur), one write statement. A refusal raises Refused; under EMULATE the
        statement runs between a drop and a create of the hierarchy, in one transaction."""
        cur = self.cur
        try:
            if EMULATE and not raw:
                if not self.in_tx:
                    cur.execute("BEGIN")
                cur.execute("SELECT cluster_hierarchy_drop(%s)", (self.h,))
                fn(cur)
                cur.execute("SELECT cluster_hierarchy_create(%s, 'lat', 'lon', 'id', %s, %s, %s)::text",
                            (self.table, self.ds["radius"], self.ds["max_zoom"], self.part))
                self.h = cur.fetchone()[0]
                if not self.in_tx:
                    cur.execute("COMMIT")
            else:
                fn(cur)
        except psycopg2.Error as e:
            if refusal(e):
                raise Refused(str(e).strip().splitlines()[0]) from e
            raise

    def sql(self, query, args=None):
        self.write(lambda cur: cur.execute(query, args))

    def insert_rows(self, n, raw=False):
        rows = self.new_rows(n)
        cols = list(zip(*rows)) if rows else [[], [], [], [], []]
        self.write(lambda cur: cur.execute(
            f"INSERT INTO {self.table} SELECT * FROM unnest(%s::int8[], %s::float8[], %s::float8[], %s::text[], %s::text[])",
            [list(c) for c in cols]), raw=raw)

    def copy_rows(self, n):
        buf = io.StringIO("".join("\t".join(str(v) for v in r) + "\n" for r in self.new_rows(n)))
        self.write(lambda cur: cur.copy_from(buf, self.table, columns=("id", "lat", "lon", "cat", "note")))

    def ids(self, k, positioned=True):
        cond = "WHERE lat IS NOT NULL AND lon IS NOT NULL" if positioned else ""
        self.cur.execute(f"SELECT id FROM {self.table} {cond} ORDER BY id")
        ids = [r[0] for r in self.cur.fetchall()]
        return self.rng.sample(ids, min(k, len(ids)))

    def move(self, ids, where):
        """Moves the markers ids to new positions: 'am' across the antimeridian, 'pole' over a
        pole, else anywhere the dataset puts markers."""
        if not ids:
            return
        self.cur.execute(f"SELECT id, lat, lon FROM {self.table} WHERE id = ANY(%s)", (ids,))
        new = []
        for i, lat, lon in self.cur.fetchall():
            if where == "am":
                # to the other side of 180 degrees, near it (from near it: across it)
                side = -1.0 if (lon or 0.0) >= 0 else 1.0
                new.append((i, lat if lat is not None else 0.0, round(side * self.rng.uniform(179.8, 180.0), 7)))
            elif where == "pole":
                new.append((i, self.rng.choice([89.9, -89.9]), round(self.rng.uniform(-180, 180), 7)))
            else:
                new.append((i,) + point(self.rng, self.ds["kind"]))
        a, b, c = (list(x) for x in zip(*new))
        self.sql(f"UPDATE {self.table} t SET lat = v.lat, lon = v.lon FROM unnest(%s::int8[], %s::float8[], %s::float8[]) "
                 "AS v(id, lat, lon) WHERE t.id = v.id", (a, b, c))

    def delete(self, ids):
        self.sql(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (ids,))

    def count(self):
        self.cur.execute(f"SELECT count(*) FROM {self.table}")
        return self.cur.fetchone()[0]

    # -- checking --

    def verify(self, label, full=False):
        """Every guarantee now, and the drift against a fresh build; returns the nodes."""
        rng = self.rng
        pos, part_of = source_rows(self.cur, self.h)
        sample, boxes = (40, 25) if full else (STEP_SAMPLE, STEP_BOXES)
        nodes = check_hierarchy(self.cur, self.h, label, check, rng, pos, part_of, sample, boxes)
        fresh = fresh_counts(self.cur, self.h)
        mine = counts_per_zoom(nodes)
        zooms = range(self.ds["max_zoom"] + 1)
        check(f"{label}: a zoom holds clusters iff a fresh build's does",
              all((mine.get(z, 0) > 0) == (fresh.get(z, 0) > 0) for z in zooms),
              drift_line(mine, fresh, self.ds["max_zoom"]))
        a, b = sum(mine.values()), sum(fresh.values())
        if b:
            self.ratios.append(a / b)
        print(f"  {label}: {len(pos)} markers, {a}/{b} clusters", flush=True)
        return nodes


# ---- the steps -----------------------------------------------------------------------------
# Each takes the run and a label, writes, and checks what only it can check (the nodes that must
# not change, the states inside a transaction); the caller checks every guarantee after it.

def step_insert1(r, label):
    r.insert_rows(1)


def step_move_am(r, label):
    r.move(r.ids(1), "am")


def step_move_pole(r, label):
    r.move(r.ids(1), "pole")


def step_delete1(r, label):
    r.delete(r.ids(1))


def step_bulk_insert(r, label):
    r.insert_rows(r.rng.randint(5, 60))


def step_bulk_update(r, label):
    r.move(r.ids(max(2, r.count() // 10), positioned=False), "any")


def step_bulk_delete(r, label):
    r.delete(r.ids(max(2, r.count() // 10)))


def step_copy(r, label):
    r.copy_rows(r.rng.randint(5, 60))


def step_update_other(r, label):
    before = fetch_nodes(r.cur, r.h)
    r.sql(f"UPDATE {r.table} SET note = coalesce(note, '') || 'x' WHERE id %% 3 = %s", (r.rng.randrange(3),))
    check(f"{label}: an update of other columns leaves the nodes as they were", fetch_nodes(r.cur, r.h) == before)


def step_update_id(r, label):
    for i in r.ids(2):
        r.sql(f"UPDATE {r.table} SET id = %s WHERE id = %s", (r.next_id, i))
        r.next_id += 1


def step_update_part(r, label):
    for i in r.ids(3):
        r.sql(f"UPDATE {r.table} SET cat = CASE cat WHEN 'c0' THEN 'c1' WHEN 'c1' THEN 'c2' ELSE 'c0' END WHERE id = %s", (i,))


def step_null_pos(r, label):
    r.sql(f"UPDATE {r.table} SET {r.rng.choice(['lat', 'lon'])} = NULL WHERE id = ANY(%s)", (r.ids(2),))


def in_transaction(r, body):
    """Runs body() between BEGIN and whatever it ends with; an error rolls back."""
    r.cur.execute("BEGIN")
    r.in_tx = True
    try:
        body()
    except BaseException:
        r.cur.execute("ROLLBACK")
        raise
    finally:
        r.in_tx = False


def step_rollback(r, label):
    before = fetch_nodes(r.cur, r.h)

    def body():
        r.insert_rows(r.rng.randint(1, 20))
        r.move(r.ids(5), "any")
        r.delete(r.ids(3))
        r.verify(f"{label} (inside, before ROLLBACK)")
        r.cur.execute("ROLLBACK")
    in_transaction(r, body)
    check(f"{label}: after ROLLBACK the nodes are those of before", fetch_nodes(r.cur, r.h) == before)


def step_savepoint(r, label):
    def body():
        r.insert_rows(r.rng.randint(1, 10))
        r.cur.execute("SAVEPOINT s")
        after_first = fetch_nodes(r.cur, r.h)
        r.move(r.ids(5), "am")
        r.delete(r.ids(5))
        r.copy_rows(5)
        r.verify(f"{label} (inside, before ROLLBACK TO)")
        r.cur.execute("ROLLBACK TO SAVEPOINT s")
        check(f"{label}: after ROLLBACK TO the nodes are those at the savepoint", fetch_nodes(r.cur, r.h) == after_first)
        r.move(r.ids(3), "pole")
        r.cur.execute("COMMIT")
    in_transaction(r, body)


def step_multi(r, label):
    def body():
        r.insert_rows(1)
        r.move(r.ids(4), "am")
        r.delete(r.ids(2))
        r.copy_rows(r.rng.randint(3, 30))
        step_update_id(r, label)
        r.verify(f"{label} (inside, before COMMIT)")
        r.cur.execute("COMMIT")
    in_transaction(r, body)


def step_truncate(r, label):
    r.sql(f"TRUNCATE {r.table}")
    r.verify(f"{label} (empty)")
    r.insert_rows(r.rng.randint(50, 200))


STEPS_BY_KIND = {k: globals()["step_" + k] for k in KINDS}


def run_dataset(conn, ds, state):
    """The dataset's step 0 and, unless writes were refused already, its write sequence."""
    r = Run(conn, ds)
    name = ds["name"]
    print(f"{name}: {ds['rows']} rows, radius {ds['radius']:.1f} px, max_zoom {ds['max_zoom']}", flush=True)
    r.verify(f"{name} step 0", full=True)
    if state["refused"]:
        return
    rng = r.rng
    # A single-row INSERT first (the source documents' case), then every other kind in a random order.
    kinds = KINDS[1:]
    rng.shuffle(kinds)
    kinds = [KINDS[0]] + kinds
    kinds += [rng.choice(KINDS[:12]) for _ in range(max(0, STEPS - len(kinds)))]
    for n, kind in enumerate(kinds, 1):
        label = f"{name} step {n} {kind}"
        STEPS_BY_KIND[kind](r, label)
        r.verify(label, full=(n == len(kinds)))
    ratios = r.ratios[1:]
    if ratios:
        lo, hi = min(ratios), max(ratios)
        print(f"{name}: drift, clusters maintained/fresh over its steps: {lo:.3f} .. {hi:.3f}", flush=True)
        if lo < 0.5 or hi > 2:
            print(f"WARN {name}: a ratio outside [0.5, 2]", flush=True)


# ---- the large run ---------------------------------------------------------------------------

def run_large(conn, state):
    """GEOCLUSTER_WRITES_ROWS rows of the benchmark's distribution, LARGE_WRITES random writes
    (a third inserts at the generator's next positions, a third moves to such positions, a third
    deletes) and a few bulk statements; the checks once at the end."""
    pts = bench_points(LARGE_ROWS + LARGE_WRITES)
    ds = {"name": f"large_{LARGE_ROWS}", "kind": "uniform", "layout": "plain", "rows": 0, "radius": 60.0,
          "max_zoom": 16, "rng": random.Random(SEED * 7 + 1)}
    r = Run(conn, ds, table="big")
    r.cur.execute("SELECT cluster_hierarchy_drop(%s)", (r.h,))
    r.cur.execute("INSERT INTO big SELECT * FROM unnest(%s::int8[], %s::float8[], %s::float8[]), "
                  "LATERAL (SELECT 'c0'::text, NULL::text) x", [list(c) for c in zip(*pts[:LARGE_ROWS])])
    r.cur.execute("SELECT cluster_hierarchy_create('big', 'lat', 'lon', 'id', 60, 16)::text")
    r.h = r.cur.fetchone()[0]
    r.next_id = LARGE_ROWS + LARGE_WRITES + 1
    t0 = time.time()
    if state["refused"]:
        r.verify(f"{ds['name']} step 0", full=True)
        return
    rng, live, spare = r.rng, list(range(1, LARGE_ROWS + 1)), pts[LARGE_ROWS:]
    for w in range(LARGE_WRITES):
        op, (_, lat, lon) = rng.randrange(3), spare[w]
        if w % 1000 == 500:
            r.move(r.ids(200), "any")
            r.insert_rows(200)
        if op == 0:
            r.sql("INSERT INTO big VALUES (%s, %s, %s, 'c0', NULL)", (spare[w][0], lat, lon))
            live.append(spare[w][0])
        elif op == 1 and live:
            r.sql("UPDATE big SET lat = %s, lon = %s WHERE id = %s", (lat, lon, rng.choice(live)))
        elif live:
            k = rng.randrange(len(live))
            live[k], live[-1] = live[-1], live[k]
            r.sql("DELETE FROM big WHERE id = %s", (live.pop(),))
    print(f"{ds['name']}: {LARGE_WRITES} writes in {time.time() - t0:.1f} s", flush=True)
    nodes = r.verify(f"{ds['name']} after {LARGE_WRITES} writes", full=True)
    print(f"{ds['name']}: " + drift_line(counts_per_zoom(nodes), fresh_counts(r.cur, r.h), 16), flush=True)


# ---- a reader's snapshot -------------------------------------------------------------------

def world_sums(cur, h, max_zoom):
    cur.execute("SELECT z, coalesce(sum(v.count), 0) FROM generate_series(0, %s) z "
                "LEFT JOIN LATERAL cluster_viewport(%s, -90, -180, 90, 180, z) v ON true GROUP BY z ORDER BY z",
                (max_zoom, h))
    return [int(s) for _, s in cur.fetchall()]


def run_snapshot(dsn, conn, state):
    """A REPEATABLE READ reader's sums over the world at every zoom equal its own row count while
    another session writes and commits; a READ COMMITTED session counts a new row at once."""
    ds = {"name": "snapshot", "kind": "mixed", "layout": "plain", "rows": 2000, "radius": 60.0, "max_zoom": 12,
          "rng": random.Random(SEED * 11 + 3)}
    w = Run(conn, ds, table="snap")
    reader = psycopg2.connect(dsn)
    other = psycopg2.connect(dsn)
    other.autocommit = True
    try:
        rc = reader.cursor()
        rc.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        rc.execute("SELECT count(*) FROM snap")
        n0 = rc.fetchone()[0]
        sums = world_sums(rc, w.h, 12)
        check("snapshot: before the writes, the world's clusters at every zoom count the reader's rows",
              sums == [n0] * 13, f"{sums} != {n0}")
        if state["refused"] or EMULATE:
            return
        bad = []
        for k, op in enumerate(["insert1", "bulk_insert", "delete", "move", "copy", "insert1"]):
            if op == "insert1":
                w.insert_rows(1)
                oc = other.cursor()
                oc.execute("SELECT count(*) FROM snap")
                n = oc.fetchone()[0]
                got = world_sums(oc, w.h, 12)
                check(f"snapshot: a single-row INSERT ({k}) is counted by the next cluster_viewport of another session",
                      got == [n] * 13, f"{got} != {n}")
            elif op == "bulk_insert":
                w.insert_rows(50)
            elif op == "delete":
                w.delete(w.ids(40))
            elif op == "move":
                w.move(w.ids(40), "am")
            else:
                w.copy_rows(30)
            sums = world_sums(rc, w.h, 12)
            if sums != [n0] * 13:
                bad.append(f"after {op}: {sums} != {n0}")
        check("snapshot: while another session commits writes, the reader's sums stay its own row count",
              not bad, "; ".join(bad[:3]))
        rc.execute("COMMIT")
        rc.execute("SELECT count(*) FROM snap")
        n1 = rc.fetchone()[0]
        sums = world_sums(rc, w.h, 12)
        check("snapshot: a new snapshot sees the writes, and counts them", sums == [n1] * 13 and n1 != n0,
              f"{sums} != {n1} (before {n0})")
    finally:
        reader.close()
        other.close()


def main():
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    admin.cursor().execute(f"CREATE DATABASE {DB}")
    state = {"refused": False}
    t0 = time.time()
    try:
        conn = psycopg2.connect(dbname=DB)
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SET client_min_messages = warning")
        cur.execute("CREATE EXTENSION geocluster")
        cur.execute("SET extra_float_digits = 3")
        # A write that waits for a reader's lock (the snapshot test holds one open) fails instead
        # of hanging the suite.
        cur.execute("SET lock_timeout = '30s'")
        if EMULATE:
            print("EMULATE: every write runs between a drop and a create of its hierarchy (proves the harness only)")
        rng = random.Random(SEED)
        parts = [(ds["name"], lambda ds=ds: run_dataset(conn, ds, state))
                 for ds in (make_dataset(random.Random(rng.random()), k) for k in range(DATASETS))]
        parts.append((f"large_{LARGE_ROWS}", lambda: run_large(conn, state)))
        parts.append(("snapshot", lambda: run_snapshot(f"dbname={DB}", conn, state)))
        for name, part in parts:
            try:
                part()
            except Refused as e:
                state["refused"] = True
                check(f"{name}: writes to a source are maintained", False,
                      f"the first write was refused ({e}); from here on, the checks of fresh hierarchies only")
            except psycopg2.Error as e:
                check(f"{name}: runs", False, str(e).strip())
                if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                    cur.execute("ROLLBACK")
        conn.close()
    finally:
        if not os.environ.get("GEOCLUSTER_WRITES_KEEP"):
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    print(f"({time.time() - t0:.0f} s)")
    return TALLY.done()


if __name__ == "__main__":
    sys.exit(main())
