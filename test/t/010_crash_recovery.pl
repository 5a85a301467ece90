# Crash recovery: a bulk load into a table with an index of every quadkey and geohash operator
# class (whatever pg_opclass lists) is cut short twice, and what WAL replay rebuilds is checked.
#
#   round 1  an immediate stop in the middle of the load (the whole server dies without a
#            checkpoint), then the server is started again and replays the WAL
#   round 2  the loading backend is killed with SIGKILL: the postmaster kills every other
#            backend, replays the WAL and reopens (restart_after_crash), on top of round 1
#
# The load commits every batch of 1000 rows in its own transaction, which also records the
# batch in rel_batches (a DO block that COMMITs in its loop). After each round:
#
#   batches     every batch whose commit the loader reported (a NOTICE after each COMMIT) is
#               there; every committed batch has all its rows; no row of an uncommitted batch
#   amcheck     bt_index_check(heapallindexed) and bt_index_parent_check on every btree
#   index = seq GEOCLUSTER_CRASH_QUERIES random queries per cell column through each index
#               alone equal the sequential scan (lib_reliability/lib.sql, rel.check_indexes);
#               after round 2 the recovered indexes first take one more batch
#
# The crashes are of the server's processes, not of the machine: the kernel keeps what was
# written, so fsync = off (PostgreSQL::Test::Cluster's) does not matter here.
#
#   GEOCLUSTER_CRASH_QUERIES   random queries per column after each round (default 500)
#   GEOCLUSTER_CRASH_BATCHES   committed batches to wait for before a crash (default 8)
#   GEOCLUSTER_CRASH_CONF      extra postgresql.conf lines, `;`-separated (for the check that
#                              the test fails: synchronous_commit = off; wal_writer_delay = 10s)
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $queries = $ENV{GEOCLUSTER_CRASH_QUERIES} // 500;
my $min_batches = $ENV{GEOCLUSTER_CRASH_BATCHES} // 8;
my $db = 'crash';
my $tbl = 'crash_markers';

my $node = geocluster_node('crash', 'restart_after_crash = on',
	split /;/, $ENV{GEOCLUSTER_CRASH_CONF} // '');
create_database($node, $db, 'geocluster', 'amcheck');
$node->safe_psql($db, "\\i $LIB/lib.sql");
# Indexes on the empty table: the loads grow them by inserts, each one WAL-logged.
$node->safe_psql($db, "SELECT rel.create_markers('$tbl')");
note("indexes:\n" . $node->safe_psql($db, "SELECT rel.create_indexes('$tbl')"));
$node->safe_psql($db, 'CREATE TABLE rel_batches (batch int PRIMARY KEY, n int NOT NULL)');

# The load: batches of 1000 rows, each committed with its rel_batches row. The client hears of
# each commit at once (a NOTICE right after COMMIT): what it heard of must survive the crash.
my @loads;    # the loaders' output, every round
sub start_load
{
	my ($first) = @_;
	my $out = '';
	push @loads, \$out;
	my $sql = <<SQL;
SET application_name = 'geocluster_crash_loader';
DO \$\$
BEGIN
    FOR b IN $first..$first + 100000 LOOP
        INSERT INTO rel_batches VALUES (b, rel.add_markers('$tbl', 1000, b));
        COMMIT;
        RAISE NOTICE 'committed batch %', b;
    END LOOP;
END \$\$;
SQL
	return IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr($db), '-v', 'ON_ERROR_STOP=1' ],
		'<', \$sql, '>', \$out, '2>&1');
}

# Waits until at least $target batches have committed, then a random 0-0.9 s so that the crash
# lands at any point of a batch.
sub wait_batches
{
	my ($loader, $target) = @_;
	my $deadline = time + 120;
	while (time < $deadline)
	{
		my ($rc, $n) = $node->psql($db, 'SELECT count(*) FROM rel_batches');
		if ($rc == 0 && $n >= $target)
		{
			sleep(int(rand(10)) / 10);
			return 1;
		}
		$loader->pump_nb;
		return 0 unless $loader->pumpable;
		sleep 0.2;
	}
	return 0;
}

sub check_round
{
	my ($round) = @_;
	if (!$node->poll_query_until('postgres', 'SELECT true'))
	{
		fail("$round: the server did not come back");
		return;
	}
	my @redo = map { /(redo (?:starts|done) at [0-9A-F\/]+)/ ? $1 : () } split /\n/, slurp_file($node->logfile);
	pass("$round: server back, " . join(', ', @redo[-2 .. -1]));
	my ($committed, $incomplete, $orphans) = split /\|/, $node->safe_psql($db, <<SQL);
SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
SELECT (SELECT count(*) FROM rel_batches),
       (SELECT count(*) FROM rel_batches b
         WHERE b.n <> 1000 OR b.n <> (SELECT count(*) FROM $tbl m WHERE m.batch = b.batch)),
       (SELECT count(*) FROM $tbl m WHERE m.batch IS NOT NULL
           AND NOT EXISTS (SELECT FROM rel_batches b WHERE b.batch = m.batch));
SQL
	ok($committed >= $min_batches && $incomplete == 0 && $orphans == 0,
		"$round: $committed committed batches all complete, no row of an uncommitted batch")
	  or diag("committed $committed (need >= $min_batches), incomplete $incomplete, rows of uncommitted batches $orphans");
	# Durability: every batch whose commit the loader reported is there.
	my @heard = map { /committed batch (\d+)/g } map { $$_ } @loads;
	my $lost = @heard ? $node->safe_psql($db,
		'SELECT string_agg(b::text, \',\') FROM unnest(\'{' . join(',', @heard) . '}\'::int[]) b
          WHERE NOT EXISTS (SELECT FROM rel_batches r WHERE r.batch = b)') : '';
	ok(@heard && $lost eq '', "$round: all " . scalar(@heard) . ' batches whose commit the client saw survived')
	  or diag("batches whose commit the client saw are lost: $lost (heard of: " . join(',', @heard) . ')');
	$node->safe_psql($db, "ANALYZE $tbl; SELECT rel.make_queries('$tbl', $queries)");
	index_checks($node, $db, $tbl, $round);
	return;
}

my $start = time;
# A checkpoint now: everything the loads write is then replayed from WAL after the crash.
$node->safe_psql('postgres', 'CHECKPOINT');

note('round 1: an immediate stop during the load');
my $loader = start_load(1);
if (wait_batches($loader, $min_batches))
{
	$node->stop('immediate');
	$loader->finish;
	$node->start;
	check_round('round 1');
}
else
{
	fail("round 1: the load did not reach $min_batches batches");
	diag(${ $loads[-1] });
	$loader->kill_kill;
}

note('round 2: SIGKILL of the loading backend');
my $before = $node->safe_psql($db, 'SELECT coalesce(max(batch), 0) FROM rel_batches');
$loader = start_load($before + 1);
if (wait_batches($loader, $before + $min_batches))
{
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = 'geocluster_crash_loader'");
	my $log_from = log_offset($node);
	if ($pid && kill('KILL', $pid))
	{
		$loader->finish;
		sleep 1;
		$node->poll_query_until('postgres', 'SELECT true');
		# The recovered indexes take more rows before they are checked.
		my ($rc, $out, $err) = $node->psql($db,
			"INSERT INTO rel_batches SELECT b, rel.add_markers('$tbl', 1000, b) FROM (SELECT max(batch) + 1 AS b FROM rel_batches) x");
		diag("round 2: insert after recovery: $err") if $rc;
		like(log_since($node, $log_from), qr/was terminated by signal 9/,
			"round 2: the postmaster saw backend $pid killed and reinitialised");
		check_round('round 2');
	}
	else
	{
		fail('round 2: no loading backend to kill');
		$loader->kill_kill;
	}
}
else
{
	fail("round 2: the load did not reach $min_batches more batches");
	diag(${ $loads[-1] });
	$loader->kill_kill;
}

# A clean restart once more, and the server answers.
$node->restart;
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server healthy after a clean restart');
note(sprintf('%.0f s', time - $start));
$node->stop;
done_testing();
