-- test/t/020_concurrency.pl: 1 to 20 new markers at mixed levels, counted into the ledger in the
-- same transaction.
\set n random(1, 20)
WITH ins AS (
    INSERT INTO rel_markers (lat, lon, qk, gh)
    SELECT p.lat, p.lon, quadkey(p.lat, p.lon, rel.random_level(29)), geohash(p.lat, p.lon, rel.random_level(12))
      FROM generate_series(1, :n) g, LATERAL rel.point(g) p
    RETURNING 1)
INSERT INTO rel_ledger (op, delta) SELECT 'insert', count(*) FROM ins;
