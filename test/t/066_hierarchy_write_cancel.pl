# Writes to a hierarchy's source under cancellation (issue 17): a cancelled statement must leave
# the hierarchy it found, exactly, and the backend able to go on.
#   - 100 statement_timeouts in ONE session, at moments spread over 3%..85% of an uninterrupted
#     run, cycling through a bulk INSERT, UPDATE (positions) and DELETE on a table of 100,000
#     markers with a hierarchy whose blocks carry deltas, so that they land in every phase of
#     the write trigger (the transition tables read, the writes put in order, the core's update,
#     the blocks encoded and written back); each inside BEGIN ... ROLLBACK, so that one that
#     outruns its timeout changes nothing either;
#   - a writer and a compaction waiting for the writers' lock (another session holds a write
#     open) are cancelled by statement_timeout, and lock_timeout gives 55P03.
# Checks:
#   - every iteration ends with 57014 (at most 10 outrun their timeout), promptly: at most
#     300 ms past the timeout (a write polls between its steps, its batches within them; a
#     chunk of 4,000 writes here takes about 500 ms, so a chunk that polls only between
#     statements' chunks fails this);
#   - the backend's memory contexts grow by at most 1 MB over the loop, its RssAnon by at most
#     32 MB over the last 50 iterations;
#   - the hierarchy's tables (blocks, deltas, members, slot counters) and its viewports are
#     exactly those before the loop;
#   - writes after the loop are counted at every zoom and every guarantee holds;
#   - no crashed backend in the server log.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $db = 'hier_write_cancel';
my $max_delay_ms = 300;
my $node = geocluster_node('hier_write_cancel');
create_database($node, $db, 'geocluster');
my $start = time;
note('data: 100,000 markers (cities and a sparse world), a hierarchy, 300 single-row writes');
$node->safe_psql($db, <<'SQL');
SET client_min_messages = warning;
SELECT setseed(0.47);
CREATE TABLE w AS
  SELECT g::bigint AS id,
         CASE WHEN g % 4 = 0 THEN random() * 170 - 85 ELSE (g % 37) * 4.0 - 70 + random() * 0.5 END AS lat,
         CASE WHEN g % 4 = 0 THEN random() * 360 - 180 ELSE (g % 53) * 6.5 - 170 + random() * 0.5 END AS lon
    FROM generate_series(1, 100000) g;
ALTER TABLE w ADD PRIMARY KEY (id);
SELECT cluster_hierarchy_create('w', 'lat', 'lon', 'id', 60, 16);
SQL
# Committed one by one: they leave deltas on the large blocks, which the cancelled writes read.
$node->safe_psql($db, <<'SQL');
DO $$ BEGIN
  FOR i IN 1..300 LOOP
    INSERT INTO w VALUES (1000000 + i, (i % 37) * 4.0 - 70 + 0.25, (i % 53) * 6.5 - 170 + 0.25);
    COMMIT;
  END LOOP;
END $$;
SQL
my $deltas = $node->safe_psql($db, 'SELECT count(*) FROM w_clusters WHERE delta IS NOT NULL');
ok($deltas > 0, "the hierarchy's blocks carry deltas before the loop ($deltas rows)");
note(sprintf('%.0f s', time - $start));
my $log_from = log_offset($node);

# What must not change: every row of the hierarchy's tables, and its viewports.
my $state_sql = <<'SQL';
SELECT md5(string_agg(b::text, ',' ORDER BY band, block)) FROM w_clusters b;
SELECT md5(string_agg(m::text, ',' ORDER BY block)) FROM w_clusters_members m;
SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY band, block), '')) FROM w_clusters_slots s;
SELECT md5(string_agg(v::text, ',')) FROM generate_series(0, 16, 4) z,
       LATERAL cluster_viewport('w_clusters', -85, -180, 85, 180, z) v;
SQL
my $state_before = $node->safe_psql($db, $state_sql);

my %kind_sql = (
	insert => 'INSERT INTO w SELECT id + 2000000, lat + 0.003, lon - 0.002 FROM w WHERE id % 8 = 1;',
	update => 'UPDATE w SET lat = lat + 0.002, lon = lon + 0.001 WHERE id % 8 = 2;',
	delete => 'DELETE FROM w WHERE id % 8 = 3;');

note('calibration (uninterrupted runs, rolled back)');
my %dur;
for my $k (sort keys %kind_sql)
{
	for (1 .. 2)
	{
		my (undef, $out) = $node->psql($db, "SET jit = off;\n\\timing on\nBEGIN;\n$kind_sql{$k}\nROLLBACK;");
		my @t = $out =~ /^Time: ([0-9.]+)/mg;
		my $ms = @t >= 3 ? int($t[-2]) : 0;
		$dur{$k} = $ms if !defined $dur{$k} || $ms < $dur{$k};
	}
	note("$k: $dur{$k} ms");
	fail("$k runs only $dur{$k} ms: too short to cancel in its phases") if $dur{$k} < 200;
}

my @script = ('\set VERBOSITY sqlstate', 'SET jit = off;', 'SELECT pg_backend_pid() AS pid0 \gset',
	# Warm-up: each kind once to the end, so that the memory compared below is that of a backend
	# which has loaded everything once.
	map { "BEGIN; $kind_sql{$_} ROLLBACK;" } sort keys %kind_sql);
push @script, cancel_loop_lines(
	cycle => [qw(insert update delete)],
	dur => \%dur,
	before => sub { 'BEGIN;' },
	query => sub { $kind_sql{ $_[0] } },
	reset => 'ROLLBACK;');
push @script, "SELECT 'same_backend ' || (pg_backend_pid() = :pid0);";
my $t_loop = time;
my (undef, $out, $err) = $node->psql($db, join("\n", @script), on_error_stop => 0);
note(sprintf('%.0f s', time - $t_loop));

phase_cancel_verdicts($out, $err, \%dur, $max_delay_ms);
memory_verdicts($out, 32 * 1024);
ok($out =~ /^same_backend true$/m, 'the same backend served the whole loop') or diag(substr($out, -300));
is($node->safe_psql($db, $state_sql), $state_before,
	'after the cancelled writes: the same blocks, deltas, members, slot counters and viewports');

note('cancelled while waiting for the writers\' lock');
# Another session holds a write open (the writers' lock) for up to 60 s.
my ($hin, $hout, $herr) = ('', '', '');
my $holder = IPC::Run::start(
	[ $node->installed_command('psql'), '-XAtq', '-d', $node->connstr($db), '-c',
		"BEGIN; INSERT INTO w VALUES (3000000, 10, 10); SELECT pg_sleep(60); COMMIT;" ],
	'<', \$hin, '>', \$hout, '2>', \$herr);
$node->poll_query_until($db,
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = '$db' AND query LIKE 'BEGIN; INSERT INTO w VALUES (3000000%' AND wait_event = 'PgSleep'")
  or die 'the holding session did not start';
my (undef, $wout) = $node->psql($db, <<'SQL', on_error_stop => 0);
\set VERBOSITY sqlstate
SET statement_timeout = 300;
SELECT clock_timestamp() AS t0 \gset
INSERT INTO w VALUES (3000001, 11, 11);
SELECT 'insert ' || :'SQLSTATE' || ' ' || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);
SELECT clock_timestamp() AS t0 \gset
SELECT cluster_hierarchy_compact('w_clusters');
SELECT 'compact ' || :'SQLSTATE' || ' ' || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);
RESET statement_timeout;
SET lock_timeout = 300;
DELETE FROM w WHERE id = 1;
SELECT 'lock_timeout ' || :'SQLSTATE';
SQL
for my $k (qw(insert compact))
{
	my ($state, $ms) = $wout =~ /^$k (\S+) (\d+)$/m ? ($1, $2) : ('?', -1);
	ok($state eq '57014' && $ms >= 300 && $ms <= 300 + $max_delay_ms,
		"$k waiting for the writers' lock: $state after $ms ms (statement_timeout 300 ms)")
	  or diag($wout);
}
like($wout, qr/^lock_timeout 55P03$/m, "a delete waiting for the writers' lock: 55P03 at lock_timeout");
$node->safe_psql($db,
	"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND wait_event = 'PgSleep'");
$holder->finish;
is($node->safe_psql($db, 'SELECT count(*) FROM w WHERE id >= 3000000'), '0',
	'the holding session and the waiting ones left no row');
is($node->safe_psql($db, $state_sql), $state_before,
	'after the cancelled waits: the same blocks, deltas, members, slot counters and viewports');

note('writes after the cancellations');
$node->safe_psql($db, join("\n", map { $kind_sql{$_} =~ s/% 8 =/% 64 =/r } sort keys %kind_sql));
hierarchy_world_counts($node, $db, 'w_clusters', 'w', 'after the loop and committed writes');
hierarchy_guarantees($node, $db, 'w_clusters', 'after the loop and committed writes');

my @crashes = crash_lines(log_since($node, $log_from));
ok(!@crashes, 'no crashed backend in the server log') or diag(join("\n", head_of(5, @crashes)));
note(sprintf('total %.0f s', time - $start));

$node->stop;
done_testing();
