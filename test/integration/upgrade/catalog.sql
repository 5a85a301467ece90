-- The catalog of geocluster's extensions as rows (object, property, value), for the upgrade test
-- (upgrade.sh) to compare a database brought to the new version by ALTER EXTENSION ... UPDATE
-- with a fresh install of it. Creates the view upgrade_check.catalog; it reads pg_catalog only, so
-- it is the same query in both databases and belongs to neither extension.
--
-- Objects are named by pg_describe_object (no OIDs), prefixed with their extension. Every member
-- object has a 'member' row; functions, aggregates, types, operators, operator classes and
-- families, casts and relations have one row per property that an upgrade script must carry
-- over (a function's body, volatility, strictness, parallel safety, owner...).
CREATE SCHEMA upgrade_check;
CREATE VIEW upgrade_check.catalog (object, property, value) AS
WITH member AS (
  SELECT e.extname || ': ' || pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
         d.classid, d.objid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND e.extname IN ('geocluster', 'geocluster_postgis')
)
SELECT object, 'member', '' FROM member
UNION ALL
-- every member's comment
SELECT m.object, 'comment', ds.description
  FROM member m JOIN pg_description ds ON ds.classoid = m.classid AND ds.objoid = m.objid AND ds.objsubid = 0
UNION ALL
-- functions and procedures: the whole definition, and its parts one by one (so a failure names
-- the property that differs)
SELECT m.object, x.property, x.value
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid,
  LATERAL (VALUES
    ('definition', CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END),
    ('prosrc', p.prosrc),
    ('probin', p.probin),
    ('language', (SELECT lanname FROM pg_language l WHERE l.oid = p.prolang)::text),
    ('kind', p.prokind::text),
    ('volatility', p.provolatile::text),
    ('strict', p.proisstrict::text),
    ('parallel', p.proparallel::text),
    ('security definer', p.prosecdef::text),
    ('leakproof', p.proleakproof::text),
    ('owner', pg_get_userbyid(p.proowner)::text),
    ('acl', p.proacl::text),
    ('config', p.proconfig::text),
    ('cost', p.procost::text),
    ('rows', p.prorows::text),
    ('support', p.prosupport::regprocedure::text),
    ('arguments', pg_get_function_arguments(p.oid)),
    ('result', pg_get_function_result(p.oid))
  ) AS x(property, value)
UNION ALL
-- aggregates
SELECT m.object, x.property, x.value
  FROM member m JOIN pg_aggregate a ON m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid,
  LATERAL (VALUES
    ('aggregate kind', a.aggkind::text || ' ' || a.aggnumdirectargs::text),
    ('transition', a.aggtransfn::regprocedure::text || ' ' || a.aggtranstype::regtype::text
                   || ' space ' || a.aggtransspace::text || ' init ' || coalesce(a.agginitval, 'NULL')),
    ('final', a.aggfinalfn::regprocedure::text || ' extra ' || a.aggfinalextra::text
              || ' modify ' || a.aggfinalmodify::text),
    ('combine', a.aggcombinefn::regprocedure::text),
    ('serial', a.aggserialfn::regprocedure::text || ' ' || a.aggdeserialfn::regprocedure::text),
    ('moving', a.aggmtransfn::regprocedure::text || ' ' || a.aggminvtransfn::regprocedure::text || ' '
               || a.aggmfinalfn::regprocedure::text || ' ' || a.aggmtranstype::regtype::text
               || ' ' || coalesce(a.aggminitval, 'NULL')),
    ('sort operator', a.aggsortop::regoperator::text)
  ) AS x(property, value)
UNION ALL
-- types (base, composite, shell-free)
SELECT m.object, x.property, x.value
  FROM member m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid,
  LATERAL (VALUES
    ('form', t.typtype::text || ' ' || t.typcategory::text || ' preferred ' || t.typispreferred::text
             || ' len ' || t.typlen::text || ' byval ' || t.typbyval::text || ' align ' || t.typalign::text
             || ' storage ' || t.typstorage::text || ' delim ' || t.typdelim::text),
    ('io', t.typinput::regprocedure::text || ' ' || t.typoutput::regprocedure::text || ' '
           || t.typreceive::regprocedure::text || ' ' || t.typsend::regprocedure::text || ' '
           || t.typmodin::regprocedure::text || ' ' || t.typmodout::regprocedure::text || ' '
           || t.typanalyze::regprocedure::text || ' ' || t.typsubscript::regprocedure::text),
    ('owner', pg_get_userbyid(t.typowner)::text),
    ('acl', t.typacl::text),
    ('default', t.typdefault),
    ('attributes', (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                      FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
  ) AS x(property, value)
UNION ALL
-- operators
SELECT m.object, x.property, x.value
  FROM member m JOIN pg_operator o ON m.classid = 'pg_operator'::regclass AND o.oid = m.objid,
  LATERAL (VALUES
    ('function', o.oprcode::regprocedure::text || ' returns ' || o.oprresult::regtype::text),
    ('commutator', o.oprcom::regoperator::text),
    ('negator', o.oprnegate::regoperator::text),
    ('estimators', o.oprrest::regprocedure::text || ' ' || o.oprjoin::regprocedure::text),
    ('merges hashes', o.oprcanmerge::text || ' ' || o.oprcanhash::text),
    ('owner', pg_get_userbyid(o.oprowner)::text)
  ) AS x(property, value)
UNION ALL
-- operator classes
SELECT m.object, x.property, x.value
  FROM member m JOIN pg_opclass c ON m.classid = 'pg_opclass'::regclass AND c.oid = m.objid,
  LATERAL (VALUES
    ('class', pg_describe_object('pg_opfamily'::regclass, c.opcfamily, 0) || ' for ' || c.opcintype::regtype::text
              || ' default ' || c.opcdefault::text || ' storage ' || c.opckeytype::regtype::text),
    ('owner', pg_get_userbyid(c.opcowner)::text)
  ) AS x(property, value)
UNION ALL
-- operator families: each operator and support function in them (these belong to the family,
-- not to the extension directly)
SELECT m.object, 'operator ' || ao.amopstrategy || ' (' || ao.amoplefttype::regtype || ', ' || ao.amoprighttype::regtype || ')',
       ao.amopopr::regoperator::text || ' ' || ao.amoppurpose::text || ' ' || ao.amopsortfamily::text
  FROM member m JOIN pg_amop ao ON m.classid = 'pg_opfamily'::regclass AND ao.amopfamily = m.objid
UNION ALL
SELECT m.object, 'function ' || ap.amprocnum || ' (' || ap.amproclefttype::regtype || ', ' || ap.amprocrighttype::regtype || ')',
       ap.amproc::regprocedure::text
  FROM member m JOIN pg_amproc ap ON m.classid = 'pg_opfamily'::regclass AND ap.amprocfamily = m.objid
UNION ALL
SELECT m.object, 'owner', pg_get_userbyid(f.opfowner)::text
  FROM member m JOIN pg_opfamily f ON m.classid = 'pg_opfamily'::regclass AND f.oid = m.objid
UNION ALL
-- casts
SELECT m.object, 'cast', c.castfunc::regprocedure::text || ' context ' || c.castcontext::text || ' method ' || c.castmethod::text
  FROM member m JOIN pg_cast c ON m.classid = 'pg_cast'::regclass AND c.oid = m.objid
UNION ALL
-- relations (tables, views, sequences): columns, definitions, owner
SELECT m.object, x.property, x.value
  FROM member m JOIN pg_class r ON m.classid = 'pg_class'::regclass AND r.oid = m.objid,
  LATERAL (VALUES
    ('kind', r.relkind::text || ' persistence ' || r.relpersistence::text),
    ('columns', (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                   || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                  WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped)),
    ('view', CASE WHEN r.relkind IN ('v', 'm') THEN pg_get_viewdef(r.oid) END),
    ('indexes', (SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid)) FROM pg_index i WHERE i.indrelid = r.oid)),
    ('constraints', (SELECT string_agg(pg_get_constraintdef(k.oid), '; ' ORDER BY pg_get_constraintdef(k.oid)) FROM pg_constraint k WHERE k.conrelid = r.oid)),
    ('owner', pg_get_userbyid(r.relowner)::text),
    ('acl', r.relacl::text)
  ) AS x(property, value)
UNION ALL
-- the extensions themselves: version, schema, configuration tables
SELECT 'extension ' || e.extname, x.property, x.value
  FROM pg_extension e,
  LATERAL (VALUES
    ('version', e.extversion),
    ('schema', e.extnamespace::regnamespace::text),
    ('relocatable', e.extrelocatable::text),
    ('configuration tables', (SELECT string_agg(c::regclass::text, ', ' ORDER BY c::regclass::text) FROM unnest(e.extconfig) c))
  ) AS x(property, value)
 WHERE e.extname IN ('geocluster', 'geocluster_postgis');
