-- test/t/020_concurrency.pl: delete up to 3 markers of a random geohash cell (found through an
-- index) and one by id; the ledger takes the count of deleted rows in the same transaction.
\set r random(1, :maxid)
\set p random(3, 7)
BEGIN ISOLATION LEVEL REPEATABLE READ;
WITH d AS (
    DELETE FROM rel_markers
     WHERE id IN (SELECT id FROM rel_markers
                   WHERE gh <@ (SELECT geohash(p.lat, p.lon, :p) FROM rel.point(:p) p) LIMIT 3)
        OR id = :r
    RETURNING 1)
INSERT INTO rel_ledger (op, delta) SELECT 'delete', -count(*) FROM d;
COMMIT;
