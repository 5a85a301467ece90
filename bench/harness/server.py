"""The PostgreSQL server the benchmark runs on, and the settings it runs with.

Three modes:
  persistent (default)  a cluster in ${GEOCLUSTER_BENCH_DIR:-/var/tmp/geocluster-bench-data},
                        created the first time and resumed afterwards (scripts/pgtmp resume), so
                        datasets survive between runs; stopped again at the end (--keep-running
                        leaves it up)
  throwaway (--smoke)   a fresh scripts/pgtmp cluster, removed at the end
  external (--pghost)   an existing server; only the session settings below are applied, the
                        server's own ones are reported as they are
"""

import os
import shlex
import subprocess

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PGTMP = os.path.join(ROOT, "scripts", "pgtmp")
DEFAULT_BENCH_DIR = "/var/tmp/geocluster-bench-data"
DATABASE = "geocluster_bench"


def _mem_total_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


# Settings that need a restart: --setting NAME=VALUE with one of these names goes to the server.
SERVER_LEVEL = {"shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_level", "max_wal_senders",
                "max_worker_processes", "huge_pages", "effective_io_concurrency"}


def server_settings(mode):
    """Settings of the clusters the harness starts itself. shared_buffers holds the 10M dataset with
    its indexes (about 3 GB) when the machine has the memory; the WAL settings only speed up loading
    (COPY into a table created in the same transaction then skips WAL)."""
    wal = {"wal_level": "minimal", "max_wal_senders": "0"}
    if mode == "throwaway":
        return wal
    shared_gb = max(1, min(4, _mem_total_bytes() // (4 << 30)))
    return {"shared_buffers": f"{shared_gb}GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min", **wal}


# Applied with SET on every connection, whatever the server.
SESSION_SETTINGS = {
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_parallel_workers_per_gather": "2",
    "max_parallel_maintenance_workers": "2",
    # Every world-zoom query here passes jit_above_cost and would pay for compiling its
    # expressions first; off, the measurement is the query alone (--setting jit=on to compare).
    "jit": "off",
}

# Reported with the results.
REPORTED = ["server_version", "shared_buffers", "work_mem", "maintenance_work_mem",
            "max_parallel_workers_per_gather", "max_parallel_workers", "max_worker_processes",
            "jit", "effective_cache_size", "random_page_cost", "wal_level"]


class Server:
    def __init__(self, mode, bench_dir=None, host=None, port=None, user=None, dbname=None,
                 overrides=(), keep_running=False, log=print):
        self.mode, self.log, self.keep_running = mode, log, keep_running
        self.bench_dir = bench_dir
        self.server_settings = server_settings(mode) if mode != "external" else {}
        self.session_settings = dict(SESSION_SETTINGS)
        for kv in overrides:
            name, _, value = kv.partition("=")
            if not value:
                raise SystemExit(f"bench: --setting wants NAME=VALUE, got {kv!r}")
            if name not in SERVER_LEVEL:
                self.session_settings[name] = value
            elif mode == "external":
                log(f"bench: --setting {name} needs a restart: left as the external server has it")
            else:
                self.server_settings[name] = value
        self.host, self.port, self.user = host, port, user or "postgres"
        self.dbname = dbname or DATABASE
        self.pgtmp_dir = None

    # --- lifecycle --------------------------------------------------------------------------------
    def __enter__(self):
        settings = [f"{k}={v}" for k, v in self.server_settings.items()]
        if self.mode == "persistent":
            out = self._pgtmp("resume", self.bench_dir, *settings)
        elif self.mode == "throwaway":
            out = self._pgtmp("start", *settings)
        else:
            self._ensure_database()
            return self
        env = dict(w.partition("=")[::2] for w in shlex.split(out) if "=" in w)
        self.host, self.port, self.user = env["PGHOST"], env["PGPORT"], env["PGUSER"]
        self.pgtmp_dir = env["GEOCLUSTER_PGTMP"]
        try:
            self._ensure_database()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.mode == "throwaway" and self.pgtmp_dir:
            self._pgtmp("stop", self.pgtmp_dir)
        elif self.mode == "persistent" and not self.keep_running:
            self._pgtmp("halt", self.pgtmp_dir)
        return False

    @staticmethod
    def _pgtmp(*args):
        r = subprocess.run([PGTMP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"scripts/pgtmp {args[0]} failed: {r.stderr.strip()}")
        return r.stdout

    # --- connections --------------------------------------------------------------------------------
    def connect(self, dbname=None, autocommit=True):
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user,
                                dbname=dbname or self.dbname, application_name="geocluster-bench")
        conn.autocommit = autocommit
        with conn.cursor() as cur:
            for k, v in self.session_settings.items():
                cur.execute(f"SET {k} = %s", (v,))
        if not autocommit:
            conn.commit()
        return conn

    def _ensure_database(self):
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,))
            if not cur.fetchone():
                cur.execute(f'CREATE DATABASE "{self.dbname}"')
        conn.close()
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_prewarm'")
            if cur.fetchone():
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            # geocluster's own approaches need the extension: create it when the server has it.
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'geocluster'")
            if cur.fetchone():
                try:
                    cur.execute("CREATE EXTENSION IF NOT EXISTS geocluster")
                    # During development the version stays the same while its SQL grows: an
                    # extension created from older scripts lacks the newest functions, or cannot
                    # be updated at all. Recreate it then rather than measure old functions
                    # (CASCADE drops the qk column; dataset.ensure adds it back).
                    try:
                        cur.execute("ALTER EXTENSION geocluster UPDATE")  # to the version installed now
                        stale = _stale_extension(cur)
                    except psycopg2.Error as e:
                        stale = f"its update fails: {(e.pgerror or str(e)).strip()}"
                    if stale:
                        self.log(f"bench: the geocluster extension is stale ({stale}): recreating it")
                        cur.execute("DROP EXTENSION geocluster CASCADE")
                        cur.execute("CREATE EXTENSION geocluster")
                except psycopg2.Error as e:
                    self.log(f"bench: geocluster extension not created ({e.pgerror or e}); its approaches will be skipped")
        conn.close()


# SQL functions added during development, newest last: the extension is recreated when it lacks
# one. Those with a C symbol are looked for only when the installed library has that symbol, so a
# server built before them keeps its extension instead of recreating it at every run.
NEWER_FUNCTIONS = [("cluster_state_agg(bytea)", None),
                   ("cluster_viewport(regclass,float8,float8,float8,float8,float8)", "cluster_viewport"),
                   ("cluster_hierarchy_guard_start()", "cluster_hierarchy_guard_start")]


def _library_has(cur, symbol):
    """Whether geocluster's shared library exports a C function `symbol`: a throwaway
    declaration of it, rolled back (the benchmark connects as a superuser)."""
    cur.execute("BEGIN")
    try:
        cur.execute(f"CREATE FUNCTION pg_temp.geocluster_probe() RETURNS void AS '$libdir/geocluster', "
                    f"'{symbol}' LANGUAGE C")
        return True
    except psycopg2.Error:
        return False
    finally:
        cur.execute("ROLLBACK")


def _stale_extension(cur):
    """The first function of NEWER_FUNCTIONS the installed library has but the extension lacks."""
    for signature, symbol in NEWER_FUNCTIONS:
        cur.execute("SELECT to_regprocedure(%s) IS NULL", (signature,))
        if cur.fetchone()[0] and (symbol is None or _library_has(cur, symbol)):
            return f"it lacks {signature}"
    return None


def describe(conn):
    """Server settings and versions, as reported with the results."""
    with conn.cursor() as cur:
        cur.execute("SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name", (REPORTED,))
        settings = dict(cur.fetchall())
        cur.execute("SELECT extname, extversion FROM pg_extension ORDER BY extname")
        settings["extensions"] = dict(cur.fetchall())
    return settings


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "nproc": os.cpu_count(), "ram_gib": round(_mem_total_bytes() / (1 << 30), 1)}
