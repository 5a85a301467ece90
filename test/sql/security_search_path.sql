-- search_path shadowing: no body of either extension runs code that another user placed on the
-- caller's search_path.
--
-- Both extensions are trusted. A user with CREATE on a schema of a superuser's search_path
-- (here public, which also holds geocluster and PostGIS, as the README installs them) can add
-- functions, operators and domains there. An unqualified name in a SQL or plpgsql body, or a
-- qualified call whose arguments need a coercion (an integer literal for a float8 parameter, a
-- bigint / numeric division that pg_catalog only serves after a cast), resolves to such an
-- object when its argument types match better, and it then runs with the caller's rights.
--
-- The test, with nothing listed by hand:
--   1. the functions under test are every SQL and plpgsql function that either extension owns
--      (pg_depend) and those of the README's precomputed-tiles recipe (sql/include/tiles_recipe.sql,
--      the superuser's functions in public), listed below;
--   2. as an unprivileged role with CREATE on public, shadows of everything the bodies could
--      resolve: every pg_catalog binary and prefix operator over a universe of types, for every
--      pair of argument types that pg_catalog serves (exactly or after a coercion); every
--      overload of every function named in the bodies, with each argument (and each group of
--      equally typed arguments) replaced by each type that casts to it implicitly, polymorphic
--      arguments by concrete types, defaults dropped, VARIADIC spread out; domains named like the
--      pg_catalog types. Each shadow, when it runs, bumps a sequence (not rolled back with an
--      error) and raises a WARNING naming itself, then does what the shadowed object would;
--   3. as the superuser, every function of 1 is called with every combination of sample values
--      of its argument types (harness.samples; a type without samples fails the test), a trigger
--      function through the statements that fire its triggers, once with the default search_path
--      and once with public ahead of pg_catalog;
--   4. no shadow ran, and no extension body names a function or operator without its schema
--      (a lexical check, for what 2 cannot enumerate, e.g. VARIADIC "any" calls).
-- Everything runs in a database of its own, dropped at the end with the role.
SET client_min_messages = warning;
\pset tuples_only on
\pset null '(null)'
SELECT current_database() AS regression_db \gset
DROP DATABASE IF EXISTS geocluster_search_path;
DROP ROLE IF EXISTS geocluster_shadower;
CREATE DATABASE geocluster_search_path TEMPLATE template0;
\c geocluster_search_path
SET client_min_messages = warning;
CREATE EXTENSION geocluster_postgis CASCADE;
-- The README's precomputed-tiles recipe, over a markers table like the README's, with some
-- tiles marked dirty: its functions are tested too.
CREATE TABLE markers (
    id bigint PRIMARY KEY,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 29)) STORED
);
INSERT INTO markers (id, lat, lon)
SELECT i, 48.80 + (i % 20) * 0.01, 2.25 + (i / 20) * 0.01 FROM generate_series(0, 399) AS i;
\set ECHO none
\i test/sql/include/tiles_recipe.sql
\set ECHO all
UPDATE markers SET lat = lat + 0.001 WHERE id < 10;
CREATE ROLE geocluster_shadower NOLOGIN;
GRANT CREATE ON SCHEMA public TO geocluster_shadower;

-- The harness lives in a schema of its own, off every search_path.
CREATE SCHEMA harness;
GRANT USAGE ON SCHEMA harness TO geocluster_shadower;

-- 1. The functions under test: the extensions' own, and the recipe's (the superuser's
-- functions in public).
CREATE VIEW harness.bodies AS
SELECT p.oid, p.oid::regprocedure::text AS signature, coalesce(e.extname, 'recipe') AS extname,
       l.lanname, p.prosrc, p.prorettype = 'trigger'::regtype AS is_trigger,
       coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false) AS pinned_path
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
  LEFT JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  LEFT JOIN pg_extension e ON e.oid = d.refobjid
 WHERE l.lanname IN ('sql', 'plpgsql')
   AND (e.extname IN ('geocluster', 'geocluster_postgis')
        OR (d.objid IS NULL AND p.pronamespace = 'public'::regnamespace
            AND p.proowner = (SELECT extowner FROM pg_extension WHERE extname = 'geocluster')));
GRANT SELECT ON harness.bodies TO geocluster_shadower;
SELECT extname, lanname, signature, CASE WHEN pinned_path THEN 'SET search_path' ELSE '' END
  FROM harness.bodies ORDER BY extname, signature;

-- A type's name, schema-qualified (format_type leaves out a schema on the search_path). The
-- harness's functions pin search_path = pg_catalog, pg_temp, so that the shadows cannot
-- capture them.
CREATE FUNCTION harness.qualified_type(t oid) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN e.oid IS NOT NULL THEN quote_ident(en.nspname) || '.' || quote_ident(e.typname) || '[]'
                ELSE quote_ident(n.nspname) || '.' || quote_ident(ty.typname) END
      FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace
      LEFT JOIN pg_type e ON e.oid = ty.typelem AND ty.typcategory = 'A'
      LEFT JOIN pg_namespace en ON en.oid = e.typnamespace
     WHERE ty.oid = t
$$;

-- The types the shadows take: pg_catalog's scalar types the bodies work with, the extensions'
-- types, and arrays of them.
CREATE TABLE harness.universe (t regtype PRIMARY KEY);
INSERT INTO harness.universe VALUES
    ('smallint'), ('integer'), ('bigint'), ('numeric'), ('real'), ('double precision'),
    ('text'), ('character varying'), ('character'), ('name'), ('boolean'), ('jsonb'), ('json'),
    ('bytea'), ('quadkey'), ('geohash'), ('marker_cluster'), ('geometry'), ('geography'),
    ('box2d'), ('box3d'), ('integer[]'), ('bigint[]'), ('double precision[]'), ('text[]'),
    ('jsonb[]'), ('quadkey[]'), ('geohash[]'), ('marker_cluster[]'), ('geometry[]');
GRANT SELECT ON harness.universe TO geocluster_shadower;

-- Whether a value of type t can be passed where `declared` is expected: the same type, an
-- implicit cast, or a polymorphic type that t fits.
CREATE FUNCTION harness.fits(t oid, declared oid) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t = declared
        OR EXISTS (SELECT FROM pg_cast c
                    WHERE c.castsource = t AND c.casttarget = declared AND c.castcontext = 'i')
        OR (SELECT CASE WHEN d.typname IN ('anyelement', 'anycompatible', 'any') THEN true
                        WHEN d.typname IN ('anynonarray', 'anycompatiblenonarray') THEN tt.typcategory <> 'A'
                        WHEN d.typname IN ('anyarray', 'anycompatiblearray') THEN tt.typcategory = 'A'
                        ELSE false END
              FROM pg_type d, pg_type tt WHERE d.oid = declared AND tt.oid = t)
$$;

-- A cluster hierarchy, queried among the shadows below (its C functions run SQL through SPI).
CREATE TABLE harness.h_src (id bigint, lat double precision, lon double precision);
INSERT INTO harness.h_src
SELECT i, 48.8::float8 + (i % 20)::float8 * 0.01::float8, 2.3::float8 + (i / 20)::float8 * 0.01::float8
  FROM generate_series(1::bigint, 400::bigint) i;
SELECT cluster_hierarchy_create('harness.h_src'::regclass, 'lat'::name, 'lon'::name, 'id'::name,
                                60::float8, 12::integer) AS hierarchy \gset

-- 2. The shadows, created by the unprivileged role.
CREATE FUNCTION harness.make_shadows() RETURNS TABLE (kind text, made bigint)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $make$
DECLARE
    n bigint := 0;
    op record;
    fn record;
    variant oid[];
    rettype text;
    args text;
    delegate text;
    t regtype;
BEGIN
    CREATE SEQUENCE public.shadow_hits;
    CREATE TABLE public.shadow_made (kind text, signature text);
    CREATE FUNCTION public.shadow_ran(what text) RETURNS void LANGUAGE plpgsql AS $f$
    BEGIN
        PERFORM pg_catalog.nextval('public.shadow_hits'::pg_catalog.regclass);
        RAISE WARNING 'search_path shadow ran: %', what;
    END $f$;

    -- harness.fits of every universe type and every type that a candidate declares, once.
    CREATE TEMP TABLE fit AS
    SELECT u.t::oid AS t, d.declared
      FROM harness.universe u,
           (SELECT oprleft AS declared FROM pg_operator UNION SELECT oprright FROM pg_operator
            UNION SELECT unnest(proargtypes) FROM pg_proc UNION SELECT provariadic FROM pg_proc) d
     WHERE d.declared <> 0 AND harness.fits(u.t, d.declared);

    -- Operators: for every pg_catalog operator name, every pair of universe types that one of
    -- its operators takes, exactly (a shadow captures an unqualified operator when public
    -- precedes pg_catalog) or after a coercion (captures it whatever the path).
    FOR op IN
        SELECT DISTINCT o.oprname, l.t::regtype AS l, r.t::regtype AS r
          FROM pg_operator o
          LEFT JOIN fit l ON o.oprkind = 'b' AND l.declared = o.oprleft
          JOIN fit r ON r.declared = o.oprright
         WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprkind IN ('b', 'l')
           AND (o.oprkind = 'l' OR l.t IS NOT NULL)
         ORDER BY 1, 2, 3
    LOOP
        args := CASE WHEN op.l IS NULL THEN harness.qualified_type(op.r)
                     ELSE harness.qualified_type(op.l) || ', ' || harness.qualified_type(op.r) END;
        BEGIN
            -- what pg_catalog makes of it, if anything
            EXECUTE format('SELECT harness.qualified_type(pg_catalog.pg_typeof(%s OPERATOR(pg_catalog.%s) NULL::%s))',
                           CASE WHEN op.l IS NULL THEN '' ELSE 'NULL::' || harness.qualified_type(op.l) END,
                           op.oprname, harness.qualified_type(op.r)) INTO rettype;
            n := n + 1;
            EXECUTE format('CREATE FUNCTION public.shadow_op_%s(%s) RETURNS %s LANGUAGE plpgsql AS $f$ '
                           'BEGIN PERFORM public.shadow_ran(%L); RETURN %s OPERATOR(pg_catalog.%s) $%s; END $f$',
                           n, args, rettype, format('operator public.%s(%s)', op.oprname, args),
                           CASE WHEN op.l IS NULL THEN '' ELSE '$1' END, op.oprname,
                           CASE WHEN op.l IS NULL THEN 1 ELSE 2 END);
            EXECUTE format('CREATE OPERATOR public.%s (%s RIGHTARG = %s, FUNCTION = public.shadow_op_%s)',
                           op.oprname,
                           CASE WHEN op.l IS NULL THEN '' ELSE format('LEFTARG = %s,', harness.qualified_type(op.l)) END,
                           harness.qualified_type(op.r), n);
            INSERT INTO public.shadow_made VALUES ('operator', format('%s(%s)', op.oprname, args));
        EXCEPTION
            WHEN undefined_function OR ambiguous_function THEN NULL;  -- pg_catalog has none for it
            WHEN duplicate_function THEN NULL;  -- that operator is in public already (PostGIS's)
        END;
    END LOOP;

    -- Functions: every overload, in pg_catalog or public, of every name that a body calls.
    FOR fn IN
        WITH called AS (
            SELECT DISTINCT lower(m[1]) AS name
              FROM harness.bodies b, regexp_matches(b.prosrc, '([A-Za-z_][A-Za-z0-9_]*)"?\s*\(', 'g') AS m)
        SELECT p.oid, p.proname, p.pronamespace::regnamespace::text AS schema_name,
               string_to_array(p.proargtypes::text, ' ')::oid[] AS argtypes,  -- 1-based, unlike oidvector
               p.pronargdefaults, p.provariadic, p.prokind, p.proretset, p.prorettype,
               EXISTS (SELECT FROM pg_type t WHERE t.oid = ANY (p.proargtypes) AND t.typtype = 'p') AS polymorphic
          FROM pg_proc p JOIN called c ON c.name = p.proname::text
         WHERE p.prokind IN ('f', 'a') AND p.pronamespace IN ('pg_catalog'::regnamespace, 'public'::regnamespace)
         ORDER BY p.oid
    LOOP
        FOR variant IN
            WITH
            -- the argument lists a call may bind to: defaults dropped, VARIADIC spread out
            shapes(argtypes) AS (
                SELECT fn.argtypes[1:k]
                  FROM generate_series(cardinality(fn.argtypes) - fn.pronargdefaults, cardinality(fn.argtypes)) AS k
                 WHERE fn.provariadic = 0
                UNION ALL
                SELECT fn.argtypes[1:cardinality(fn.argtypes) - 1] || array_fill(v.t, ARRAY[k])
                  FROM generate_series(1, 3) AS k,
                       (SELECT fn.provariadic AS t WHERE fn.provariadic <> '"any"'::regtype
                        UNION ALL
                        SELECT u.t FROM harness.universe u WHERE fn.provariadic = '"any"'::regtype) v
                 WHERE fn.provariadic <> 0),
            -- what may stand for a declared argument type
            stand_ins(declared, t) AS (
                SELECT DISTINCT a.declared, u.t::oid
                  FROM (SELECT DISTINCT unnest(s.argtypes) AS declared FROM shapes s) a
                  JOIN fit u ON u.t <> a.declared AND u.declared = a.declared)
            SELECT DISTINCT x.v FROM (
                SELECT s.argtypes AS v FROM shapes s                     -- the exact signature
                UNION ALL
                SELECT (SELECT array_agg(CASE WHEN s.argtypes[j] = s.argtypes[i] THEN si.t ELSE s.argtypes[j] END
                                         ORDER BY j)
                          FROM generate_subscripts(s.argtypes, 1) AS j)  -- one type replaced everywhere
                  FROM shapes s, generate_subscripts(s.argtypes, 1) AS i
                  JOIN stand_ins si ON true WHERE si.declared = s.argtypes[i]
                UNION ALL
                SELECT (SELECT array_agg(CASE WHEN j = i THEN si.t ELSE s.argtypes[j] END ORDER BY j)
                          FROM generate_subscripts(s.argtypes, 1) AS j)  -- one argument replaced
                  FROM shapes s, generate_subscripts(s.argtypes, 1) AS i
                  JOIN stand_ins si ON true WHERE si.declared = s.argtypes[i]) x
             WHERE NOT EXISTS (SELECT FROM pg_type t WHERE t.oid = ANY (x.v) AND t.typtype = 'p')
             ORDER BY 1
        LOOP
            -- The shadow returns what the call would return: the declared type, or the one a
            -- polymorphic result takes from the first polymorphic argument.
            rettype := (
                SELECT harness.qualified_type(CASE
                    WHEN rt.typtype <> 'p' OR rt.typname = 'void' THEN rt.oid
                    WHEN rt.typname IN ('anyarray', 'anycompatiblearray') THEN (SELECT typarray FROM pg_type WHERE oid = b.base)
                    WHEN rt.typname IN ('anyelement', 'anycompatible', 'anynonarray', 'anycompatiblenonarray') THEN b.base END)
                  FROM pg_type rt
                  LEFT JOIN LATERAL (
                      SELECT CASE WHEN dt.typname IN ('anyarray', 'anycompatiblearray') THEN ct.typelem ELSE ct.oid END AS base
                        FROM generate_subscripts(variant, 1) AS i
                        JOIN pg_type dt ON dt.oid = coalesce(fn.argtypes[i], fn.provariadic)
                        JOIN pg_type ct ON ct.oid = variant[i]
                       WHERE dt.typtype = 'p' AND dt.typname <> 'any'
                       ORDER BY i LIMIT 1) b ON true
                 WHERE rt.oid = fn.prorettype);
            CONTINUE WHEN rettype IS NULL OR rettype = 'pg_catalog.record';  -- a shadow cannot declare it
            args := (SELECT string_agg(harness.qualified_type(a), ', ' ORDER BY o)
                       FROM unnest(variant) WITH ORDINALITY AS v(a, o));
            -- It calls the overload it shadows, pinned to it by casts, unless that one is
            -- polymorphic and in public (the call could find the shadow itself).
            delegate := format('%I.%I(%s)', fn.schema_name, fn.proname,
                (SELECT string_agg(CASE WHEN o > cardinality(fn.argtypes) OR t.typtype = 'p' THEN format('$%s', o)
                                        ELSE format('$%s::%s', o, harness.qualified_type(fn.argtypes[o])) END,
                                   ', ' ORDER BY o)
                   FROM generate_series(1, cardinality(variant)) AS o
                   LEFT JOIN pg_type t ON t.oid = fn.argtypes[o]));
            IF fn.schema_name = 'public' AND (fn.provariadic <> 0 OR fn.polymorphic) THEN
                delegate := 'NULL';
            END IF;
            n := n + 1;
            BEGIN
                IF fn.prokind = 'a' THEN
                    EXECUTE format('CREATE FUNCTION public.shadow_fn_%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS $f$ '
                                   'BEGIN PERFORM public.shadow_ran(%L); RETURN $1; END $f$',
                                   n, rettype, args, rettype, format('aggregate public.%s(%s)', fn.proname, args));
                    EXECUTE format('CREATE AGGREGATE public.%I(%s) (SFUNC = public.shadow_fn_%s, STYPE = %s)',
                                   fn.proname, args, n, rettype);
                ELSE
                    EXECUTE format('CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE plpgsql AS $f$ '
                                   'BEGIN PERFORM public.shadow_ran(%L); %s; END $f$',
                                   fn.proname, coalesce(args, ''), CASE WHEN fn.proretset THEN 'SETOF ' ELSE '' END,
                                   rettype, format('function public.%s(%s)', fn.proname, args),
                                   CASE WHEN delegate = 'NULL' AND (fn.proretset OR rettype = 'pg_catalog.void') THEN 'RETURN'
                                        WHEN rettype = 'pg_catalog.void' THEN 'PERFORM ' || delegate || '; RETURN'
                                        WHEN NOT fn.proretset THEN 'RETURN ' || delegate
                                        ELSE 'RETURN QUERY SELECT * FROM ' || delegate END);
                END IF;
                INSERT INTO public.shadow_made
                VALUES (CASE WHEN fn.prokind = 'a' THEN 'aggregate' ELSE 'function' END,
                        format('%s(%s)', fn.proname, args));
            EXCEPTION WHEN duplicate_function THEN
                NULL;  -- that exact signature is in public already (the extension's own, or made above)
            END;
        END LOOP;
    END LOOP;

    -- Types: a domain in public named like each pg_catalog type of the universe, whose check
    -- runs a shadow, captures an unqualified type name when public precedes pg_catalog.
    CREATE FUNCTION public.shadow_check(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
    BEGIN PERFORM public.shadow_ran(what); RETURN true; END $f$;
    FOR t IN SELECT u.t FROM harness.universe u JOIN pg_type ty ON ty.oid = u.t
              WHERE ty.typnamespace = 'pg_catalog'::regnamespace AND ty.typcategory <> 'A' LOOP
        EXECUTE format('CREATE DOMAIN public.%I AS %s CHECK (public.shadow_check(%L))',
                       (SELECT ty.typname FROM pg_type ty WHERE ty.oid = t), harness.qualified_type(t),
                       format('domain public.%s', t));
        INSERT INTO public.shadow_made VALUES ('domain', t::text);
    END LOOP;

    RETURN QUERY SELECT m.kind, count(*) FROM public.shadow_made m GROUP BY m.kind;
END $make$;

SET ROLE geocluster_shadower;
CREATE TEMP TABLE made AS SELECT * FROM harness.make_shadows();
RESET ROLE;
-- Enough of each kind, and the ones that matter here among them.
SELECT kind, made > CASE kind WHEN 'operator' THEN 1000 WHEN 'function' THEN 300 ELSE 10 END AS many
  FROM made ORDER BY kind;
SELECT to_regoperator(o) IS NOT NULL AS shadowed, o AS operator FROM pg_catalog.unnest(ARRAY[
    'public./(bigint,numeric)', 'public./(numeric,integer)', 'public.>=(bigint,integer)',
    'public.>(bigint,integer)', 'public.||(text,text)', 'public.=(integer,integer)',
    'public.<>(text,text)', 'public.||(jsonb,jsonb)', 'public.-(NONE,integer)']) AS o;
SELECT to_regprocedure(f) IS NOT NULL AS shadowed, f AS function FROM pg_catalog.unnest(ARRAY[
    'public.round(numeric)', 'public.round(bigint)', 'public.trim_scale(numeric)',
    'public.unnest(marker_cluster[])', 'public.jsonb_agg(jsonb)', 'public.jsonb_build_object(text,text)',
    'public.st_makepoint(integer,double precision)', 'public.st_setsrid(geometry,smallint)',
    'public.st_makeenvelope(integer,double precision,double precision,double precision,integer)',
    'public.quadkey(integer,double precision,integer)', 'public.format(text,text)',
    'public.cluster_state_agg(double precision,double precision,integer,integer,bigint)']) AS f;
-- (Functions of cstring, such as textout and quadkey_in, need no shadow: only a C function can
-- take or return cstring, and creating one needs a superuser.)

-- 3. Sample values by argument type, as SQL expressions with qualified types. A function of 1
-- with an argument type missing here is listed by the next query and fails the test.
CREATE TABLE harness.samples (t regtype, sample text);
INSERT INTO harness.samples
SELECT v.t, pg_catalog.format('%L::%s', v.s, harness.qualified_type(v.t)) FROM (VALUES
    ('bigint'::regtype, '1'), ('bigint', '999'), ('bigint', '1500'), ('bigint', '12345'),
    ('integer', '0'), ('integer', '1'), ('integer', '3'),
    ('double precision', '0'), ('double precision', '60'), ('double precision', '-1'),
    ('text', '0302'), ('text', 'u8vx'),
    ('quadkey', '0302'), ('quadkey', ''), ('geohash', 'u8vx'), ('geohash', ''),
    ('geometry', 'SRID=4326;POINT(2.35 48.85)'), ('geometry', 'SRID=3857;POINT(261600 6250000)'),
    ('geometry', 'SRID=4326;LINESTRING(0 0,1 1)'), ('geometry', 'SRID=4326;POINT EMPTY'),
    ('geometry', 'POINT(1 2)'), ('geometry', NULL),
    ('marker_cluster', '(3,48.8,2.3,48.7,2.2,48.9,2.4,7)'),
    ('marker_cluster', '(2,0,180,-1,179.5,1,-179.5,)'),
    ('marker_cluster[]', '{}'),
    ('jsonb', '{}'), ('jsonb', '{"9": {"name": "x"}}'),
    ('regclass', 'harness.h_src_clusters'),
    ('cluster_node[]', '{}'), ('cluster_node[]', '{"(1099511627776,1,3,48.8,2.3,48.7,2.2,48.9,2.4,7,2)","(,1,1,1,2,1,2,1,2,9,)"}'),
    ('marker_cluster[]', '{"(12345,48.8,2.3,48.7,2.2,48.9,2.4,7)","(1500,1,2,0,1,2,3,)","(1,5,6,5,6,5,6,9)","(2,0,180,-1,179.5,1,-179.5,)"}')
) AS v(t, s);
SELECT b.signature AS function_without_samples, a::regtype AS argument_type
  FROM harness.bodies b JOIN pg_proc p ON p.oid = b.oid, unnest(p.proargtypes::oid[]) AS a
 WHERE NOT b.pinned_path  -- a body pinned to pg_catalog, pg_temp cannot reach public's objects
   AND NOT EXISTS (SELECT FROM harness.samples s WHERE s.t = a);

-- Calls every function of 1 with every combination of samples, with `path` as the search_path
-- of the call alone. Errors are expected of some samples (a LineString, an invalid tile):
-- they are counted by SQLSTATE.
CREATE FUNCTION harness.call_all(path text)
RETURNS TABLE (signature text, calls bigint, succeeded bigint, sqlstates text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS outcomes (signature text, sqlstate text);
    TRUNCATE pg_temp.outcomes;
    FOR c IN
        WITH RECURSIVE args(oid, n, list) AS (  -- every combination of samples, argument by argument
            SELECT b.oid, 0, '' FROM harness.bodies b
            UNION ALL
            SELECT a.oid, a.n + 1, a.list || CASE WHEN a.n = 0 THEN '' ELSE ', ' END || s.sample
              FROM args a JOIN pg_proc p ON p.oid = a.oid
              JOIN harness.samples s ON s.t = p.proargtypes[a.n]  -- oidvector: 0-based
             WHERE a.n < p.pronargs)
        SELECT b.signature, format('SELECT %I.%I(%s)', p.pronamespace::regnamespace::text, p.proname, a.list) AS call_sql
          FROM args a JOIN pg_proc p ON p.oid = a.oid JOIN harness.bodies b ON b.oid = a.oid
         WHERE a.n = p.pronargs AND NOT b.is_trigger
           -- a pinned VOLATILE function (create, drop, rebuild) is immune and changes what the
           -- other calls need; the hierarchy section below calls those once
           AND NOT (b.pinned_path AND p.provolatile OPERATOR(pg_catalog.=) 'v'::"char")
        UNION ALL
        -- a trigger function runs through the statements that fire its triggers
        SELECT b.signature, format(CASE ev.bit WHEN 4 THEN 'INSERT INTO %1$s (%2$I) SELECT %2$I FROM %1$s WHERE false'
                                               WHEN 8 THEN 'DELETE FROM %1$s WHERE false'
                                               ELSE 'UPDATE %1$s SET %2$I = %2$I' END,
                                   tg.tgrelid::regclass, col.attname)
          FROM harness.bodies b JOIN pg_trigger tg ON tg.tgfoid = b.oid
          CROSS JOIN LATERAL (SELECT a.attname FROM pg_attribute a
                               WHERE a.attrelid = tg.tgrelid AND a.attnum > 0 AND NOT a.attisdropped
                                 AND a.attgenerated = '' ORDER BY a.attnum LIMIT 1) col
          JOIN (VALUES (4), (8), (16)) AS ev(bit) ON tg.tgtype & ev.bit <> 0
         ORDER BY 1, 2
    LOOP
        -- the call alone runs with `path`; the harness's own statements with the pinned one
        PERFORM set_config('search_path', path, true);
        BEGIN
            EXECUTE c.call_sql;
            PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
            INSERT INTO pg_temp.outcomes VALUES (c.signature, NULL);
        EXCEPTION WHEN OTHERS THEN
            PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
            INSERT INTO pg_temp.outcomes VALUES (c.signature, SQLSTATE);
        END;
    END LOOP;
    RETURN QUERY
        SELECT o.signature, count(*), count(*) FILTER (WHERE o.sqlstate IS NULL), string_agg(DISTINCT o.sqlstate, ' ')
          FROM pg_temp.outcomes o GROUP BY o.signature ORDER BY o.signature;
END $$;

-- The default search_path ("$user", public; pg_catalog first, implicitly) ...
SELECT * FROM harness.call_all('"$user", public');
-- ... and public first: the bodies name nothing that pg_catalog must supply by name.
SELECT * FROM harness.call_all('public, pg_catalog');
-- The attack as first found: a superuser's cluster_geojson over a cluster of 1,500 markers
-- (this query itself is written so that the shadows cannot capture it).
SELECT jsonb_array_length(cluster_geojson(cluster_agg(lat, lon, 3, 60::float8, i)) -> 'features') AS features
  FROM (SELECT i::bigint AS i, 48.8::float8 + i::float8 * 1e-6::float8 AS lat, 2.3::float8 AS lon
          FROM generate_series(1, 1500) i) s;

-- The cluster hierarchy: its plpgsql functions are pinned (not called above when their
-- arguments have no samples), but its C functions run SQL through SPI under the caller's
-- search_path; so a hierarchy is built, queried, rebuilt and dropped here, as the superuser,
-- with public ahead of pg_catalog, among the shadows.
SET search_path = public, pg_catalog;
SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0::pg_catalog.int8 AS viewport_rows
  FROM cluster_viewport(:'hierarchy'::pg_catalog.regclass, 48.0::pg_catalog.float8, 2.0::pg_catalog.float8, 49.5::pg_catalog.float8, 3.0::pg_catalog.float8, 9.5::pg_catalog.float8);
SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0::pg_catalog.int8 AS children,
       pg_catalog.bool_and(cluster_expansion_zoom(:'hierarchy'::pg_catalog.regclass, c.cluster_id) IS NOT NULL
                OR c.count OPERATOR(pg_catalog.=) 1::pg_catalog.int8) AS expansion_zooms
  FROM cluster_viewport(:'hierarchy'::pg_catalog.regclass, '-90'::pg_catalog.float8, '-180'::pg_catalog.float8, 90::pg_catalog.float8, 180::pg_catalog.float8, 0::pg_catalog.float8) v,
       cluster_children(:'hierarchy'::pg_catalog.regclass, v.cluster_id) c;
SELECT pg_catalog.count(*) AS leaves
  FROM cluster_viewport(:'hierarchy'::pg_catalog.regclass, '-90'::pg_catalog.float8, '-180'::pg_catalog.float8, 90::pg_catalog.float8, 180::pg_catalog.float8, 0::pg_catalog.float8) v,
       cluster_leaves(:'hierarchy'::pg_catalog.regclass, v.cluster_id, 1000::pg_catalog.int4, 0::pg_catalog.int8);
SELECT pg_catalog.jsonb_typeof(cluster_viewport_geojson(:'hierarchy'::pg_catalog.regclass, '-90'::pg_catalog.float8, '-180'::pg_catalog.float8, 90::pg_catalog.float8,
                                             180::pg_catalog.float8, 3::pg_catalog.float8)) AS geojson;
-- (PostGIS's ST_AsMVT is polymorphic and lives in public: a shadow there makes the tile's call
-- ambiguous, an ERROR, which is all the README's security section promises for it.)
DO $$
BEGIN
    PERFORM cluster_hierarchy_tile('harness.h_src_clusters'::pg_catalog.regclass, 3::pg_catalog.int4,
                                   4::pg_catalog.int4, 2::pg_catalog.int4);
    RAISE NOTICE 'tile: built';
EXCEPTION WHEN ambiguous_function THEN
    RAISE NOTICE 'tile: ST_AsMVT ambiguous';
END $$;
SELECT cluster_hierarchy_rebuild(:'hierarchy'::pg_catalog.regclass);
SELECT cluster_hierarchy_drop(:'hierarchy'::pg_catalog.regclass);
RESET search_path;

-- 4a. No shadow ran.
SELECT NOT is_called AS no_shadow_ran FROM public.shadow_hits;

-- 4b. Lexically, outside string literals and comments, an extension's body that does not pin
-- search_path names every function with its schema and writes every operator as
-- OPERATOR(schema.op): an identifier before "(" has a schema (SQL's own syntax, CASE, COALESCE
-- and the like, is listed), and no operator character is left (but a minus sign that starts a
-- number, a "*" of "SELECT *", ":=" and "::"). A type name is checked by the dynamic test's
-- domains. (The recipe calls geocluster through the search_path, with exact argument types.)
CREATE FUNCTION harness.stripped(body text) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.regexp_replace(
               body, '--[^\n]*', ' ', 'g'),
               '''([^'']|'''')*''', ' ''lit'' ', 'g'),
               'OPERATOR\s*\(\s*[a-z_]+\s*\.\s*[^)\s]+\s*\)', ' OPERATOR ', 'gi')
$$;
SELECT b.signature, m[1] AS unqualified_call
  FROM harness.bodies b,
       regexp_matches(harness.stripped(b.prosrc), '(?:^|[^.\w"])([A-Za-z_]\w*)\s*\(', 'g') AS m
 WHERE NOT b.pinned_path AND b.extname <> 'recipe'
   AND lower(m[1]) NOT IN ('select', 'case', 'when', 'then', 'else', 'coalesce', 'nullif', 'greatest',
                           'least', 'in', 'any', 'all', 'array', 'row', 'exists', 'values', 'and', 'or',
                           'not', 'over', 'filter', 'operator', 'cast', 'from', 'where', 'on', 'using', 'as', 'lateral')
   AND NOT regexp_like(harness.stripped(b.prosrc), '\mAS\s+' || m[1] || '\s*\(', 'i');  -- a column alias list
SELECT b.signature, m[1] AS unqualified_operator
  FROM harness.bodies b,
       regexp_matches(regexp_replace(harness.stripped(b.prosrc), '(::|:=|[(,]\s*-(?=\d)|(SELECT|\.)\s*\*)', ' ', 'gi'),
                      '([-+*/<>=~!@#%^&|`?]+)', 'g') AS m
 WHERE NOT b.pinned_path AND b.extname <> 'recipe';

\c :regression_db
DROP DATABASE geocluster_search_path;
DROP ROLE geocluster_shadower;
