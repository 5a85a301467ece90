# A cluster hierarchy on a logical replication subscriber (issue 17: writes reach the hierarchy
# in the transaction that makes them, and it never goes stale silently):
#
#   setup    a publisher (wal_level = logical) with a plain table and a table range-partitioned
#            by id, 3,000 markers between them; a subscriber with the same tables, each with a
#            hierarchy built before the subscription exists
#   sync     CREATE SUBSCRIPTION copies the rows (a table synchronisation worker's COPY, which
#            fires the statement triggers): the subscriber's hierarchies count them, once
#   stream   the publisher inserts (one row, many rows), moves markers (across the antimeridian,
#            to a pole, into another partition), updates a column the hierarchy does not read,
#            deletes, in separate and combined transactions, and rolls one back; an apply worker
#            applies them row by row and fires no statement trigger, which is what the row
#            trigger _rep (ENABLE REPLICA) is for: after each catch-up the world's clusters at
#            every zoom count the subscriber's rows, and every guarantee holds
#   truncate a replicated TRUNCATE empties the hierarchy (the statement trigger, ENABLE ALWAYS),
#            and later rows are counted again
#   guard    ALTER TABLE ... DISABLE TRIGGER on the row trigger is refused like the others'
#   local    on the subscriber, a local write (not replicated) is counted once: the row trigger
#            does nothing outside an apply worker; amcheck is clean and no server crashed
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'geo';
my $pub = geocluster_node('hier_pub', 'wal_level = logical', 'max_wal_senders = 4', 'max_replication_slots = 4',
	"log_line_prefix = '%m [%p] %e '");
my $sub = geocluster_node('hier_sub', "log_line_prefix = '%m [%p] %e '");
my $sub_log = log_offset($sub);

my $tables = q{
CREATE TABLE lr (id bigint PRIMARY KEY, lat float8, lon float8, note text);
CREATE TABLE lp (id bigint PRIMARY KEY, lat float8, lon float8, note text) PARTITION BY RANGE (id);
CREATE TABLE lp1 PARTITION OF lp FOR VALUES FROM (MINVALUE) TO (100000);
CREATE TABLE lp2 PARTITION OF lp FOR VALUES FROM (100000) TO (MAXVALUE);};
for my $node ($pub, $sub) {
	create_database($node, $db, 'geocluster', 'amcheck');
	$node->safe_psql($db, $tables);
}
# Markers in three cities and across the world, ids 1..3000 (lp: odd ids, lr: even ones).
$pub->safe_psql($db, q{
INSERT INTO lr SELECT i, (ARRAY[48.85, -33.87, 35.68])[1 + i % 3] + sin(i) * 0.2,
                         (ARRAY[2.35, 151.2, 139.7])[1 + i % 3] + cos(i) * 0.2, 'a'
  FROM generate_series(2, 3000, 2) i;
INSERT INTO lp SELECT i, sin(i * 7) * 80, cos(i * 3) * 179.9, 'a' FROM generate_series(1, 2999, 2) i;
CREATE PUBLICATION geo_pub FOR TABLE lr, lp;});
$sub->safe_psql($db, q{
SELECT cluster_hierarchy_create('lr', 'lat', 'lon', 'id', 60, 16);
SELECT cluster_hierarchy_create('lp', 'lat', 'lon', 'id', 60, 16);});

my $row_triggers = $sub->safe_psql($db, q{
SELECT string_agg(tgrelid::regclass::text || ':' || tgname || ':' || tgenabled::text, ' '
                  ORDER BY tgrelid::regclass::text)
  FROM pg_trigger WHERE tgname LIKE '%\_rep'});
is($row_triggers, 'lp1:geocluster_lp_clusters_rep:R lp2:geocluster_lp_clusters_rep:R lr:geocluster_lr_clusters_rep:R',
	'the row trigger is ENABLE REPLICA on the plain table and on each partition, not on the partitioned one');

# What the subscriber's hierarchies must show, after every step.
sub check_subscriber
{
	my ($label) = @_;
	$pub->wait_for_catchup('geo_sub');
	my $rows = 'SELECT (SELECT count(*) FROM lr) || \'/\' || (SELECT count(*) FROM lp)';
	is($sub->safe_psql($db, $rows), $pub->safe_psql($db, $rows), "$label: the subscriber has the publisher's rows")
	  unless $label eq 'local writes';
	for my $t ('lr', 'lp') {
		hierarchy_world_counts($sub, $db, "${t}_clusters", $t, "$label, $t");
		hierarchy_guarantees($sub, $db, "${t}_clusters", "$label, $t");
	}
	return;
}

my $connstr = $pub->connstr($db) =~ s/'/''/gr;
$sub->safe_psql($db, "CREATE SUBSCRIPTION geo_sub CONNECTION '$connstr' PUBLICATION geo_pub");
$sub->wait_for_subscription_sync($pub, 'geo_sub', $db);
is($sub->safe_psql($db, 'SELECT (SELECT count(*) FROM lr) || \'/\' || (SELECT count(*) FROM lp)'), '1500/1500',
	'sync: the rows are copied');
check_subscriber('sync');

$pub->safe_psql($db, q{
INSERT INTO lr VALUES (5000, 48.8584, 2.2945, 'one');
INSERT INTO lp SELECT i, 48.85 + i * 1e-5, 2.35, 'many' FROM generate_series(5001, 5399, 2) i;
BEGIN;
UPDATE lr SET lon = -179.9999 WHERE id % 10 = 0;
UPDATE lp SET lat = 90 WHERE id % 7 = 0;
COMMIT;
UPDATE lp SET id = id + 200000 WHERE id BETWEEN 1 AND 300;
UPDATE lr SET note = 'b' WHERE id % 4 = 0;
DELETE FROM lr WHERE id % 6 = 0;
DELETE FROM lp WHERE id BETWEEN 2000 AND 2400;
BEGIN;
INSERT INTO lr VALUES (7000, 10, 10, 'rolled back');
ROLLBACK;});
check_subscriber('stream');
is($sub->safe_psql($db, 'SELECT count(*) FROM lr WHERE id = 7000'), '0', 'stream: the rolled-back row did not arrive');

$pub->safe_psql($db, 'TRUNCATE lr');
$pub->wait_for_catchup('geo_sub');
is($sub->safe_psql($db, q{SELECT coalesce(sum(count), 0) FROM cluster_viewport('lr_clusters', -90, -180, 90, 180, 0)}),
	'0', 'truncate: the hierarchy is emptied');
$pub->safe_psql($db, q{INSERT INTO lr SELECT i, -i * 0.01, i * 0.02, 'c' FROM generate_series(1, 300) i});
check_subscriber('after truncate');

my ($rc, $out, $err) = $sub->psql($db, 'ALTER TABLE lr DISABLE TRIGGER geocluster_lr_clusters_rep');
like($err, qr/must stay enabled/, 'guard: the row trigger cannot be disabled');
$sub->safe_psql($db, 'ALTER TABLE lr ENABLE TRIGGER geocluster_lr_clusters_rep');
is($sub->safe_psql($db, q{SELECT tgenabled FROM pg_trigger WHERE tgname = 'geocluster_lr_clusters_rep'}), 'R',
	'guard: a plain ENABLE of the row trigger is put back to ENABLE REPLICA');

$sub->safe_psql($db, q{INSERT INTO lr VALUES (900001, 1, 1, 'local'); DELETE FROM lp WHERE id = 3;});
check_subscriber('local writes');
hierarchy_amcheck($sub, $db, 'lr_clusters', 'lr', 'end');
is(join("\n", crash_lines(log_since($sub, $sub_log))), '', 'end: no crash in the subscriber log');
is(join("\n", grep { /ERROR/ && !/must stay enabled/ } split /\n/, log_since($sub, $sub_log)), '',
	'end: no ERROR in the subscriber log but the refused DISABLE');

$sub->safe_psql($db, 'DROP SUBSCRIPTION geo_sub');
$pub->stop;
$sub->stop;
done_testing();
