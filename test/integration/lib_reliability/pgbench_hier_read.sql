-- test/t/063_hierarchy_writes.pl: a reader while writers commit. Within one REPEATABLE READ
-- snapshot, (1) the clusters over the whole world at zoom :z count every positioned row, and
-- (2) the clusters whose centre is in a random box count exactly the rows that are their
-- members (cluster_leaves, 100,000 a page), each row once. A failed check raises (wm_assert) and pgbench reports
-- an error. With :hier = 0 (no hierarchy: the harness's own proof) the same snapshot checks the
-- world through cluster_agg instead.
\set z random(0, 14)
\set s random(-850, 800) / 10.0
\set w random(-1800, 1700) / 10.0
\set d random(1, 200) / 10.0
BEGIN ISOLATION LEVEL REPEATABLE READ;
\if :hier
SELECT wm_assert((SELECT coalesce(sum(v.count), 0) FROM cluster_viewport('wm_clusters', -90, -180, 90, 180, :z) v)
                 = (SELECT count(*) FROM wm WHERE lat IS NOT NULL AND lon IS NOT NULL),
                 'world at zoom ' || :z || ': cluster counts <> rows');
WITH v AS (SELECT v.cluster_id, v.count
             FROM cluster_viewport('wm_clusters', :s, :w, least(90, :s + :d), :w + 2 * :d, :z) v),
     m AS (SELECT l.id FROM v, generate_series(0, (v.count - 1) / 100000) AS page(k),
                LATERAL cluster_leaves('wm_clusters', v.cluster_id, 100000, page.k * 100000) AS l(id))
SELECT wm_assert(b.counted = b.members AND b.members = b.distinct_members AND b.members = b.rows,
                 format('box (%s, %s, %s, %s) at zoom %s: counts %s, members %s (%s distinct), rows %s',
                        :s, :w, least(90, :s + :d), :w + 2 * :d, :z, b.counted, b.members, b.distinct_members, b.rows))
  FROM (SELECT (SELECT coalesce(sum(v.count), 0) FROM v) AS counted,
               (SELECT count(*) FROM m) AS members,
               (SELECT count(DISTINCT m.id) FROM m) AS distinct_members,
               (SELECT count(*) FROM wm WHERE id IN (SELECT m.id FROM m) AND lat IS NOT NULL AND lon IS NOT NULL) AS rows) b;
\else
SELECT wm_assert(coalesce((SELECT sum(c.count) FROM unnest(s.clusters) c), 0) = s.n, 'cluster_agg lost markers')
  FROM (SELECT cluster_agg(lat, lon, :z, 60) AS clusters, count(*) AS n FROM wm WHERE lat IS NOT NULL AND lon IS NOT NULL) s;
\endif
COMMIT;
