# Writes to the source of a cluster hierarchy (issue 17), in the server's life cycle:
#
#   dump     pg_dump / pg_restore of a database with two hierarchies (one per partition value):
#            the restored hierarchies pass every guarantee, then take writes (INSERT, UPDATE
#            of position, id and partition value, DELETE, COPY) and still pass
#   load     8 pgbench writer clients (lib_reliability/pgbench_hier_write.sql: single-row
#            inserts, moves across the antimeridian and over a pole, deletes, small bulk
#            inserts) and 4 reader clients (pgbench_hier_read.sql: within one REPEATABLE READ
#            snapshot, the world's clusters count every row, and a box's clusters count exactly
#            their members' rows) for GEOCLUSTER_WRITES_SECONDS; failed transactions are counted
#            by SQLSTATE (the server log's, log_line_prefix %e): none but retried 40001/40P01
#   crash    the writers again on the loaded table, an immediate stop in the middle, a start:
#            the hierarchy passes every guarantee against the recovered rows
#   after each of load and crash: every guarantee (test/integration/hierarchy_checks.py, run
#            with the node's connstr; conservation per zoom and partition = the rows), the
#            world's clusters at every zoom = count(*), the clusters per zoom against a fresh
#            build (reported), and amcheck (bt_index_check with heapallindexed, and
#            bt_index_parent_check) on every index of the hierarchy's tables and the source
#
# Until writes are maintained, the source refuses them (0A000): each part then fails on its
# first write, with the refusal in the diagnostics. GEOCLUSTER_WRITES_BARE=1 runs the same load
# and crash with no hierarchy (the readers check cluster_agg instead), which proves the harness.
# The issue's 60 s on 1M rows is a benchmark (bench/), not this test.
# Compaction (cluster_hierarchy_compact) and its pg_cron schedule: 064_hierarchy_compact_cron.pl.
# The checks (guarantees, world counts, amcheck) are GeoclusterTest's, shared with it.
#
#   GEOCLUSTER_WRITES_SECONDS    pgbench duration of the load (default 20)
#   GEOCLUSTER_WRITES_TAP_ROWS   rows of the loaded table (default 20000)
#   GEOCLUSTER_WRITES_BARE       1: no hierarchy (the harness alone)
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $seconds = $ENV{GEOCLUSTER_WRITES_SECONDS} // 20;
my $rows = $ENV{GEOCLUSTER_WRITES_TAP_ROWS} // 20000;
my $bare = $ENV{GEOCLUSTER_WRITES_BARE} // 0;
my $db = 'writes';

my $node = geocluster_node('hier_writes', "log_line_prefix = '%m [%p] %e '");

# ---- dump: pg_dump / pg_restore, then writes on the restored copy ------------------------------
SKIP:
{
	skip 'GEOCLUSTER_WRITES_BARE: no hierarchy to dump', 7 if $bare;
	create_database($node, 'dsrc', 'geocluster');
	$node->safe_psql('dsrc', q{
SET client_min_messages = warning;
CREATE TABLE dm (id bigint PRIMARY KEY, lat float8, lon float8, cat text NOT NULL, note text);
SELECT setseed(0.17);
INSERT INTO dm SELECT g, CASE WHEN g % 7 = 0 THEN 89.9 - random() ELSE random() * 170 - 85 END,
                      CASE WHEN g % 5 = 0 THEN (179.5 + random() * 0.5) * (1 - 2 * (g % 2)) ELSE random() * 360 - 180 END,
                      'c' || g % 3, NULL
  FROM generate_series(1, 2000) g;
SELECT cluster_hierarchy_create('dm', 'lat', 'lon', 'id', 60, 12);
SELECT cluster_hierarchy_create('dm', 'lat', 'lon', 'id', 80, 10, 'cat');});
	my $dump = PostgreSQL::Test::Utils::tempdir() . '/writes.dump';
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'pg_dump', '-Fc', '-d', $node->connstr('dsrc'), '-f', $dump ], '>', \$out, '2>', \$err);
	ok($ok && $err eq '', 'dump: pg_dump -Fc') or diag($err);
	$node->safe_psql('postgres', 'CREATE DATABASE ddst');
	$ok = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('ddst'), $dump ], '>', \$out, '2>', \$err);
	ok($ok && $err eq '', 'dump: pg_restore') or diag($err);
	hierarchy_guarantees($node, 'ddst', $_, 'dump: restored', 1) for qw(dm_clusters dm_clusters_2);

	my ($rc, $stdout, $stderr) = $node->psql('ddst', q{
\set ON_ERROR_STOP 1
INSERT INTO dm VALUES (100001, 10, 179.99, 'c1', NULL), (100002, -89.9, 0, 'c2', NULL);
UPDATE dm SET lon = -lon WHERE id % 50 = 0;
UPDATE dm SET lat = 89.9 WHERE id % 77 = 1;
UPDATE dm SET id = id + 200000 WHERE id % 61 = 0;
UPDATE dm SET cat = 'c0' WHERE id % 43 = 2;
UPDATE dm SET note = 'other column' WHERE id % 3 = 0;
DELETE FROM dm WHERE id % 11 = 0;
COPY dm FROM stdin;
100003	45	-179.99	c0	\N
100004	-45	179.99	c2	\N
\.
BEGIN; INSERT INTO dm VALUES (100005, 1, 1, 'c0', NULL); SAVEPOINT s; DELETE FROM dm WHERE id < 100; ROLLBACK TO s; COMMIT;
});
	ok($rc == 0, 'dump: the restored source takes writes (insert, moves, id, partition value, delete, COPY, savepoint)')
	  or diag($stderr);
	hierarchy_guarantees($node, 'ddst', $_, 'dump: restored and written', 1) for qw(dm_clusters dm_clusters_2);
}

# ---- load: 8 writers and 4 readers ------------------------------------------------------------
create_database($node, $db, 'geocluster', 'amcheck');
$node->safe_psql($db, qq{
SET client_min_messages = warning;
CREATE FUNCTION wm_assert(ok boolean, msg text) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    IF ok IS NOT TRUE THEN RAISE EXCEPTION 'check failed: %', msg; END IF;
END \$\$;
CREATE TABLE wm (id bigint PRIMARY KEY, lat float8, lon float8, cat text NOT NULL, note text);
SELECT setseed(0.42);
INSERT INTO wm SELECT g, CASE WHEN g % 2 = 0 THEN random() * 170 - 85 ELSE 48.85 + random() - 0.5 END,
                      CASE WHEN g % 2 = 0 THEN random() * 360 - 180 WHEN g % 3 = 0 THEN 179.9 + random() * 0.1 - (g % 5 = 0)::int * 359.9
                           ELSE 2.35 + random() - 0.5 END, 'c' || g % 3, NULL
  FROM generate_series(1, $rows) g;
CREATE SEQUENCE wm_id START @{[ $rows + 1 ]};
});
$node->safe_psql($db, "SELECT cluster_hierarchy_create('wm', 'lat', 'lon', 'id', 60, 14)") unless $bare;
$node->safe_psql($db, 'VACUUM ANALYZE wm');
my $h = $bare ? '' : 'wm_clusters';
hierarchy_guarantees($node, $db, $h, 'before the load') unless $bare;

# pgbench with the given clients and script for $secs seconds, started in the background.
sub start_bench
{
	my ($clients, $script, $secs, $out) = @_;
	return IPC::Run::start(
		[
			'pgbench', '-n', '-c', $clients, '-j', 2, '-T', $secs, '--max-tries=20', '--failures-detailed',
			'-D', 'maxid=' . ($rows * 2), '-D', 'hier=' . ($bare ? 0 : 1),
			'-f', "$LIB/$script", '-h', $node->host, '-p', $node->port, $db
		],
		'>', $out, '2>&1');
}

sub bench_num
{
	my ($out, $what) = @_;
	return $out =~ /^$what: *(\d+)/m ? $1 : undef;
}

# One test per pgbench run: it ran transactions, and none failed but retried serialisation
# failures and deadlocks; the errors of the server log, by SQLSTATE, as a note.
sub bench_verdict
{
	my ($label, $rc, $out) = @_;
	my $processed = bench_num($out, 'number of transactions actually processed') // 0;
	my $failed = bench_num($out, 'number of failed transactions');
	my $serial = bench_num($out, 'number of serialization failures') // 0;
	my $deadlock = bench_num($out, 'number of deadlock failures') // 0;
	ok($rc == 0 && $processed > 0 && defined $failed && $failed == $serial + $deadlock && $out !~ /aborted|error/i,
		sprintf('%s: %d transactions, %s retried (%s retries), %s failed after retries (40001 %d, 40P01 %d)',
			$label, $processed, bench_num($out, 'number of transactions retried') // 0,
			bench_num($out, 'total number of retries') // 0, $failed // '?', $serial, $deadlock))
	  or diag("exit $rc\n" . join("\n", head_of(6, grep { /aborted|error/i } split /\n/, $out)));
	return;
}

# The ERRORs of a log text by SQLSTATE: 40001 and 40P01 are the retried ones; any other fails.
sub log_verdict
{
	my ($label, $text) = @_;
	my %by;
	for (split /\n/, $text)
	{
		$by{$1}++ if /\] (\w{5}) (?:ERROR|FATAL|PANIC):/;
	}
	my @other = grep { $_ ne '40001' && $_ ne '40P01' && $_ ne '57P01' } sort keys %by;
	ok(!@other, "$label: server log errors by SQLSTATE: " . (join(', ', map { "$_ $by{$_}" } sort keys %by) || 'none'))
	  or diag(join("\n", head_of(6, grep { /\] (?:\w{5}) (?:ERROR|FATAL|PANIC):/ && !/\] (?:40001|40P01) / } split /\n/, $text)));
	return;
}

my $log_from = log_offset($node);
my ($wout, $rout) = ('', '');
my $t0 = time;
my $writers = start_bench(8, 'pgbench_hier_write.sql', $seconds, \$wout);
my $readers = start_bench(4, 'pgbench_hier_read.sql', $seconds, \$rout);
my $wrc = $writers->finish ? 0 : ($writers->result // 1);
my $rrc = $readers->finish ? 0 : ($readers->result // 1);
note(sprintf('load: %.0f s', time - $t0));
bench_verdict('load: writers', $wrc, $wout);
bench_verdict('load: readers', $rrc, $rout);
log_verdict('load', log_since($node, $log_from));
unless ($bare)
{
	hierarchy_guarantees($node, $db, $h, 'after the load', 1);
	hierarchy_world_counts($node, $db, $h, 'wm', 'after the load');
}
hierarchy_amcheck($node, $db, $h, 'wm', 'after the load');

# ---- crash: an immediate stop in the middle of the writers --------------------------------------
my $before = $node->safe_psql($db, 'SELECT count(*) FROM wm');
$log_from = log_offset($node);
my $cout = '';
my $crash_writers = start_bench(8, 'pgbench_hier_write.sql', 120, \$cout);
# Wait for the writers to have written 200 rows, then a random 1-3 s more, so that the stop
# lands mid-load.
my $stat = "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'wm'";
my $base = $node->safe_psql($db, $stat);
my $deadline = time + 60;
while (time < $deadline && $crash_writers->pumpable)
{
	my ($rc, $n) = $node->psql($db, $stat);
	last if $rc == 0 && $n >= $base + 200;
	$crash_writers->pump_nb;
	sleep 0.2;
}
sleep(1 + int(rand(20)) / 10) if $crash_writers->pumpable;
my $writing = $crash_writers->pumpable;
$node->stop('immediate');
$crash_writers->finish;
$node->start;
ok($writing, 'crash: the writers were writing when the server stopped immediately')
  or diag(join("\n", head_of(6, grep { /aborted|error/i } split /\n/, $cout)));
like(slurp_file($node->logfile), qr/database system was not properly shut down; automatic recovery in progress/,
	'crash: the server recovered from WAL');
my $after = $node->safe_psql($db, 'SELECT count(*) FROM wm');
note("crash: $before rows before the writers, $after after recovery");
unless ($bare)
{
	hierarchy_guarantees($node, $db, $h, 'after the crash', 1);
	hierarchy_world_counts($node, $db, $h, 'wm', 'after the crash');
}
hierarchy_amcheck($node, $db, $h, 'wm', 'after the crash');

$node->stop;
done_testing();
