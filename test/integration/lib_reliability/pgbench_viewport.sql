-- test/t/020_concurrency.pl: viewport clustering while the table changes. The query checks itself:
-- the cluster counts must add up to the rows it clustered (one snapshot), else rel.assert raises
-- and pgbench reports an error.
\set z random(2, 14)
SELECT rel.assert(coalesce((SELECT sum(c.count) FROM unnest(s.clusters) c), 0) = s.n,
                  'cluster_agg(quadkey) lost markers')
  FROM (SELECT cluster_agg(m.qk, :z, 60, m.id) AS clusters, count(m.qk) AS n
          FROM rel_markers m
         WHERE m.qk <@ (SELECT quadkey(p.lat, p.lon, greatest(:z - 3, 0)) FROM rel.point(:z) p)) s;
-- A viewport of about 1024 x 512 px at zoom z around a random point, as a geohash cover.
SELECT rel.assert(coalesce((SELECT sum(c.count) FROM unnest(s.clusters) c), 0) = s.n,
                  'cluster_agg(lat, lon) lost markers')
  FROM (SELECT cluster_agg(m.lat, m.lon, :z, 40) AS clusters, count(*) AS n
          FROM rel_markers m,
               (SELECT p.lat, p.lon, 720.0 / (1 << :z) AS dx FROM rel.point(:z) p) v
         WHERE m.gh <@ ANY (geohash_cover(greatest(v.lat - v.dx / 2, -90), greatest(v.lon - v.dx, -180),
                                          least(v.lat + v.dx / 2, 90), least(v.lon + v.dx, 180),
                                          geohash_precision_for_zoom(:z)))) s;
