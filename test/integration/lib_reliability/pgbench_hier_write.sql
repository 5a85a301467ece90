-- test/t/063_hierarchy_writes.pl: one writer's transaction on a source with a cluster hierarchy,
-- drawn among a single-row INSERT (4 in 10), a move of one marker (3 in 10, one in three of
-- them across the antimeridian or over a pole), a DELETE of one marker (2 in 10) and a bulk
-- INSERT ... SELECT of 2-20 markers (1 in 10). Positions: half anywhere, half near a few
-- places (Fiji straddles the antimeridian). :maxid bounds the ids the moves and deletes aim at.
\set op random(1, 10)
\set r random(1, :maxid)
\set near random(0, 1)
\set c random(0, 3)
\set lat random(-850000, 850000) / 10000.0
\set lon random(-1800000, 1800000) / 10000.0
\set k random(2, 20)
\if :near
\set lat case when :c = 0 then -17.7 when :c = 1 then 48.85 when :c = 2 then 89.9 else -33.87 end + random(-3000, 3000) / 10000.0
\set lon case when :c = 0 then 179.99 when :c = 1 then 2.35 when :c = 2 then :lon else 151.2 end + random(-3000, 3000) / 10000.0
\endif
\if :op <= 4
INSERT INTO wm (id, lat, lon, cat) VALUES (nextval('wm_id'), greatest(-90, least(90, :lat)), greatest(-180, least(180, :lon)), 'c' || :c % 3);
\elif :op <= 7
UPDATE wm SET lat = greatest(-90, least(90, :lat)),
              lon = CASE WHEN :r % 3 = 0 THEN -sign(lon) * (179.9 + random() * 0.1) ELSE greatest(-180, least(180, :lon)) END
 WHERE id = (SELECT id FROM wm WHERE id >= :r ORDER BY id LIMIT 1);
\elif :op <= 9
DELETE FROM wm WHERE id = (SELECT id FROM wm WHERE id >= :r ORDER BY id LIMIT 1);
\else
INSERT INTO wm (id, lat, lon, cat)
SELECT nextval('wm_id'), greatest(-90, least(90, :lat + random() - 0.5)), greatest(-180, least(180, :lon + random() - 0.5)), 'c' || g % 3
  FROM generate_series(1, :k) g;
\endif
