-- Compares upgrade_check.catalog (catalog.sql) of this database, brought to the new version by
-- ALTER EXTENSION ... UPDATE, with the same view in the freshly installed database named by the
-- psql variable :fresh, a libpq connection string (through dblink). One row per difference: the object, the property, and
-- the first line where the two values differ (both sides), with its number; no row when the
-- catalogs are identical.
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA upgrade_check;
WITH upgraded AS (
  SELECT object, property, value FROM upgrade_check.catalog
), fresh AS (
  SELECT object, property, value
    FROM upgrade_check.dblink(:'fresh',
                              'SELECT object, property, value FROM upgrade_check.catalog')
         AS r(object text, property text, value text)
), diff AS (
  SELECT coalesce(u.object, f.object) AS object, coalesce(u.property, f.property) AS property,
         u.value AS upgraded, f.value AS fresh, u.object IS NULL AS only_fresh, f.object IS NULL AS only_upgraded
    FROM upgraded u FULL JOIN fresh f ON f.object = u.object AND f.property = u.property
   WHERE u.value IS DISTINCT FROM f.value OR u.object IS NULL OR f.object IS NULL
), diff_shown AS (
  -- an object on one side only is reported once, by its 'member' row
  SELECT * FROM diff d
   WHERE d.property = 'member' OR d.object LIKE 'extension %'
      OR NOT EXISTS (SELECT FROM diff m WHERE m.object = d.object AND m.property = 'member')
)
SELECT d.object || ' | ' || d.property || ' | ' ||
       CASE WHEN d.only_fresh AND d.property = 'member' THEN 'missing after the upgrade (new in the install script)'
            WHEN d.only_upgraded AND d.property = 'member' THEN 'left by the upgrade (gone from the install script)'
            WHEN d.only_fresh THEN 'missing after the upgrade: ' || coalesce(l.fresh_line, '')
            WHEN d.only_upgraded THEN 'only after the upgrade: ' || coalesce(l.upgraded_line, '')
            ELSE 'line ' || l.n || ': upgraded ' || coalesce(pg_catalog.quote_literal(l.upgraded_line), 'NULL')
                 || ', fresh ' || coalesce(pg_catalog.quote_literal(l.fresh_line), 'NULL') END AS difference
  FROM diff_shown d
  LEFT JOIN LATERAL (
    SELECT coalesce(a.n, b.n) AS n, a.line AS upgraded_line, b.line AS fresh_line
      FROM pg_catalog.string_to_table(d.upgraded, E'\n') WITH ORDINALITY AS a(line, n)
      FULL JOIN pg_catalog.string_to_table(d.fresh, E'\n') WITH ORDINALITY AS b(line, n) ON b.n = a.n
     WHERE a.line IS DISTINCT FROM b.line
     ORDER BY 1 LIMIT 1
  ) l ON true
 ORDER BY d.object, d.property;
