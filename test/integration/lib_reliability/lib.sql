-- Helpers of the reliability tests (test/t/: concurrency, crash recovery, round trips), installed
-- into the test's own database in the schema `rel`. They need the geocluster and amcheck
-- extensions.
--
--   rel.point(k)                      a random marker position (half in 12 dense "cities")
--   rel.create_markers(tbl)           the marker table
--   rel.create_indexes(tbl)           one index per operator class that exists for quadkey and
--                                     geohash (found in pg_opclass, so classes added later are
--                                     tested without touching this file)
--   rel.add_markers(tbl, n, batch)    n random markers, at mixed levels
--   rel.make_queries(tbl, n)          n random queries per cell column into rel_queries
--   rel.check_indexes(tbl)            each index against the sequential scan, one row per index
--                                     and scan kind
--   rel.check_btrees(tbl)             amcheck on every btree index of tbl, one row per index

CREATE SCHEMA rel;

-- Half the markers are spread over the Web Mercator world, half sit within about 0.3 degrees
-- of one of 12 cities, so that cells deep in the tree hold many rows and index pages split.
-- k is unused: it makes a LATERAL call depend on the outer row, so it runs once per row.
CREATE FUNCTION rel.point(k bigint DEFAULT 0, OUT lat float8, OUT lon float8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cities CONSTANT float8[] := ARRAY[[51.5074, -0.1278], [48.8566, 2.3522], [40.7128, -74.0060],
        [35.6762, 139.6503], [-33.8688, 151.2093], [-23.5505, -46.6333], [55.7558, 37.6173],
        [1.3521, 103.8198], [64.1466, -21.9426], [-17.7134, 178.0650], [71.2906, -156.7887],
        [0, 0]];
    c int;
BEGIN
    IF random() < 0.5 THEN
        lat := (random() * 2 - 1) * 85.0511;
        lon := random() * 360 - 180;
    ELSE
        c := 1 + floor(random() * 12)::int;
        lat := greatest(-85.05, least(85.05, cities[c][1] + (random() - 0.5) * 0.6));
        lon := cities[c][2] + (random() - 0.5) * 0.6;
        -- Fiji straddles the antimeridian.
        IF lon >= 180 THEN lon := lon - 360; ELSIF lon < -180 THEN lon := lon + 360; END IF;
    END IF;
    PERFORM k;
END $$;

-- Mostly deep cells, some at every level down to the root (level 0, the whole world).
CREATE FUNCTION rel.random_level(max_level int) RETURNS int
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN random() < 0.7 THEN max_level - floor(random() * (max_level / 3 + 1))::int
                ELSE floor(random() * (max_level + 1))::int END
$$;

CREATE FUNCTION rel.create_markers(tbl text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (id bigserial PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,
                    qk quadkey, gh geohash, batch int)', tbl);
END $$;

-- One index per operator class of each cell type (on an empty table they then grow by
-- inserts; on a loaded one they are built at once, sorted where the class supports it).
CREATE FUNCTION rel.create_indexes(tbl text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    name text;
BEGIN
    FOR r IN
        SELECT CASE WHEN o.opcintype = 'quadkey'::regtype THEN 'qk' ELSE 'gh' END AS col,
               a.amname, format('%I.%I', n.nspname, o.opcname) AS opclass, o.opcname
          FROM pg_opclass o
          JOIN pg_am a ON a.oid = o.opcmethod
          JOIN pg_namespace n ON n.oid = o.opcnamespace
         WHERE o.opcintype IN ('quadkey'::regtype, 'geohash'::regtype)
         ORDER BY 1, 2, 4
    LOOP
        name := format('%s_%s_%s', tbl, r.col, r.opcname);
        EXECUTE format('CREATE INDEX %I ON %I USING %I (%I %s)', name, tbl, r.amname, r.col, r.opclass);
        RETURN NEXT format('%s (%s)', name, r.amname);
    END LOOP;
END $$;

-- A NULL cell now and then: indexes must skip them and the sequential scan agrees.
CREATE FUNCTION rel.add_markers(tbl text, n int, batch int DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    EXECUTE format($q$
        INSERT INTO %I (lat, lon, qk, gh, batch)
        SELECT p.lat, p.lon,
               CASE WHEN random() < 0.01 THEN NULL ELSE quadkey(p.lat, p.lon, rel.random_level(29)) END,
               CASE WHEN random() < 0.01 THEN NULL ELSE geohash(p.lat, p.lon, rel.random_level(12)) END,
               $1
          FROM generate_series(1, $2) g, LATERAL rel.point(g) p$q$, tbl)
        USING batch, n;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END $$;

-- Random queries, n per cell column, ops in turn <@ @> && =. A third are a stored value (so
-- = and @> find rows), a third an ancestor of a stored value at a random level (<@ and &&
-- find its subtree), a third a random point at a random level (often empty). Query 0 of each
-- column is `<@ the root cell`: every non-NULL row, a full walk of each index.
CREATE FUNCTION rel.make_queries(tbl text, n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('client_min_messages', 'warning', true);
    DROP TABLE IF EXISTS rel_queries;
    CREATE TABLE rel_queries (col text, qid int, op text, cell text, PRIMARY KEY (col, qid));
    EXECUTE format($q$
        INSERT INTO rel_queries
        SELECT c.col, 0, '<@', '' FROM (VALUES ('qk'), ('gh')) c(col)
        UNION ALL
        SELECT 'qk', s.i, (ARRAY['<@', '@>', '&&', '='])[1 + s.i %% 4],
               CASE s.i %% 3
                   WHEN 0 THEN s.qk::text
                   WHEN 1 THEN quadkey_parent(s.qk, floor(random() * (quadkey_zoom(s.qk) + 1))::int)::text
                   ELSE (SELECT quadkey(p.lat, p.lon, rel.random_level(29))::text FROM rel.point(s.i) p) END
          FROM (SELECT row_number() OVER () AS i, qk FROM (SELECT qk FROM %1$I WHERE qk IS NOT NULL
                ORDER BY random() LIMIT $1) x) s
        UNION ALL
        SELECT 'gh', s.i, (ARRAY['<@', '@>', '&&', '='])[1 + s.i %% 4],
               CASE s.i %% 3
                   WHEN 0 THEN s.gh::text
                   WHEN 1 THEN geohash_parent(s.gh, floor(random() * (geohash_precision(s.gh) + 1))::int)::text
                   ELSE (SELECT geohash(p.lat, p.lon, rel.random_level(12))::text FROM rel.point(s.i) p) END
          FROM (SELECT row_number() OVER () AS i, gh FROM (SELECT gh FROM %1$I WHERE gh IS NOT NULL
                ORDER BY random() LIMIT $1) x) s$q$, tbl)
        USING n;
END $$;

-- The SQL of query qid: the digest of its rows' ids, or only their count (a candidate for an
-- index-only scan), each operator getting both forms in turn; query 0 (the root cell, every
-- row) takes the ids.
CREATE FUNCTION rel.query_sql(tbl text, col text, qid int, op text, cell text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN qid = 0 OR (qid / 4) % 2 = 1
        THEN format('SELECT count(*), md5(coalesce(string_agg(id::text, %L ORDER BY id), %L)) FROM %I WHERE %I %s %L::%s',
                    ',', '', tbl, col, op, cell, CASE col WHEN 'qk' THEN 'quadkey' ELSE 'geohash' END)
        ELSE format('SELECT count(*), NULL::text FROM %I WHERE %I %s %L::%s',
                    tbl, col, op, cell, CASE col WHEN 'qk' THEN 'quadkey' ELSE 'geohash' END) END
$$;

-- Each index of tbl's cell columns against the sequential scan: the index alone on its
-- column (the others are dropped inside a subtransaction that is rolled back), sequential
-- scans disabled, then either plain index (and index-only) scans or bitmap scans. Only the
-- queries whose plan (EXPLAIN) uses the index run. A row per index and kind: queries run
-- through the index, queries whose result differs (the first few listed), errors, and the
-- operators the index served. The caller decides; an index that no plan used tested nothing.
CREATE FUNCTION rel.check_indexes(tbl text)
RETURNS TABLE (index_name text, am text, scan text, queries int, mismatches int, used_for text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    q record;
    ix record;
    other record;
    c bigint;
    d text;
    plan text;
    used text[];
    bad text[];
    expected_c bigint;
    expected_d text;
BEGIN
    -- Expected answers: sequential scans only.
    CREATE TEMP TABLE IF NOT EXISTS rel_expected (col text, qid int, cnt bigint, digest text, PRIMARY KEY (col, qid));
    TRUNCATE rel_expected;
    PERFORM set_config('enable_indexscan', 'off', true);
    PERFORM set_config('enable_indexonlyscan', 'off', true);
    PERFORM set_config('enable_bitmapscan', 'off', true);
    FOR q IN SELECT * FROM rel_queries ORDER BY col, qid LOOP
        EXECUTE rel.query_sql(tbl, q.col, q.qid, q.op, q.cell) INTO c, d;
        INSERT INTO rel_expected VALUES (q.col, q.qid, c, d);
    END LOOP;
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM set_config('enable_indexonlyscan', 'on', true);
    PERFORM set_config('enable_bitmapscan', 'on', true);

    FOR ix IN
        SELECT i.indexrelid::regclass::text AS name, a.amname, att.attname::text AS col
          FROM pg_index i
          JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_am a ON a.oid = ic.relam
          JOIN pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = i.indkey[0]
         WHERE i.indrelid = tbl::regclass AND att.attname IN ('qk', 'gh')
         ORDER BY 1
    LOOP
        FOREACH scan IN ARRAY ARRAY['index', 'bitmap'] LOOP
            queries := 0; used := '{}'; bad := '{}'; detail := NULL;
            BEGIN
                FOR other IN
                    SELECT i.indexrelid::regclass::text AS name
                      FROM pg_index i JOIN pg_attribute att
                        ON att.attrelid = i.indrelid AND att.attnum = i.indkey[0]
                     WHERE i.indrelid = tbl::regclass AND att.attname = ix.col
                       AND i.indexrelid::regclass::text <> ix.name
                LOOP
                    EXECUTE format('DROP INDEX %s', other.name);
                END LOOP;
                PERFORM set_config('enable_seqscan', 'off', true);
                IF scan = 'index' THEN
                    PERFORM set_config('enable_bitmapscan', 'off', true);
                ELSE
                    PERFORM set_config('enable_indexscan', 'off', true);
                    PERFORM set_config('enable_indexonlyscan', 'off', true);
                END IF;
                FOR q IN SELECT * FROM rel_queries WHERE col = ix.col ORDER BY qid LOOP
                    -- Only the queries whose plan searches the index (an Index Cond): the others
                    -- would compare a sequential scan, or a full index scan, with itself.
                    plan := '';
                    FOR d IN EXECUTE 'EXPLAIN (COSTS OFF) ' || rel.query_sql(tbl, q.col, q.qid, q.op, q.cell) LOOP
                        plan := plan || d || E'\n';
                    END LOOP;
                    CONTINUE WHEN plan !~ ('(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) ' || ix.name || '\M')
                               OR plan !~ 'Index Cond:';
                    IF NOT q.op = ANY (used) THEN used := used || q.op; END IF;
                    EXECUTE rel.query_sql(tbl, q.col, q.qid, q.op, q.cell) INTO c, d;
                    SELECT e.cnt, e.digest INTO expected_c, expected_d
                      FROM rel_expected e WHERE e.col = q.col AND e.qid = q.qid;
                    queries := queries + 1;
                    IF c IS DISTINCT FROM expected_c OR d IS DISTINCT FROM expected_d THEN
                        bad := bad || format('%s %s %L: %s rows, sequential scan %s', q.col, q.op, q.cell, c, expected_c);
                    END IF;
                END LOOP;
                RAISE EXCEPTION 'rel: roll back';
            EXCEPTION WHEN OTHERS THEN
                IF SQLERRM <> 'rel: roll back' THEN
                    bad := bad || format('ERROR %s: %s', SQLSTATE, SQLERRM);
                END IF;
            END;
            index_name := ix.name;
            am := ix.amname;
            mismatches := coalesce(array_length(bad, 1), 0);
            used_for := array_to_string(used, ' ');
            detail := array_to_string(bad[1:3], '; ');
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;

-- amcheck on every btree index of tbl (the primary key too): bt_index_check with the heap
-- check, then bt_index_parent_check (parent/child invariants, every tuple found again from
-- the root). One row per index; error is NULL when both pass.
CREATE FUNCTION rel.check_btrees(tbl text) RETURNS TABLE (index_name text, error text)
LANGUAGE plpgsql AS $$
DECLARE
    ix record;
BEGIN
    FOR ix IN
        SELECT i.indexrelid::regclass::text AS name
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am a ON a.oid = ic.relam
         WHERE i.indrelid = tbl::regclass AND a.amname = 'btree' ORDER BY 1
    LOOP
        index_name := ix.name;
        error := NULL;
        BEGIN
            PERFORM bt_index_check(ix.name::regclass, true);
            PERFORM bt_index_parent_check(ix.name::regclass, true, true);
        EXCEPTION WHEN OTHERS THEN
            error := format('%s: %s', SQLSTATE, SQLERRM);
        END;
        RETURN NEXT;
    END LOOP;
END $$;

-- Raises unless ok: lets a pgbench script check a property inside its own snapshot.
CREATE FUNCTION rel.assert(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'rel.assert failed: %', what;
    END IF;
    RETURN true;
END $$;
