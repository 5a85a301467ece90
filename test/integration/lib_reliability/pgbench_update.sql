-- test/t/020_concurrency.pl: move one marker (new position, new cells at new levels: every index
-- gets a new entry), or every marker of a small quadkey cell found through an index. REPEATABLE
-- READ, so that two sessions moving the same marker meet a serialisation failure, which pgbench
-- retries.
\set r random(1, :maxid)
\set z random(13, 20)
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE rel_markers m
   SET lat = p.lat, lon = p.lon,
       qk = quadkey(p.lat, p.lon, rel.random_level(29)), gh = geohash(p.lat, p.lon, rel.random_level(12))
  FROM rel.point(:r) p
 WHERE m.id = (SELECT id FROM rel_markers WHERE id >= :r ORDER BY id LIMIT 1);
UPDATE rel_markers m
   SET gh = geohash(m.lat, m.lon, rel.random_level(12))
 WHERE m.qk <@ (SELECT quadkey(p.lat, p.lon, :z) FROM rel.point(:z) p);
COMMIT;
