# Covers and index scans under cancellation, and the backend's memory (031_cluster_cancel.pl
# does the same for cluster_agg).
#
# 2,000,000 markers, a btree on qk, a GiST on qk2 (a copy of qk) and an SP-GiST on gh. Nine
# kinds of query, each over the whole table or a large part of it, each checked by EXPLAIN to
# run the plan it is meant to (an index kind that fell back to a sequential scan would test
# nothing):
#   cover_qk       quadkey_cover of a box around every row (sequential scan, serial)
#   cover_gh       geohash_cover of a box around every row
#   viewport_qk    qk <@ quadkey_cover(big box, 5): the planner support's ranges, bitmap scans of the btree
#   viewport_gh    gh <@ geohash_cover(big box, 2): the same over the SP-GiST
#   btree          qk <@ '0': index scan of the btree (a quarter of the rows)
#   gist           qk2 <@ '1': index scan of the GiST
#   gist_bitmap    qk2 <@ '2': bitmap scan of the GiST
#   spgist         gh <@ '': index scan of the SP-GiST (every row)
#   parallel_btree qk <@ '': parallel index scan of the btree, two workers
#
#  1. Plans: each kind runs the plan named above.
#  2. statement_timeout, 100 times in ONE session, the kinds in turn: every iteration ends with
#     SQLSTATE 57014; afterwards the same backend answers, and small queries of every kind give
#     the answers they gave before the loop; its memory contexts grow by at most 1 MB over the
#     100 iterations (pg_backend_memory_contexts, after a warm-up) and its anonymous resident
#     memory (RssAnon: a malloc leak the contexts cannot see) by at most 8 MB over the last 50.
#  3. The server did not crash or restart: pg_postmaster_start_time() is unchanged, and the
#     server log shows no crashed backend, PANIC or reinitialisation.
#
# Timeouts are calibrated on uninterrupted runs (capped at 2 s: a kind still running then takes
# at least ten times the longest timeout): for each kind, t = a third of its fastest run, at
# most 200 ms, and the timeouts are drawn from [t/4, t] (at least 10 ms), so that the query
# can run three times faster than when calibrated (the machine's load changes) and still be
# interrupted.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $db = 'cancel_scans';
my $node = geocluster_node('cancel_scans');
create_database($node, $db, 'geocluster');
my $start = time;
note('data: 2,000,000 markers, a btree, a GiST and an SP-GiST');
$node->safe_psql($db, <<'SQL');
SET client_min_messages = warning;
SELECT setseed(0.42);
CREATE UNLOGGED TABLE scan_markers AS
SELECT g::bigint AS id, lat, lon, quadkey(lat, lon, 18) AS qk, quadkey(lat, lon, 18) AS qk2,
       geohash(lat, lon, 9) AS gh
  FROM (SELECT g, random() * 170 - 85 AS lat, random() * 360 - 180 AS lon
          FROM generate_series(1, 2000000) g) s;
CREATE INDEX scan_markers_qk_btree ON scan_markers (qk);
CREATE INDEX scan_markers_qk2_gist ON scan_markers USING gist (qk2);
CREATE INDEX scan_markers_gh_spgist ON scan_markers USING spgist (gh);
VACUUM ANALYZE scan_markers;
SQL
note(sprintf('%.0f s', time - $start));
# Only what the checks add to the server log is read at the end.
my $log_from = log_offset($node);

my @kinds = qw(cover_qk cover_gh viewport_qk viewport_gh btree gist gist_bitmap spgist parallel_btree);
my $serial = 'SET max_parallel_workers_per_gather = 0;';
my $index_only = "$serial SET enable_seqscan = off; SET enable_bitmapscan = off;";
# Per kind: the settings (RESET ALL; SET jit = off ends every query of the session), the long
# query, a small query with the same plan whose answer must not change across the loop, and a
# line its plan must have.
my %kind = (
	cover_qk => [ $serial,
		'SELECT sum(cardinality(quadkey_cover(lat, lon, lat + 1, least(lon + 1, 180), 8))) FROM scan_markers',
		'SELECT sum(cardinality(quadkey_cover(lat, lon, lat + 1, least(lon + 1, 180), 8))) FROM scan_markers WHERE id <= 2000',
		'Seq Scan on scan_markers' ],
	cover_gh => [ $serial,
		'SELECT sum(cardinality(geohash_cover(lat, lon, lat + 1, least(lon + 1, 180), 4))) FROM scan_markers',
		'SELECT sum(cardinality(geohash_cover(lat, lon, lat + 1, least(lon + 1, 180), 4))) FROM scan_markers WHERE id <= 2000',
		'Seq Scan on scan_markers' ],
	viewport_qk => [ "$serial SET enable_seqscan = off;",
		'SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ quadkey_cover(-60, -170, 60, 170, 5)',
		'SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ quadkey_cover(40, -10, 50, 10, 7)',
		'Bitmap Index Scan on scan_markers_qk_btree' ],
	viewport_gh => [ "$serial SET enable_seqscan = off;",
		'SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ geohash_cover(-60, -170, 60, 170, 2)',
		'SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ geohash_cover(40, -10, 50, 10, 4)',
		'Bitmap Index Scan on scan_markers_gh_spgist' ],
	btree => [ $index_only,
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ '0'",
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ '0123'",
		'Index Scan using scan_markers_qk_btree' ],
	gist => [ $index_only,
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '1'",
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '1230'",
		'Index Scan using scan_markers_qk2_gist' ],
	gist_bitmap => [ "$serial SET enable_seqscan = off; SET enable_indexscan = off;",
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '2'",
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk2 <@ '2301'",
		'Bitmap Index Scan on scan_markers_qk2_gist' ],
	spgist => [ $index_only,
		"SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ ''",
		"SELECT count(*), sum(id) FROM scan_markers WHERE gh <@ 'u0'",
		'Index Scan using scan_markers_gh_spgist' ],
	parallel_btree => [
		'SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_index_scan_size = 0; SET max_parallel_workers_per_gather = 2; SET enable_seqscan = off; SET enable_bitmapscan = off;',
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ ''",
		"SELECT count(*), sum(id) FROM scan_markers WHERE qk <@ '3012'",
		'Parallel Index Scan using scan_markers_qk_btree' ]);

note('1. plans');
for my $k (@kinds)
{
	my ($settings, $query, undef, $want) = @{ $kind{$k} };
	my (undef, $plan, $err) = $node->psql($db, "SET jit = off; $settings EXPLAIN (COSTS OFF) $query");
	my $scans = () = $plan =~ /Scan (?:on|using) scan_markers/g;
	ok(index($plan, $want) >= 0 && ($k eq 'parallel_btree' || $plan !~ /Gather/), "$k: $want ($scans scan nodes)")
	  or diag("$plan$err");
}

note('calibration (uninterrupted runs, capped at 2 s)');
my $cap = 2000;
# Milliseconds a run of a kind takes, or the cap if it is still running then.
sub duration_ms
{
	my ($k) = @_;
	my ($settings, $query) = @{ $kind{$k} };
	my $t0 = time;
	my (undef, $out) = $node->psql($db, <<SQL,
SET jit = off;
$settings
\\set VERBOSITY sqlstate
SET statement_timeout = $cap;
$query \\g /dev/null
\\echo sqlstate :SQLSTATE
SQL
		on_error_stop => 0);
	my $ms = int((time - $t0) * 1000);
	return $out =~ /sqlstate 00000$/ ? $ms : $out =~ /sqlstate 57014$/ ? $cap : 0;
}
my (%dur, %tmin, %tmax);
for my $k (@kinds)
{
	# The fastest of three runs (a run slowed by a burst of load elsewhere would set timeouts
	# the query then outruns once the load is gone); one run when it reaches the cap.
	$dur{$k} = duration_ms($k);
	if ($dur{$k} < $cap)
	{
		for (1 .. 2)
		{
			my $d = duration_ms($k);
			$dur{$k} = $d if $d < $dur{$k};
		}
	}
	my $t = int($dur{$k} / 3);
	$t = 200 if $t > 200;
	$tmax{$k} = $t;
	$tmin{$k} = int($t / 4) < 10 ? 10 : int($t / 4);
	note(sprintf('%s: %s%d ms uninterrupted, timeouts %d..%d ms', $k, $dur{$k} >= $cap ? '>= ' : '', $dur{$k}, $tmin{$k}, $tmax{$k}));
	fail("$k runs only $dur{$k} ms: too short to interrupt reliably") if $tmax{$k} < 30;
}

note('2. 100 x statement_timeout in one session');
my $reset = 'RESET ALL; SET jit = off;';
my @script = ("\\set VERBOSITY sqlstate", $reset,
	'SELECT pg_backend_pid() AS pid0, pg_postmaster_start_time() AS pm0 \gset');
# probe answers before; then a warm-up: one interrupted query of each kind
push @script, $kind{$_}[0], "SELECT 'probe_before $_ ' || x::text FROM ($kind{$_}[2]) x;", $reset for @kinds;
push @script, $kind{$_}[0], "SET statement_timeout = $tmax{$_};", "$kind{$_}[1] \\g /dev/null", $reset for @kinds;
push @script, cancel_loop_lines(
	cycle => \@kinds,
	tmin => \%tmin,
	tmax => \%tmax,
	before => sub { $kind{ $_[0] }[0] },
	query => sub { "$kind{ $_[0] }[1] \\g /dev/null" },
	reset => $reset);
push @script, "SELECT 'same_backend ' || (pg_backend_pid() = :pid0);",
  "SELECT 'same_postmaster ' || (pg_postmaster_start_time() = :'pm0'::timestamptz);";
push @script, $kind{$_}[0], "SELECT 'probe_after $_ ' || x::text FROM ($kind{$_}[2]) x;", $reset for @kinds;
my $t_loop = time;
my (undef, $out) = $node->psql($db, join("\n", @script), on_error_stop => 0);
loop_verdicts($out, time - $t_loop, @kinds);
like($out, qr/^same_backend true$/m, 'the same backend still serves queries');
my @changed;
for my $k (@kinds)
{
	my ($b) = $out =~ /^probe_before $k (.*)$/m;
	my ($a) = $out =~ /^probe_after $k (.*)$/m;
	push @changed, "$k: before " . ($b // '?') . ', after ' . ($a // '?') unless defined $b && defined $a && $a eq $b;
}
ok(!@changed, 'the small query of each of the ' . scalar(@kinds) . ' kinds gives the same answer after the loop as before')
  or diag(join("\n", @changed));

note('3. no crash, no restart');
like($out, qr/^same_postmaster true$/m, 'pg_postmaster_start_time() unchanged');
my @crashes = crash_lines(log_since($node, $log_from));
ok(!@crashes, 'no crashed backend in the server log') or diag(join("\n", head_of(5, @crashes)));
note(sprintf('total %.0f s', time - $start));

$node->stop;
done_testing();
