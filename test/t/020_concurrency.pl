# Concurrency: pgbench clients insert, move and delete markers and run viewport cluster_agg
# queries on one table that has an index of every operator class of quadkey and geohash
# (whatever pg_opclass lists, so new classes join automatically), while VACUUM runs every
# second beside them. Afterwards:
#
#   pgbench        every transaction committed, or failed only on a serialisation failure or
#                  deadlock (REPEATABLE READ moves and deletes; pgbench retries them); the
#                  viewport queries' own check (cluster counts add up to the rows) never raised
#   server log     no ERROR but those, no crash
#   row count      rows = inserts - deletes, as the ledger written in the same transactions says
#   amcheck        bt_index_check(heapallindexed) and bt_index_parent_check(rootdescend) on
#                  every btree
#   index = seq    GEOCLUSTER_CONCURRENCY_QUERIES random queries per cell column (<@ @> && =,
#                  mixed levels) through each index alone, as index scans and as bitmap scans,
#                  equal the sequential scan (lib_reliability/lib.sql, rel.check_indexes)
#
# The pgbench scripts are lib_reliability/pgbench_*.sql.
#
#   GEOCLUSTER_CONCURRENCY_SECONDS  pgbench duration (default 15; the long form is 60)
#   GEOCLUSTER_CONCURRENCY_CLIENTS  pgbench clients (default 8)
#   GEOCLUSTER_CONCURRENCY_ROWS     markers loaded before (default 20000)
#   GEOCLUSTER_CONCURRENCY_QUERIES  random queries per column afterwards (default 1000)
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $seconds = $ENV{GEOCLUSTER_CONCURRENCY_SECONDS} // 15;
my $clients = $ENV{GEOCLUSTER_CONCURRENCY_CLIENTS} // 8;
my $rows = $ENV{GEOCLUSTER_CONCURRENCY_ROWS} // 20000;
my $queries = $ENV{GEOCLUSTER_CONCURRENCY_QUERIES} // 1000;
my $db = 'concurrency';

my $node = geocluster_node('concurrency');
create_database($node, $db, 'geocluster', 'amcheck');
# The indexes are built on the loaded table (sorted builds where the class can), then grow
# under the concurrent writers.
$node->safe_psql($db, "\\i $LIB/lib.sql\n" . <<SQL);
SELECT rel.create_markers('rel_markers');
CREATE TABLE rel_ledger (op text NOT NULL, delta bigint NOT NULL);
INSERT INTO rel_ledger SELECT 'load', rel.add_markers('rel_markers', $rows);
SQL
note("indexes:\n" . $node->safe_psql($db, "SELECT rel.create_indexes('rel_markers')"));
$node->safe_psql($db, 'VACUUM ANALYZE rel_markers');

# Only what this run adds to the server log is read afterwards.
my $log_from = log_offset($node);

my ($bench_out, $bench_err) = ('', '');
my $start = time;
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', $clients, '-j', 2, '-T', $seconds,
		'-M', 'prepared', '--max-tries=20', '--failures-detailed',
		'-D', 'maxid=' . ($rows * 2),
		'-f', "$LIB/pgbench_insert.sql\@4", '-f', "$LIB/pgbench_update.sql\@3",
		'-f', "$LIB/pgbench_delete.sql\@2", '-f', "$LIB/pgbench_viewport.sql\@3",
		'-h', $node->host, '-p', $node->port, $db
	],
	'>', \$bench_out, '2>&1');
# VACUUM beside the writers: index bulk-delete and cleanup (BRIN summarisation too) race the
# inserts and the scans.
my $vacuums = 0;
while (time < $start + $seconds)
{
	$vacuums++ if $node->psql($db, 'VACUUM rel_markers') == 0;
	sleep 1;
}
my $rc = $bench->finish ? 0 : ($bench->result // 1);
note(join("\n", grep { !/^(pgbench \(|transaction type|scaling factor|query mode|number of threads|maximum number of tries|duration|initial connection time|tps =)/ }
	  split /\n/, $bench_out));
note(sprintf('VACUUM runs beside: %d, %.0f s', $vacuums, time - $start));

sub num
{
	my ($what) = @_;
	return $bench_out =~ /^$what: *(\d+)/m ? $1 : undef;
}
my $processed = num('number of transactions actually processed');
my $failed = num('number of failed transactions');
my $serial = num('number of serialization failures') // 0;
my $deadlock = num('number of deadlock failures') // 0;
ok( $rc == 0 && ($processed // 0) > 0 && defined $failed && $failed == $serial + $deadlock
	  && $bench_out !~ /aborted|error/i,
	sprintf('pgbench: %s transactions, %s retried (%s retries), %s failed after retries (serialisation %s, deadlock %s)',
		$processed // '?', num('number of transactions retried') // 0, num('total number of retries') // 0,
		$failed // '?', $serial, $deadlock))
  or diag("exit $rc\n" . join("\n", head_of(10, grep { /aborted|error/i } split /\n/, $bench_out)));

my $log = log_since($node, $log_from);
my @unexpected = grep { !/could not serialize access|deadlock detected|canceling autovacuum task/ }
  grep { /ERROR:|PANIC:|FATAL:|terminated by signal|was terminated|server process/ } split /\n/, $log;
my $expected_errors = () = $log =~ /could not serialize access|deadlock detected/g;
ok(!@unexpected, "server log: no errors but $expected_errors serialisation failures/deadlocks, no crash")
  or diag(join("\n", head_of(10, @unexpected)));

my ($count, $sum) = split /\|/, $node->safe_psql($db, 'SELECT (SELECT count(*) FROM rel_markers), (SELECT sum(delta) FROM rel_ledger)');
is($count, $sum, "row count $count = inserts - deletes ("
	  . $node->safe_psql($db, "SELECT string_agg(op || ' ' || abs(s), ', ' ORDER BY op) FROM (SELECT op, sum(delta) s FROM rel_ledger GROUP BY op) x")
	  . ')');

$node->safe_psql($db, "SELECT rel.make_queries('rel_markers', $queries)");
index_checks($node, $db, 'rel_markers', 'after pgbench');
note(sprintf('%.0f s since pgbench started', time - $start));

$node->stop;
done_testing();
