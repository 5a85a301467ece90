-- The DDL guard of cluster hierarchies: DDL that would change a hierarchy's rows without firing
-- its write trigger, or take that trigger away, is handled or refused here, so that a hierarchy
-- never goes silently stale. Two event triggers (they need the superuser that installs the
-- extension; they run as whoever runs the DDL), and a third before ALTER TABLE for DETACH
-- PARTITION ... CONCURRENTLY, refused outright since its first transaction commits early:
--   after ALTER TABLE / CREATE TABLE / ALTER TRIGGER (geocluster_hierarchy_ddl):
--     - a new partition or child table of a source, which is empty, gets the write trigger;
--     - ATTACH PARTITION or INHERIT of a table with rows into a source's tree, DETACH or NO
--       INHERIT of one with rows out of it: refused (empty ones are armed or disarmed);
--     - DISABLE TRIGGER (by name, USER or ALL) or ENABLE REPLICA TRIGGER of a write trigger:
--       refused; ENABLE TRIGGER puts it back to ENABLE ALWAYS;
--     - renaming a source table or moving it to another schema: the hierarchy follows;
--     - renaming a column the hierarchy uses, or renaming its write trigger: refused;
--   after DROP (geocluster_hierarchy_drop):
--     - DROP TABLE of a source: its hierarchies go with it;
--     - dropping a write trigger, or a partition or child table holding one, of a hierarchy
--       whose source stays: refused;
--     - dropping one of a hierarchy's own tables other than by cluster_hierarchy_drop: refused.

-- Internal: the ALTER TABLE subcommands that move rows into or out of a table's inheritance tree
-- (src/pg/hierarchy_guard.cpp): relid is the partition (ATTACH/DETACH PARTITION) or the parent
-- (INHERIT/NO INHERIT).
CREATE FUNCTION @extschema@.cluster_hierarchy_ddl_changes(command pg_ddl_command)
    RETURNS TABLE (change text, relid oid)
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_ddl_changes' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- Internal: the hierarchies whose write triggers rel or one of its ancestors holds, and whether
-- rel itself holds one.
CREATE FUNCTION @extschema@.cluster_hierarchy_of(rel regclass) RETURNS TABLE (hierarchy text, held boolean)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE up(r) AS (SELECT rel::oid
                             UNION SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.r)
    SELECT convert_from(substring(t.tgargs FROM 1 FOR octet_length(t.tgargs) - 1), 'UTF8'), bool_or(t.tgrelid = rel)
      FROM pg_trigger t JOIN up ON t.tgrelid = up.r
     WHERE t.tgfoid = '@extschema@.cluster_hierarchy_write()'::regprocedure
     GROUP BY 1
$$;

-- Internal: whether rel or any table of its tree holds a row.
CREATE FUNCTION @extschema@.cluster_hierarchy_has_rows(rel regclass) RETURNS boolean
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_row boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT FROM %s)', rel) INTO found_row;
    RETURN found_row;
END $$;

-- Internal: rel (with its tree) joins or leaves the tree of a source with hierarchies. Rows
-- moving in or out are refused; an empty tree is armed or disarmed.
CREATE FUNCTION @extschema@.cluster_hierarchy_guard_move(rel regclass, parent regclass, joins boolean, what text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
BEGIN
    FOR h IN SELECT * FROM @extschema@.cluster_hierarchy_of(CASE WHEN joins THEN parent ELSE rel END) AS o
              WHERE joins OR o.held LOOP
        IF @extschema@.cluster_hierarchy_has_rows(rel) THEN
            RAISE EXCEPTION '% of % would leave cluster hierarchy % stale', what, rel, h.hierarchy
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('%s has rows, which %s the rows of the hierarchy''s source.', rel,
                                      CASE WHEN joins THEN 'would join' ELSE 'would leave' END),
                      HINT = format('Drop the hierarchy (SELECT cluster_hierarchy_drop(%L)), run the command, '
                                    'and create it again; all three can run in one transaction.', h.hierarchy);
        END IF;
        IF joins THEN
            PERFORM @extschema@.cluster_hierarchy_arm(h.hierarchy::regclass, t)
               FROM @extschema@.cluster_hierarchy_tree(rel) AS t;
        ELSE
            PERFORM @extschema@.cluster_hierarchy_disarm(h.hierarchy, t)
               FROM @extschema@.cluster_hierarchy_tree(rel) AS t;
        END IF;
    END LOOP;
END $$;

-- Internal: the checks after any ALTER TABLE of tbl: its write triggers' firing state, and, for
-- a source, its name in the metadata and the columns its hierarchies use.
CREATE FUNCTION @extschema@.cluster_hierarchy_guard_table(tbl regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
    i record;
    rep boolean;
    col name;
    named_schema name;
    named_table name;
    nsp name;
    rel name;
BEGIN
    FOR h IN SELECT r.trigger_name, r.enabled, o.hierarchy
               FROM @extschema@.cluster_hierarchy_of(tbl) AS o
               JOIN @extschema@.cluster_hierarchy_holders(o.hierarchy) AS r ON r.rel = tbl
              WHERE o.held LOOP
        -- (the row trigger _rep, for logical replication's apply workers, fires in replica mode;
        -- the statement triggers always)
        rep := right(h.trigger_name, 4) = '_rep';
        IF h.enabled = 'D' OR (h.enabled = 'R' AND NOT rep) THEN
            RAISE EXCEPTION 'the write trigger % of cluster hierarchy % must stay enabled', h.trigger_name, h.hierarchy
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format(CASE WHEN rep THEN 'Changes a subscription applies to %s while it does not fire would leave the hierarchy stale.'
                                           ELSE 'Writes to %s while it does not fire would leave the hierarchy stale.' END, tbl),
                      HINT = format('Drop the hierarchy (SELECT cluster_hierarchy_drop(%L)) instead, and create it again later.',
                                    h.hierarchy);
        ELSIF h.enabled <> (CASE WHEN rep THEN 'R' ELSE 'A' END) THEN
            EXECUTE format('ALTER TABLE %s ENABLE %s TRIGGER %I', tbl, CASE WHEN rep THEN 'REPLICA' ELSE 'ALWAYS' END,
                           h.trigger_name);
        END IF;
    END LOOP;
    -- For a source (no ancestor holds the hierarchy's triggers): its names, its columns.
    FOR h IN SELECT o.hierarchy FROM @extschema@.cluster_hierarchy_of(tbl) AS o
              WHERE o.held AND NOT EXISTS (SELECT FROM pg_inherits x,
                                                  LATERAL @extschema@.cluster_hierarchy_of(x.inhparent::regclass) AS p
                                            WHERE x.inhrelid = tbl AND p.hierarchy = o.hierarchy) LOOP
        CONTINUE WHEN to_regclass(h.hierarchy) IS NULL;
        i := @extschema@.cluster_hierarchy_info(h.hierarchy::regclass);
        -- A renamed or moved source: the metadata names it again, when its owner ran the DDL (an
        -- UPDATE would fire the table's triggers as whoever did: a superuser's ALTER TABLE must
        -- not run another role's code; cluster_hierarchy_info finds the source by its trigger).
        EXECUTE format('SELECT source_schema, source_table FROM %s', i.meta) INTO named_schema, named_table;
        SELECT n.nspname, c.relname INTO nsp, rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = tbl;
        IF (named_schema, named_table) IS DISTINCT FROM (nsp, rel)
           AND (SELECT c.relowner FROM pg_class c WHERE c.oid = i.meta)
               = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user) THEN
            EXECUTE format('UPDATE %s SET source_schema = %L, source_table = %L', i.meta, nsp, rel);
        END IF;
        FOREACH col IN ARRAY ARRAY[i.lat_column, i.lon_column, i.geometry_column, i.id_column, i.partition_column] LOOP
            IF col IS NOT NULL AND NOT EXISTS (SELECT FROM pg_attribute a
                                                WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0
                                                  AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'cluster hierarchy % reads column % of %', h.hierarchy, col, tbl
                    USING ERRCODE = 'feature_not_supported',
                          DETAIL = 'A column a cluster hierarchy uses cannot be renamed or dropped.',
                          HINT = format('Drop the hierarchy (SELECT cluster_hierarchy_drop(%L)) first.', h.hierarchy);
            END IF;
        END LOOP;
    END LOOP;
END $$;

-- Internal: the guard's checks after one command (guard_ddl's loop body): tag, the object it
-- made or changed, and the changes of cluster_hierarchy_ddl_changes.
CREATE FUNCTION @extschema@.cluster_hierarchy_guard_command(tag text, classid oid, objid oid, changes text[],
        relids oid[]) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
    k int;
    hierarchy text;
BEGIN
    IF classid = 'pg_trigger'::regclass THEN
        -- ALTER TRIGGER ... RENAME of a write trigger: its name is in the hierarchy's metadata.
        SELECT convert_from(substring(t.tgargs FROM 1 FOR octet_length(t.tgargs) - 1), 'UTF8') INTO hierarchy
          FROM pg_trigger t
         WHERE t.oid = objid AND t.tgfoid = '@extschema@.cluster_hierarchy_write()'::regprocedure;
        IF hierarchy IS NOT NULL AND (SELECT t.tgname FROM pg_trigger t WHERE t.oid = objid)
                NOT IN (SELECT v.n FROM @extschema@.cluster_hierarchy_info(hierarchy::regclass) AS i,
                                        LATERAL (VALUES (i.trigger_name::text), (i.trigger_name || '_ins'),
                                                        (i.trigger_name || '_upd'), (i.trigger_name || '_del'),
                                                        (i.trigger_name || '_rep')) AS v(n)) THEN
            RAISE EXCEPTION 'the write trigger of cluster hierarchy % cannot be renamed', hierarchy
                USING ERRCODE = 'feature_not_supported';
        END IF;
        RETURN;
    END IF;
    IF classid <> 'pg_class'::regclass OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = objid
                                                                              AND c.relkind IN ('r', 'p')) THEN
        RETURN;
    END IF;
    IF tag = 'CREATE TABLE' THEN
        -- A new partition or child table (empty) of a source: armed like the rest of its tree.
        FOR h IN SELECT * FROM @extschema@.cluster_hierarchy_of(objid::regclass) AS o WHERE NOT o.held LOOP
            PERFORM @extschema@.cluster_hierarchy_arm(h.hierarchy::regclass, objid::regclass);
        END LOOP;
        RETURN;
    END IF;
    FOR k IN 1 .. coalesce(cardinality(changes), 0) LOOP
        CASE changes[k]
            WHEN 'attach partition' THEN
                PERFORM @extschema@.cluster_hierarchy_guard_move(relids[k]::regclass, objid::regclass, true, 'ATTACH PARTITION');
            WHEN 'inherit' THEN
                PERFORM @extschema@.cluster_hierarchy_guard_move(objid::regclass, relids[k]::regclass, true, 'INHERIT');
            WHEN 'detach partition' THEN
                PERFORM @extschema@.cluster_hierarchy_guard_move(relids[k]::regclass, objid::regclass, false, 'DETACH PARTITION');
            ELSE
                PERFORM @extschema@.cluster_hierarchy_guard_move(objid::regclass, relids[k]::regclass, false, 'NO INHERIT');
        END CASE;
    END LOOP;
    PERFORM @extschema@.cluster_hierarchy_guard_table(objid::regclass);
END $$;

-- Not SET search_path: cluster_hierarchy_ddl_changes finds the partition of ATTACH and DETACH
-- PARTITION by name, in the search_path the command ran with. So everything here is qualified.
-- The guard runs for every role's DDL, and a name in this extension's schema needs USAGE on it:
-- a command that concerns no hierarchy (none of its tables' trees holds a write trigger, and it
-- is no write trigger) is recognised from the catalog alone and left, before any such name.
CREATE FUNCTION @extschema@.cluster_hierarchy_guard_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
    changes text[];
    relids oid[];
    write_fn oid;
BEGIN
    SELECT p.oid INTO write_fn
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_extension e ON e.extnamespace OPERATOR(pg_catalog.=) p.pronamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'geocluster'::pg_catalog.name
       AND p.proname OPERATOR(pg_catalog.=) 'cluster_hierarchy_write'::pg_catalog.name;
    FOR c IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
        CONTINUE WHEN NOT CASE c.classid
            WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass::pg_catalog.oid THEN
                EXISTS (SELECT FROM pg_catalog.pg_trigger t
                         WHERE t.oid OPERATOR(pg_catalog.=) c.objid AND t.tgfoid OPERATOR(pg_catalog.=) write_fn)
            WHEN 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid THEN
                -- (after the command: a table that INHERIT or ATTACH PARTITION put in a source's
                -- tree has the source among its ancestors; DETACH and NO INHERIT name a table that
                -- holds the trigger)
                EXISTS (WITH RECURSIVE up AS (
                            SELECT c.objid AS r
                            UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i
                                   JOIN up ON i.inhrelid OPERATOR(pg_catalog.=) up.r)
                        SELECT FROM pg_catalog.pg_trigger t JOIN up ON t.tgrelid OPERATOR(pg_catalog.=) up.r
                         WHERE t.tgfoid OPERATOR(pg_catalog.=) write_fn)
            ELSE false END;
        SELECT pg_catalog.array_agg(x.change), pg_catalog.array_agg(x.relid) INTO changes, relids
          FROM @extschema@.cluster_hierarchy_ddl_changes(c.command) AS x;
        PERFORM @extschema@.cluster_hierarchy_guard_command(c.command_tag, c.classid, c.objid, changes, relids);
    END LOOP;
END $$;

-- Internal: the metadata table of the hierarchy that an object dropped by the current command
-- belonged to (one of its tables, or its write trigger), while that metadata table is still
-- there (so the hierarchy is not being dropped whole), or NULL.
CREATE FUNCTION @extschema@.cluster_hierarchy_dropped_part(object_type text, address_names text[])
    RETURNS regclass
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    meta regclass;
    m record;
BEGIN
    IF object_type = 'trigger' AND address_names[3] LIKE 'geocluster\_%' THEN
        -- A write trigger is named geocluster_<nodes table>[_ins|_upd|_del|_rep]; the hierarchy is in its source's
        -- schema, which a partition's need not share: the table's own schema first.
        SELECT c.oid INTO meta FROM pg_class c
         WHERE c.relname = regexp_replace(substr(address_names[3], 12), '_(ins|upd|del|rep)$', '') || '_meta' AND c.relkind = 'r'
           AND pg_has_role(c.relowner, 'USAGE') AND @extschema@.cluster_hierarchy_meta_ok(c.oid::regclass)
         ORDER BY c.relnamespace IS DISTINCT FROM to_regnamespace(quote_ident(address_names[1]))::oid LIMIT 1;
    ELSIF object_type = 'table' THEN
        meta := to_regclass(format('%I.%I', address_names[1],
                                   regexp_replace(address_names[2], '_(members|meta|slots)$', '') || '_meta'));
        IF meta IS NULL OR NOT @extschema@.cluster_hierarchy_meta_ok(meta) THEN
            RETURN NULL;
        END IF;
        EXECUTE format('SELECT * FROM %s', meta) INTO m;
        IF address_names[2] NOT IN (m.hierarchy_table, m.members_table, m.hierarchy_table || '_slots') THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN meta;
END $$;

CREATE FUNCTION @extschema@.cluster_hierarchy_guard_drop() RETURNS event_trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
    meta regclass;
    m record;
    nsp name;
    source regclass;
BEGIN
    IF EXISTS (SELECT FROM pg_event_trigger_dropped_objects() AS o
                WHERE o.object_type = 'extension' AND o.object_identity = 'geocluster') THEN
        RETURN;
    END IF;
    -- A drop that concerns no hierarchy (no write trigger went, and no dropped table has a
    -- hierarchy's metadata table, or is one whose nodes table stays) is recognised from the
    -- catalog alone and left, before any name in this extension's schema: this runs for every
    -- role's DROP, and such a name needs USAGE on the schema.
    IF NOT EXISTS (
            SELECT FROM pg_event_trigger_dropped_objects() AS o
             WHERE (o.object_type = 'trigger' AND o.address_names[3] LIKE 'geocluster\_%')
                OR (o.object_type = 'table' AND EXISTS (
                        SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                               JOIN pg_attribute a ON a.attrelid = c.oid
                         WHERE n.nspname = o.address_names[1] AND a.attnum > 0 AND NOT a.attisdropped
                           AND ((c.relname = regexp_replace(o.address_names[2], '_(members|meta|slots)$', '') || '_meta'
                                 AND a.attname = 'hierarchy_table')
                                OR (o.address_names[2] LIKE '%\_meta' AND c.relname = left(o.address_names[2], -5)
                                    AND a.attname = 'band'))))) THEN
        RETURN;
    END IF;
    FOR d IN SELECT * FROM pg_event_trigger_dropped_objects() AS o
              WHERE o.object_type IN ('trigger', 'table') LOOP
        -- A metadata table dropped alone: its nodes table's write triggers are still there.
        IF d.object_type = 'table' AND d.address_names[2] LIKE '%\_meta'
           AND to_regclass(format('%I.%I', d.address_names[1], left(d.address_names[2], -5))) IS NOT NULL AND EXISTS (
                SELECT FROM @extschema@.cluster_hierarchy_holders(
                           format('%I.%I', d.address_names[1], left(d.address_names[2], -5)))) THEN
            RAISE EXCEPTION 'dropping % would leave cluster hierarchy % broken', d.object_identity,
                            format('%I.%I', d.address_names[1], left(d.address_names[2], -5))
                USING ERRCODE = 'feature_not_supported',
                      HINT = format('Drop the hierarchy with cluster_hierarchy_drop(%L) first.',
                                    format('%I.%I', d.address_names[1], left(d.address_names[2], -5)));
        END IF;
        meta := @extschema@.cluster_hierarchy_dropped_part(d.object_type, d.address_names);
        CONTINUE WHEN meta IS NULL OR to_regclass(meta::text) IS NULL;
        EXECUTE format('SELECT * FROM %s', meta) INTO m;
        SELECT n.nspname INTO nsp FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = meta;
        source := to_regclass(format('%I.%I', m.source_schema, m.source_table));
        -- The trigger of a table that has left the source's tree (NO INHERIT, DETACH PARTITION of an
        -- empty table: cluster_hierarchy_guard_move) may go.
        CONTINUE WHEN d.object_type = 'trigger'
                  AND to_regclass(format('%I.%I', d.address_names[1], d.address_names[2])) IS NOT NULL
                  AND to_regclass(format('%I.%I', d.address_names[1], d.address_names[2]))
                      NOT IN (SELECT * FROM @extschema@.cluster_hierarchy_tree(source));
        IF source IS NULL THEN
            -- The source went: so does its hierarchy (the tables its metadata names, if they have
            -- the metadata's owner: names alone must not make a superuser drop a table of another role).
            EXECUTE format('DROP TABLE %s', (
                SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c
                 WHERE c.relnamespace = (SELECT x.relnamespace FROM pg_class x WHERE x.oid = meta)
                   AND c.relname IN (m.hierarchy_table, m.members_table, m.hierarchy_table || '_slots',
                                     (SELECT x.relname FROM pg_class x WHERE x.oid = meta))
                   AND c.relowner = (SELECT x.relowner FROM pg_class x WHERE x.oid = meta) AND c.relkind = 'r'));
            CONTINUE;
        END IF;
        RAISE EXCEPTION 'dropping % would leave cluster hierarchy %.% %', d.object_identity, nsp, m.hierarchy_table,
                        CASE WHEN d.object_type = 'trigger' THEN 'stale' ELSE 'broken' END
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Drop the hierarchy with cluster_hierarchy_drop(%L) first.',
                                format('%I.%I', nsp, m.hierarchy_table));
    END LOOP;
END $$;

-- Internal: DETACH PARTITION ... CONCURRENTLY from parent, which commits its first transaction
-- before the command ends: refused outright when parent's tree belongs to a hierarchy (called by
-- cluster_hierarchy_guard_start, which finds such commands before they start).
CREATE FUNCTION @extschema@.cluster_hierarchy_guard_detach(parent regclass) RETURNS void
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h text;
BEGIN
    -- (every table of a source's tree holds its write triggers; any other table is left from the
    -- catalog alone, before a name in this schema, which the role running the DDL may not USE)
    IF NOT EXISTS (SELECT FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                                           JOIN pg_extension e ON e.extnamespace = p.pronamespace
                    WHERE t.tgrelid = parent AND e.extname = 'geocluster'::name
                      AND p.proname = 'cluster_hierarchy_write'::name) THEN
        RETURN;
    END IF;
    SELECT o.hierarchy INTO h FROM @extschema@.cluster_hierarchy_of(parent) AS o LIMIT 1;
    IF h IS NOT NULL THEN
        RAISE EXCEPTION 'DETACH PARTITION CONCURRENTLY from % would leave cluster hierarchy % stale', parent, h
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Its first transaction takes the partition''s rows out of the table before the hierarchy could refuse it.',
                  HINT = 'Detach an empty partition without CONCURRENTLY, or drop the hierarchy first.';
    END IF;
END $$;

CREATE FUNCTION @extschema@.cluster_hierarchy_guard_start() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'cluster_hierarchy_guard_start' LANGUAGE C;

CREATE EVENT TRIGGER geocluster_hierarchy_start ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.cluster_hierarchy_guard_start();
CREATE EVENT TRIGGER geocluster_hierarchy_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER TRIGGER')
    EXECUTE FUNCTION @extschema@.cluster_hierarchy_guard_ddl();
CREATE EVENT TRIGGER geocluster_hierarchy_drop ON sql_drop
    EXECUTE FUNCTION @extschema@.cluster_hierarchy_guard_drop();
-- Like the write triggers: session_replication_role = replica must not silence the guard.
ALTER EVENT TRIGGER geocluster_hierarchy_start ENABLE ALWAYS;
ALTER EVENT TRIGGER geocluster_hierarchy_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER geocluster_hierarchy_drop ENABLE ALWAYS;
