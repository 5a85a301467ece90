-- The stored cluster hierarchy: one clustering of a whole table at every zoom 0..max_zoom,
-- nested (each cluster of zoom z is the union of its children at zoom z + 1), kept in ordinary
-- tables beside the source table. The build is in src/pg/hierarchy.cpp over the core's
-- hierarchy_build (src/core/hierarchy.hpp, which states the guarantees) and hier_pack
-- (src/core/hierarchy_pack.hpp: the packed layout of docs/hierarchy-storage.md).
--
-- Objects of a hierarchy, all in the source table's schema and owned by its owner, so that a DBA
-- sees them, pg_dump dumps them and WAL protects them:
--   <table>_clusters          the nodes in packed blocks: one row per (band, block[, part]), the
--                             nodes of a band of zooms whose centre was in one block tile; and
--                             the handle the functions take (regclass). A second hierarchy of
--                             the same table is <table>_clusters_2, then _3...
--   <table>_clusters_members  per block of the last band (and part): the markers of its
--                             multi-marker leaves, with their positions
--   <table>_clusters_meta     one row: source, columns, radius_px, max_zoom, partition column
--                             (names, not OIDs: what pg_dump restores and pg_upgrade accepts)
--   <table>_clusters_slots    per (band, block): the first slot never handed out, once a write
--                             has retired or made a cluster there (ids are never reused)
--   on each table of the source's tree (its partitions or child tables), ENABLE ALWAYS, the
--   statement triggers of cluster_hierarchy_write that maintain the hierarchy in the writing
--   transaction: geocluster_<table>_clusters (TRUNCATE), and _ins, _upd, _del (one per event:
--   each has the transition tables of its event); and, ENABLE REPLICA, the row trigger _rep for
--   the changes a logical replication subscription applies (cluster_hierarchy_arm)
-- DDL that would change the rows without firing those triggers, or take them away, is handled or
-- refused by the event triggers of 61_hierarchy_guard.sql. cluster_hierarchy_nodes and
-- cluster_hierarchy_members decode the whole of a hierarchy.
--
-- Bands (zooms/block zoom, clipped to max_zoom): 0-6/1, 7-10/5, 11-16/9, 17-24/13. A node is
-- stored once per band for the zooms over which it is the same cluster; cluster_id =
-- zoom << 47 | block << (47 - 2 * block zoom) | slot, below 2^52, unique across partitions.
-- Readers fetch block rows by primary key (band, block[, part]): a viewport reads the blocks
-- covering its box plus a ring of one block, a child lookup the blocks covering the cluster's
-- bounds in the next zoom's band (src/core/hierarchy_read.hpp).

CREATE TYPE @extschema@.cluster_node AS (
    cluster_id bigint,      -- zoom << 47 | block and slot (< 2^52); NULL for a single marker
                            -- beyond max_zoom
    zoom int,
    count bigint,
    lat float8,             -- centre: count-weighted Web Mercator mean of the members
    lon float8,
    min_lat float8,         -- the members' exact box; min_lon > max_lon across the antimeridian
    min_lon float8,
    max_lat float8,
    max_lon float8,
    id bigint,              -- the marker's id when count = 1, else the smallest member id
    expansion_zoom int      -- the lowest zoom at which it splits (max_zoom + 1: only beyond
                            -- max_zoom); NULL for a single marker
);
COMMENT ON TYPE @extschema@.cluster_node IS 'one cluster (or single marker) of a stored cluster hierarchy';

-- Whether meta is a metadata table as cluster_hierarchy_tables makes it: a plain table, without
-- row security, with exactly its columns. Reading anything else (a view, a policy, a column of
-- another type) could run code of the table's owner as the caller, and the DDL guard reads
-- metadata on behalf of whoever runs DDL, a superuser included.
CREATE FUNCTION @extschema@.cluster_hierarchy_meta_ok(meta regclass) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pg_class c WHERE c.oid = meta AND c.relkind = 'r' AND NOT c.relrowsecurity)
       AND (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
              FROM pg_attribute a WHERE a.attrelid = meta AND a.attnum > 0 AND NOT a.attisdropped)
           = 'hierarchy_table name, members_table name, source_schema name, source_table name, lat_column name, '
             'lon_column name, geometry_column name, id_column name, partition_column name, '
             'radius_px double precision, max_zoom integer, trigger_name name'
$$;

-- The metadata of hierarchy h (22023 when h is not one), with the regclasses of its tables
-- resolved now. Also the check every function makes first.
CREATE FUNCTION @extschema@.cluster_hierarchy_info(hierarchy regclass,
        OUT source regclass, OUT members regclass, OUT meta regclass,
        OUT lat_column name, OUT lon_column name, OUT id_column name, OUT geometry_column name,
        OUT partition_column name, OUT radius_px float8, OUT max_zoom int, OUT trigger_name name)
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp name;
    rel name;
    m record;
BEGIN
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = hierarchy;
    IF rel IS NOT NULL THEN
        meta := to_regclass(format('%I.%I', nsp, rel || '_meta'));
    END IF;
    IF meta IS NULL OR NOT @extschema@.cluster_hierarchy_meta_ok(meta) THEN
        RAISE EXCEPTION '% is not a cluster hierarchy', hierarchy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the regclass that cluster_hierarchy_create returned (its nodes table).';
    END IF;
    EXECUTE format('SELECT * FROM %s', meta) INTO m;
    -- No row: a transaction that committed after this statement's snapshot dropped the hierarchy
    -- and made one again under its name (the statement waited for it, then found the new
    -- tables), or the row was deleted.
    IF m.hierarchy_table IS NULL THEN
        RAISE EXCEPTION 'cluster hierarchy %.% has no metadata this statement can see',
                quote_ident(nsp), quote_ident(rel)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The hierarchy was dropped or made again since the statement began, '
                                  'or the row of %I.%I was deleted.', nsp, rel || '_meta'),
                  HINT = 'Run the statement again; if it fails again, drop the hierarchy and create it again.';
    END IF;
    IF m.hierarchy_table IS DISTINCT FROM rel THEN
        RAISE EXCEPTION '% is not a cluster hierarchy', hierarchy
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('%s names %s', meta, m.hierarchy_table);
    END IF;
    -- The source: the table the metadata names, if it holds the write trigger. The names are the
    -- last ones its owner gave it (the DDL guard updates them only for the owner, see
    -- cluster_hierarchy_guard_table); else the table holding the trigger that no ancestor holds;
    -- while no table holds one (pg_restore creates triggers last), the named table.
    source := to_regclass(format('%I.%I', m.source_schema, m.source_table));
    IF source IS NULL OR NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = source AND t.tgname = m.trigger_name) THEN
        source := coalesce((SELECT r.rel FROM @extschema@.cluster_hierarchy_holders(hierarchy::text) AS r
                             WHERE r.trigger_name = m.trigger_name
                               AND NOT EXISTS (SELECT FROM pg_inherits i
                                                 JOIN @extschema@.cluster_hierarchy_holders(hierarchy::text) AS p
                                                   ON p.rel = i.inhparent
                                                WHERE i.inhrelid = r.rel)),
                           source);
    END IF;
    members := to_regclass(format('%I.%I', nsp, m.members_table));
    lat_column := m.lat_column;
    lon_column := m.lon_column;
    id_column := m.id_column;
    geometry_column := m.geometry_column;
    partition_column := m.partition_column;
    radius_px := m.radius_px;
    max_zoom := m.max_zoom;
    trigger_name := m.trigger_name;
END $$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_info(regclass) IS
    'the metadata of a cluster hierarchy: source, tables, columns, radius_px, max_zoom (22023 if it is none)';

-- Internal: the slot-counter table of hierarchy h, <nodes table>_slots beside it (NULL if none).
CREATE FUNCTION @extschema@.cluster_hierarchy_slots(hierarchy regclass) RETURNS regclass
    LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_regclass(format('%I.%I', n.nspname, c.relname || '_slots'))
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = hierarchy
$$;

-- Internal: reads the rows query (lat, lon, id or part, lat, lon, id sorted by part), builds,
-- packs and writes the node and member blocks. Returns the number of markers.
CREATE FUNCTION @extschema@.cluster_hierarchy_build_into(rows_query text, partitioned boolean, radius_px float8,
        max_zoom int, nodes regclass, members regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_build_into' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- Internal: the SELECT of the markers of the rows of rel (a table, or a transition table's name)
-- as a hierarchy reads them, from quoted names only: ([part,] lat, lon, id), rows without a
-- position (or a partition value) left out. A geometry column (geocluster_postgis) is read
-- through PostGIS, found by its extension. The one reading of a row: the create's and the
-- write trigger's.
CREATE FUNCTION @extschema@.cluster_hierarchy_rows_select(lat_column name, lon_column name,
        geometry_column name, id_column name, partition_column name, rel text) RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cols text;
    lateral_expr text := '';
    where_expr text;
    postgis name;
    companion name;
BEGIN
    IF geometry_column IS NULL THEN
        cols := format('s.%I::pg_catalog.float8 AS lat, s.%I::pg_catalog.float8 AS lon', lat_column, lon_column);
        where_expr := format('s.%I IS NOT NULL AND s.%I IS NOT NULL', lat_column, lon_column);
    ELSE
        SELECT n.nspname INTO postgis FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'postgis';
        SELECT n.nspname INTO companion FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'geocluster_postgis';
        IF postgis IS NULL OR companion IS NULL THEN
            RAISE EXCEPTION 'a cluster hierarchy of geometry column % needs geocluster_postgis', geometry_column
                USING ERRCODE = 'undefined_function';
        END IF;
        cols := format('%1$I.st_y(g.p) AS lat, %1$I.st_x(g.p) AS lon', postgis);
        lateral_expr := format(', LATERAL (SELECT %I.cluster_hierarchy_point(s.%I) AS p) AS g', companion, geometry_column);
        where_expr := format('s.%I IS NOT NULL', geometry_column);
    END IF;
    cols := cols || format(', s.%I::pg_catalog.int8 AS id', id_column);
    IF partition_column IS NOT NULL THEN
        cols := format('s.%I::pg_catalog.text COLLATE pg_catalog."C" AS part, ', partition_column) || cols;
        where_expr := where_expr || format(' AND s.%I IS NOT NULL', partition_column);
    END IF;
    RETURN format('SELECT %s FROM %s AS s%s WHERE %s', cols, rel, lateral_expr, where_expr);
END $$;

-- Internal: the query that reads a hierarchy's markers from its source (sorted by partition
-- value when it has a partition column).
CREATE FUNCTION @extschema@.cluster_hierarchy_rows_query(hierarchy regclass) RETURNS text
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i record;
BEGIN
    i := @extschema@.cluster_hierarchy_info(hierarchy);
    IF i.source IS NULL THEN
        RAISE EXCEPTION 'the source table of cluster hierarchy % has gone', hierarchy
            USING ERRCODE = 'undefined_table', HINT = 'Drop the hierarchy with cluster_hierarchy_drop.';
    END IF;
    RETURN @extschema@.cluster_hierarchy_rows_select(i.lat_column, i.lon_column, i.geometry_column, i.id_column,
                                                      i.partition_column, i.source::pg_catalog.text)
           || CASE WHEN i.partition_column IS NULL THEN '' ELSE ' ORDER BY 1' END;
END $$;

-- The trigger that keeps a hierarchy exact under writes to its source (src/pg/hierarchy_write.cpp):
-- AFTER INSERT, UPDATE, DELETE (with transition tables) or TRUNCATE, FOR EACH STATEMENT; its
-- argument names the hierarchy. It writes the hierarchy's tables directly, like an index, so a
-- role that may write the source needs no privilege on them.
CREATE FUNCTION @extschema@.cluster_hierarchy_write() RETURNS trigger
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_write' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Internal: the query cluster_hierarchy_write runs over a statement's transition tables
-- (geocluster_old, geocluster_new): its writes (insert boolean, [part,] lat, lon, id), each row
-- read as cluster_hierarchy_rows_query reads the source (a row without a position is not in the
-- hierarchy), erases before inserts within each partition value. An UPDATE writes only the rows
-- whose (part, lat, lon, id) changed (EXCEPT ALL), so updates of other columns cost nothing.
CREATE FUNCTION @extschema@.cluster_hierarchy_write_query(lat_column name, lon_column name, geometry_column name,
        id_column name, partition_column name, event text) RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old_rows text := @extschema@.cluster_hierarchy_rows_select(lat_column, lon_column, geometry_column, id_column,
                                                               partition_column, 'geocluster_old');
    new_rows text := @extschema@.cluster_hierarchy_rows_select(lat_column, lon_column, geometry_column, id_column,
                                                               partition_column, 'geocluster_new');
BEGIN
    RETURN CASE event
               WHEN 'INSERT' THEN format('SELECT true AS insert, * FROM (%s) AS w', new_rows)
               WHEN 'DELETE' THEN format('SELECT false AS insert, * FROM (%s) AS w', old_rows)
               WHEN 'UPDATE' THEN format('SELECT false AS insert, * FROM (%1$s EXCEPT ALL %2$s) AS w '
                                         'UNION ALL SELECT true, * FROM (%2$s EXCEPT ALL %1$s) AS w',
                                         old_rows, new_rows)
           END
           || CASE WHEN partition_column IS NULL THEN ' ORDER BY 1' ELSE ' ORDER BY 2, 1' END;
END $$;

-- Internal: the tables of source's inheritance tree (itself, its partitions or child tables, at
-- any depth): the rows a hierarchy of source reads.
CREATE FUNCTION @extschema@.cluster_hierarchy_tree(source regclass) RETURNS SETOF regclass
    LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE t(rel) AS (SELECT source::oid
                              UNION SELECT i.inhrelid FROM pg_inherits i JOIN t ON i.inhparent = t.rel)
    SELECT t.rel::regclass FROM t
$$;

-- Internal: the write triggers of hierarchy h (its name as the trigger's argument): the table
-- holding each, its name and its firing state (pg_trigger.tgenabled).
CREATE FUNCTION @extschema@.cluster_hierarchy_holders(hierarchy text)
    RETURNS TABLE (rel regclass, trigger_name name, enabled "char")
    LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.tgrelid::regclass, t.tgname, t.tgenabled FROM pg_trigger t
     WHERE t.tgfoid = '@extschema@.cluster_hierarchy_write()'::regprocedure
       AND t.tgargs = convert_to(hierarchy, 'UTF8') || '\x00'::bytea
$$;

-- Internal: installs the write triggers of hierarchy h on rel, a table of its source's tree:
--   <trigger_name>       after TRUNCATE, per statement;
--   <trigger_name>_ins   after INSERT, _upd after UPDATE, _del after DELETE, per statement, with
--                        the statement's transition tables (one event each: PostgreSQL gives
--                        transition tables only to single-event triggers). A write through a
--                        parent fires the parent's, whose transition tables hold the rows of
--                        every table of its tree the statement wrote.
--   <trigger_name>_rep   after INSERT, UPDATE or DELETE, per row, ENABLE REPLICA: a logical
--                        replication apply worker applies a subscription's changes row by row and
--                        fires no statement trigger but TRUNCATE's; this one then writes each row
--                        (elsewhere it does nothing). Not on a partitioned table, whose row
--                        triggers PostgreSQL would clone onto its partitions: each partition
--                        holds its own.
-- ENABLE ALWAYS: the statement triggers fire under session_replication_role = replica too (an
-- apply worker's TRUNCATE, a table synchronisation worker's initial COPY).
CREATE FUNCTION @extschema@.cluster_hierarchy_arm(hierarchy regclass, rel regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i record;
    t record;
BEGIN
    i := @extschema@.cluster_hierarchy_info(hierarchy);
    FOR t IN SELECT * FROM (VALUES ('', 'TRUNCATE', ''),
                                   ('_ins', 'INSERT', 'REFERENCING NEW TABLE AS geocluster_new'),
                                   ('_upd', 'UPDATE', 'REFERENCING OLD TABLE AS geocluster_old NEW TABLE AS geocluster_new'),
                                   ('_del', 'DELETE', 'REFERENCING OLD TABLE AS geocluster_old'))
                               AS v(suffix, event, referencing) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION @extschema@.cluster_hierarchy_write(%L)',
                       i.trigger_name || t.suffix, t.event, rel, t.referencing, hierarchy::text);
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', rel, i.trigger_name || t.suffix);
    END LOOP;
    IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) <> 'p' THEN
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW '
                       'EXECUTE FUNCTION @extschema@.cluster_hierarchy_write(%L)',
                       i.trigger_name || '_rep', rel, hierarchy::text);
        EXECUTE format('ALTER TABLE %s ENABLE REPLICA TRIGGER %I', rel, i.trigger_name || '_rep');
    END IF;
END $$;

-- Internal: removes the write triggers of hierarchy h from rel.
CREATE FUNCTION @extschema@.cluster_hierarchy_disarm(hierarchy text, rel regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t name;
BEGIN
    FOR t IN SELECT r.trigger_name FROM @extschema@.cluster_hierarchy_holders(hierarchy) AS r
              WHERE r.rel = cluster_hierarchy_disarm.rel LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, rel);
    END LOOP;
END $$;

-- The checks shared by both create functions: raises the error, or returns the source's schema.
CREATE FUNCTION @extschema@.cluster_hierarchy_check_source(source regclass, radius_px float8, max_zoom int,
        id_column name, partition_column name) RETURNS name
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind "char";
    owner oid;
    nsp name;
    t regtype;
BEGIN
    IF source IS NULL OR radius_px IS NULL OR max_zoom IS NULL OR id_column IS NULL THEN
        RAISE EXCEPTION 'cluster_hierarchy_create: source, columns, radius_px and max_zoom must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (radius_px > 0 AND radius_px < 'Infinity'::float8) THEN
        RAISE EXCEPTION 'radius_px must be a finite number greater than 0'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('radius_px = %s', radius_px);
    END IF;
    IF max_zoom < 0 OR max_zoom > 24 THEN
        RAISE EXCEPTION 'max_zoom must be between 0 and 24'
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = format('max_zoom = %s', max_zoom);
    END IF;
    SELECT c.relkind, c.relowner, n.nspname INTO kind, owner, nsp
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'a cluster hierarchy needs a table: % is not one', source
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', source USING ERRCODE = 'insufficient_privilege';
    END IF;
    t := @extschema@.cluster_hierarchy_column_type(source, id_column);
    IF t NOT IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype) THEN
        RAISE EXCEPTION 'the id column % must be bigint, integer or smallint', id_column
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('%I is %s', id_column, t);
    END IF;
    IF partition_column IS NOT NULL THEN
        PERFORM @extschema@.cluster_hierarchy_column_type(source, partition_column);
    END IF;
    RETURN nsp;
END $$;

-- The type of column col of source, or 22023 naming the column.
CREATE FUNCTION @extschema@.cluster_hierarchy_column_type(source regclass, col name) RETURNS regtype
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0
                                                 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column % does not exist in %', col, source USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN (SELECT a.atttypid::regtype FROM pg_attribute a
             WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped);
END $$;

-- Internal: the name of a new hierarchy's nodes table, <base>_clusters[_k], free with its
-- _members and _meta.
CREATE FUNCTION @extschema@.cluster_hierarchy_free_name(nsp name, source regclass) RETURNS name
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base text;
    nodes text;
    k int := 1;
BEGIN
    SELECT c.relname INTO base FROM pg_class c WHERE c.oid = source;
    -- Room for 'geocluster_' || base || '_clusters_NN_slots' (and its triggers' names, whose
    -- suffixes are shorter) within the 63 bytes of a name.
    WHILE octet_length(base) > 34 LOOP
        base := left(base, length(base) - 1);
    END LOOP;
    LOOP
        nodes := base || '_clusters' || CASE WHEN k = 1 THEN '' ELSE '_' || k END;
        EXIT WHEN to_regclass(format('%I.%I', nsp, nodes)) IS NULL
              AND to_regclass(format('%I.%I', nsp, nodes || '_members')) IS NULL
              AND to_regclass(format('%I.%I', nsp, nodes || '_meta')) IS NULL
              AND to_regclass(format('%I.%I', nsp, nodes || '_slots')) IS NULL;
        k := k + 1;
    END LOOP;
    RETURN nodes;
END $$;

-- Internal: creates the (empty, unindexed) tables of a new hierarchy and its metadata row.
CREATE FUNCTION @extschema@.cluster_hierarchy_tables(source regclass, nsp name, nodes name, lat_column name,
        lon_column name, geometry_column name, id_column name, radius_px float8, max_zoom int,
        partition_column name) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part_col text := CASE WHEN partition_column IS NULL THEN '' ELSE ', part text NOT NULL' END;
    t text;
BEGIN
    -- delta: the records writes changed since data was last written whole (src/core/hierarchy_delta.hpp),
    -- in both block tables.
    EXECUTE format('CREATE TABLE %I.%I (band int NOT NULL, block bigint NOT NULL, data bytea NOT NULL%s, delta bytea)',
                   nsp, nodes, part_col);
    EXECUTE format('CREATE TABLE %I.%I (block bigint NOT NULL, data bytea NOT NULL%s, delta bytea)',
                   nsp, nodes || '_members', part_col);
    -- Slot counters are per block of every partition: cluster ids are unique across partitions.
    EXECUTE format('CREATE TABLE %I.%I (band int NOT NULL, block bigint NOT NULL, next bigint NOT NULL)',
                   nsp, nodes || '_slots');
    -- data: a block of src/core/hierarchy_block.hpp, already compact: stored uncompressed, and in
    -- the row up to a page (a block read is one heap fetch; TOAST's chunk rows only beyond that).
    FOREACH t IN ARRAY ARRAY[nodes, nodes || '_members'] LOOP
        EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN data SET STORAGE EXTERNAL, SET (toast_tuple_target = 8160)',
                       nsp, t);
    END LOOP;
    EXECUTE format('CREATE TABLE %I.%I (hierarchy_table name NOT NULL, members_table name NOT NULL, '
                   'source_schema name NOT NULL, source_table name NOT NULL, lat_column name, lon_column name, '
                   'geometry_column name, id_column name NOT NULL, partition_column name, '
                   'radius_px float8 NOT NULL, max_zoom int NOT NULL, trigger_name name NOT NULL)',
                   nsp, nodes || '_meta');
    EXECUTE format('INSERT INTO %I.%I VALUES (%L, %L, %L, %L, %L, %L, %L, %L, %L, %L::float8, %L::int, %L)',
                   nsp, nodes || '_meta', nodes, nodes || '_members', nsp,
                   (SELECT c.relname FROM pg_class c WHERE c.oid = source), lat_column, lon_column,
                   geometry_column, id_column, partition_column, radius_px, max_zoom,
                   left('geocluster_' || nodes, 63));
END $$;

-- Internal: creates the tables of a new hierarchy of source, fills them, indexes them, hands
-- them to the source's owner and installs the write trigger. Returns the nodes table.
CREATE FUNCTION @extschema@.cluster_hierarchy_make(source regclass, nsp name, lat_column name, lon_column name,
        geometry_column name, id_column name, radius_px float8, max_zoom int, partition_column name)
    RETURNS regclass
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nodes name := @extschema@.cluster_hierarchy_free_name(nsp, source);
    part_key text := CASE WHEN partition_column IS NULL THEN '' ELSE ', part' END;
    h regclass;
    t text;
BEGIN
    PERFORM @extschema@.cluster_hierarchy_tables(source, nsp, nodes, lat_column, lon_column, geometry_column,
                                                 id_column, radius_px, max_zoom, partition_column);
    h := format('%I.%I', nsp, nodes)::regclass;
    PERFORM @extschema@.cluster_hierarchy_fill(h, false);
    -- (fillfactor 100: block rows are written once, and replaced whole, never inserted between)
    EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (band, block%s) WITH (fillfactor = 100)', nsp, nodes, part_key);
    EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (block%s) WITH (fillfactor = 100)', nsp, nodes || '_members', part_key);
    EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (band, block)', nsp, nodes || '_slots');
    FOREACH t IN ARRAY ARRAY[nodes, nodes || '_members', nodes || '_meta', nodes || '_slots'] LOOP
        EXECUTE format('ANALYZE %I.%I', nsp, t);
        EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', nsp, t,
                       (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = source));
    END LOOP;
    -- Every table of the source's inheritance tree gets the trigger: a write to a partition or a
    -- child table fires only its own statement triggers.
    PERFORM @extschema@.cluster_hierarchy_arm(h, r) FROM @extschema@.cluster_hierarchy_tree(source) AS r;
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', nsp, nodes,
                   format('geocluster cluster hierarchy of %s (radius_px %s, zooms 0..%s%s); remove it with cluster_hierarchy_drop',
                          source, radius_px, max_zoom,
                          CASE WHEN partition_column IS NULL THEN '' ELSE ', one per ' || quote_ident(partition_column) END));
    RETURN h;
END $$;

-- Internal: fills the (empty) tables of hierarchy h from its source.
CREATE FUNCTION @extschema@.cluster_hierarchy_fill(hierarchy regclass, then_analyze boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i record;
    n bigint;
BEGIN
    i := @extschema@.cluster_hierarchy_info(hierarchy);
    n := @extschema@.cluster_hierarchy_build_into(@extschema@.cluster_hierarchy_rows_query(hierarchy),
                                                   i.partition_column IS NOT NULL, i.radius_px, i.max_zoom,
                                                   hierarchy, i.members);
    IF then_analyze THEN
        EXECUTE format('ANALYZE %s', hierarchy);
        EXECUTE format('ANALYZE %s', i.members);
    END IF;
    RETURN n;
END $$;

-- Not STRICT: a NULL partition_column means none (the other NULL arguments are 22004).
CREATE FUNCTION @extschema@.cluster_hierarchy_create(source regclass, lat_column name, lon_column name, id_column name,
        radius_px float8 DEFAULT 60, max_zoom int DEFAULT 16, partition_column name DEFAULT NULL) RETURNS regclass
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp name;
    t regtype;
BEGIN
    nsp := @extschema@.cluster_hierarchy_check_source(source, radius_px, max_zoom, id_column, partition_column);
    IF lat_column IS NULL OR lon_column IS NULL THEN
        RAISE EXCEPTION 'cluster_hierarchy_create: lat_column and lon_column must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH t IN ARRAY ARRAY[@extschema@.cluster_hierarchy_column_type(source, lat_column),
                             @extschema@.cluster_hierarchy_column_type(source, lon_column)] LOOP
        IF t NOT IN ('double precision'::regtype, 'real'::regtype, 'numeric'::regtype, 'bigint'::regtype,
                     'integer'::regtype, 'smallint'::regtype) THEN
            RAISE EXCEPTION 'the latitude and longitude columns must be numbers (double precision, real, numeric or an integer type)'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%I is %s, %I is %s',
                                      lat_column, @extschema@.cluster_hierarchy_column_type(source, lat_column),
                                      lon_column, @extschema@.cluster_hierarchy_column_type(source, lon_column));
        END IF;
    END LOOP;
    RETURN @extschema@.cluster_hierarchy_make(source, nsp, lat_column, lon_column, NULL, id_column, radius_px,
                                              max_zoom, partition_column);
END $$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_create(regclass, name, name, name, float8, int, name) IS
    'builds the cluster hierarchy of a table at every zoom 0..max_zoom and returns its nodes table, the handle of the other cluster_hierarchy functions';

-- The owner check of drop and rebuild.
CREATE FUNCTION @extschema@.cluster_hierarchy_check_owner(hierarchy regclass) RETURNS void
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid = hierarchy), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', hierarchy USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

CREATE FUNCTION @extschema@.cluster_hierarchy_drop(hierarchy regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i record;
    name text;
BEGIN
    i := @extschema@.cluster_hierarchy_info(hierarchy);
    PERFORM @extschema@.cluster_hierarchy_check_owner(hierarchy);
    -- The tables first: the DDL guard (61_hierarchy_guard.sql) lets the triggers of a hierarchy
    -- without tables go, and refuses to drop those of a live one.
    name := hierarchy::text;  -- (a dropped table's regclass prints as a number)
    EXECUTE format('DROP TABLE %s, %s, %s, %s', hierarchy, i.members, i.meta, @extschema@.cluster_hierarchy_slots(hierarchy));
    PERFORM @extschema@.cluster_hierarchy_disarm(name, r.rel)
       FROM (SELECT DISTINCT h.rel FROM @extschema@.cluster_hierarchy_holders(name) AS h) AS r;
END $$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_drop(regclass) IS
    'removes a cluster hierarchy: its tables and the trigger on its source';

CREATE FUNCTION @extschema@.cluster_hierarchy_rebuild(hierarchy regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i record;
    idx record;
    again text[] := '{}';
BEGIN
    i := @extschema@.cluster_hierarchy_info(hierarchy);
    PERFORM @extschema@.cluster_hierarchy_check_owner(hierarchy);
    EXECUTE format('TRUNCATE %s, %s, %s', hierarchy, i.members, @extschema@.cluster_hierarchy_slots(hierarchy));
    -- The build fills tables without indexes (src/pg/hierarchy.cpp): the indexes, a DBA's own
    -- included, are dropped and created again from their definitions, under the same names.
    FOR idx IN
        SELECT x.indexrelid::regclass AS index_name, x.indrelid::regclass AS table_name, c.conname,
               pg_get_indexdef(x.indexrelid) AS index_def, pg_get_constraintdef(c.oid) AS constraint_def
          FROM pg_index x LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
         WHERE x.indrelid IN (hierarchy, i.members)
         ORDER BY x.indexrelid
    LOOP
        IF idx.conname IS NOT NULL THEN
            again := again || format('ALTER TABLE %s ADD CONSTRAINT %I %s', idx.table_name, idx.conname, idx.constraint_def);
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', idx.table_name, idx.conname);
        ELSE
            again := again || idx.index_def;
            EXECUTE format('DROP INDEX %s', idx.index_name);
        END IF;
    END LOOP;
    PERFORM @extschema@.cluster_hierarchy_fill(hierarchy, false);
    FOR k IN 1 .. cardinality(again) LOOP
        EXECUTE again[k];
    END LOOP;
    EXECUTE format('ANALYZE %s', hierarchy);
    EXECUTE format('ANALYZE %s', i.members);
END $$;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_rebuild(regclass) IS
    'rebuilds a cluster hierarchy from its source, in the calling transaction';

-- Folds the delta rows writes leave beside large blocks into the blocks (the writers fold a
-- block's delta themselves once it has grown: this is housekeeping, for a job scheduled by
-- pg_cron for example). Takes the writers' lock: runs beside writes, which wait for it. Returns
-- the block rows it folded.
CREATE FUNCTION @extschema@.cluster_hierarchy_compact(hierarchy regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_compact' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_compact(regclass) IS
    'folds the delta rows of a cluster hierarchy into its blocks; returns the rows folded';

-- Viewports: the clusters of zoom floor(zoom) whose centre lies in the box (edges included).
-- Longitudes may be out of range (a box 360 degrees wide or more is the world; others are
-- wrapped) and west > east crosses the antimeridian. Beyond max_zoom, the single markers in the
-- box (count 1, their exact position, cluster_id and expansion_zoom NULL). Ordered by count
-- descending, north to south, west to east. A partitioned hierarchy takes the partition value
-- (compared with the column's text form) as a last argument, and only then.
CREATE FUNCTION @extschema@.cluster_viewport(hierarchy regclass, south float8, west float8, north float8,
        east float8, zoom float8) RETURNS SETOF @extschema@.cluster_node
    AS 'MODULE_PATHNAME', 'cluster_viewport' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 100;
CREATE FUNCTION @extschema@.cluster_viewport(hierarchy regclass, south float8, west float8, north float8,
        east float8, zoom float8, "partition" text) RETURNS SETOF @extschema@.cluster_node
    AS 'MODULE_PATHNAME', 'cluster_viewport' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION @extschema@.cluster_viewport(regclass, float8, float8, float8, float8, float8) IS
    'the clusters of a stored hierarchy at a zoom whose centre lies in the box (single markers beyond max_zoom)';
COMMENT ON FUNCTION @extschema@.cluster_viewport(regclass, float8, float8, float8, float8, float8, text) IS
    'cluster_viewport of one partition value of a partitioned hierarchy';

-- Drill-down. Cluster ids are unique across the partitions of a hierarchy, so these take no
-- partition value. An unknown id gives an empty set (NULL for cluster_expansion_zoom).
CREATE FUNCTION @extschema@.cluster_children(hierarchy regclass, cluster_id bigint)
    RETURNS SETOF @extschema@.cluster_node
    AS 'MODULE_PATHNAME', 'cluster_children' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 4;
COMMENT ON FUNCTION @extschema@.cluster_children(regclass, bigint) IS
    'the clusters of the next zoom that make up a cluster';

CREATE FUNCTION @extschema@.cluster_expansion_zoom(hierarchy regclass, cluster_id bigint) RETURNS int
    AS 'MODULE_PATHNAME', 'cluster_expansion_zoom' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cluster_expansion_zoom(regclass, bigint) IS
    'the lowest zoom at which a cluster splits (max_zoom + 1: only into single markers); NULL for a single marker';

-- Internal: the member ids of a cluster in id order, lim from off (checked by cluster_leaves).
CREATE FUNCTION @extschema@.cluster_hierarchy_leaves(hierarchy regclass, cluster_id bigint, lim int, off bigint)
    RETURNS SETOF bigint
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_leaves' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 10;

-- The member ids of a cluster in id order, a page at a time: its descendants band by band down
-- to the leaves (max_zoom clusters), then the leaves' markers.
CREATE FUNCTION @extschema@.cluster_leaves(hierarchy regclass, cluster_id bigint, lim int DEFAULT 10,
        off bigint DEFAULT 0) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED ROWS 10 SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF lim < 0 OR off < 0 THEN
        RAISE EXCEPTION 'cluster_leaves needs lim >= 0 and off >= 0'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('lim = %s, off = %s', lim, off);
    END IF;
    IF lim > 100000 THEN
        RAISE EXCEPTION 'cluster_leaves returns at most 100000 ids a call'
            USING ERRCODE = 'program_limit_exceeded', DETAIL = format('lim = %s', lim),
                  HINT = 'Page through the members with off.';
    END IF;
    RETURN QUERY SELECT l FROM @extschema@.cluster_hierarchy_leaves(hierarchy, cluster_id, lim, off) AS l;
END $$;
COMMENT ON FUNCTION @extschema@.cluster_leaves(regclass, bigint, int, bigint) IS
    'the ids of a cluster''s members in id order, lim at a time from off';

-- The whole hierarchy decoded: one row per node and zoom (what a table of nodes would hold),
-- and one row per marker with its max_zoom cluster and its position. For checks and DBAs: each
-- reads every block.
CREATE FUNCTION @extschema@.cluster_hierarchy_nodes(hierarchy regclass)
    RETURNS TABLE (part text, zoom int, parent_id bigint, cluster_id bigint, count bigint, lat float8,
                   lon float8, min_lat float8, min_lon float8, max_lat float8, max_lon float8, id bigint,
                   expansion_zoom int,
                   -- the exact sums behind the centre (src/core/hierarchy.hpp, HierSums): fixed-point
                   -- positions, 2^48 per world width, summed over east (lon >= 0) and west members
                   count_w bigint, sx_e numeric, sx_w numeric, sy numeric,
                   min_lon_e float8, max_lon_e float8, min_lon_w float8, max_lon_w float8)
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_nodes' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_nodes(regclass) IS
    'every node of a cluster hierarchy at every zoom of it, with its parent (part: the partition value)';
CREATE FUNCTION @extschema@.cluster_hierarchy_members(hierarchy regclass)
    RETURNS TABLE (part text, id bigint, leaf_id bigint, lat float8, lon float8)
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_members' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION @extschema@.cluster_hierarchy_members(regclass) IS
    'every marker of a cluster hierarchy: its id, its max_zoom cluster and its position';

-- A viewport as GeoJSON: cluster_viewport_geojson, in 62_hierarchy_geojson.sql.
