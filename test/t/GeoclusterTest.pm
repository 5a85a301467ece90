# Helpers shared by geocluster's TAP tests (test/t/*.pl). Each test loads it with
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use GeoclusterTest;
#
# so that a test also runs alone: prove -I <pgxs>/src/test/perl test/t/NNN_name.pl. The server
# is PostgreSQL::Test::Cluster's, started from the initdb and pg_ctl on PATH: with the PATH of
# `make prove_installcheck` (pg_config's bindir first), or of a private installation put first,
# it loads that installation's geocluster.
package GeoclusterTest;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run ();
use List::Util qw(sum0);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw($ROOT $LIB geocluster_node create_database log_offset log_since crash_lines
  index_checks server_ms cancel_loop_lines loop_verdicts phase_cancel_verdicts memory_verdicts
  proc_status_sql head_of
  hierarchy_guarantees hierarchy_world_counts hierarchy_amcheck);

# The repository, and the reliability suites' shared SQL, pgbench scripts and drivers.
our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $LIB = "$ROOT/test/integration/lib_reliability";

# PostgreSQL::Test::Cluster's init runs pg_regress --config-auth. PGXS's prove_installcheck names
# it; a test run alone by prove finds it beside pg_config's PGXS.
if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = dirname($pgxs) . '/../test/regress/pg_regress';
}

# A started node. Statements are not logged (the loops and pgbench send thousands; the log
# checks read errors and crashes only). Extra lines of postgresql.conf follow.
sub geocluster_node
{
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n", 'log_statement = none', @conf) . "\n");
	$node->start;
	return $node;
}

# A database with the given extensions (and client_min_messages quiet for their notices).
sub create_database
{
	my ($node, $db, @extensions) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db,
		join('', 'SET client_min_messages = warning;', map { "CREATE EXTENSION $_;" } @extensions))
	  if @extensions;
	return;
}

# Where the server log stands now; log_since gives what was written after that.
sub log_offset
{
	my ($node) = @_;
	return -s $node->logfile // 0;
}

sub log_since
{
	my ($node, $offset) = @_;
	my $log = slurp_file($node->logfile);
	return substr($log, $offset // 0);
}

# The lines of a log text that show a crashed backend or a server that restarted.
sub crash_lines
{
	my ($text) = @_;
	return grep {
		/terminated by signal|was terminated|server process .* exited with exit code [1-9]|PANIC|TRAP:|reinitializing|not properly shut down/
	} split /\n/, $text;
}

# The first $n elements of a list (for diagnostics).
sub head_of
{
	my ($n, @list) = @_;
	return @list > $n ? @list[0 .. $n - 1] : @list;
}

# A SELECT of a field of the backend's /proc/self/status (kB), as text.
sub proc_status_sql
{
	my ($field) = @_;
	return "(regexp_match(pg_read_file('/proc/self/status'), '$field:\\s+(\\d+)'))[1]";
}

# amcheck on every btree of $table, then one test per index of its cell columns: the index
# alone, as index and as bitmap scans, returns what the sequential scan returns for the
# queries in rel_queries (lib.sql's rel.check_indexes), and some query's plan searched it.
sub index_checks
{
	my ($node, $db, $table, $label) = @_;
	my ($rc, $out, $err) = $node->psql($db, "SELECT * FROM rel.check_btrees('$table')");
	if ($rc != 0)
	{
		fail("$label: amcheck (rel.check_btrees did not run)");
		diag($err);
	}
	for my $line (split /\n/, $out)
	{
		my ($index, $error) = split /\|/, $line, 2;
		ok(($error // '') eq '', "$label: amcheck $index") or diag($error);
	}
	($rc, $out, $err) = $node->psql($db,
		"SELECT index_name, am, scan, queries, mismatches, coalesce(used_for, ''), coalesce(detail, '') FROM rel.check_indexes('$table')"
	);
	if ($rc != 0)
	{
		fail("$label: rel.check_indexes did not run");
		diag($err);
		return;
	}
	my (%rows, @order);
	for my $line (split /\n/, $out)
	{
		my @f = split /\|/, $line, 7;
		push @order, $f[0] unless $rows{ $f[0] };
		push @{ $rows{ $f[0] } }, \@f;
	}
	for my $index (@order)
	{
		my @r = @{ $rows{$index} };
		my $total = sum0(map { $_->[3] } @r);
		my $mism = sum0(map { $_->[4] } @r);
		my $desc = join(', ', map { "$_->[2] $_->[3] ($_->[5])" } grep { $_->[3] > 0 } @r);
		my ($detail) = grep { $_ ne '' } map { $_->[6] } @r;
		ok($total > 0 && $mism == 0, "$label: $index ($r[0][1]) used and = seq scan: $desc")
		  or diag($total == 0
			? 'no query used the index'
			: "$mism of $total differ: " . ($detail // ''));
	}
	return;
}

# Milliseconds the server takes to run $sql (psql's \timing of its last statement, JIT off), the
# smallest of $runs runs: a run slowed by a burst of load elsewhere would set timeouts the query
# then outruns once the load is gone. 0 when a run printed no time.
sub server_ms
{
	my ($node, $db, $sql, $runs) = @_;
	my $best;
	for (1 .. $runs)
	{
		my (undef, $out) = $node->psql($db, "SET jit = off;\n\\timing on\n$sql");
		my @t = $out =~ /^Time: ([0-9.]+)/mg;
		return 0 unless @t;
		my $ms = int($t[-1]);
		$best = $ms if !defined $best || $ms < $best;
	}
	return $best;
}

# The psql lines of a 100-iteration cancellation loop in one session (030_cancel_scans and
# 031_cluster_cancel), after the caller's warm-up: the backend's memory before, then for
# iteration i the kind $a{cycle}[(i - 1) % n] under a statement_timeout drawn from
# [$a{tmin}{kind}, $a{tmax}{kind}], or from 3%..85% of $a{dur}{kind} (its uninterrupted run, ms)
# (the same steps every run): the lines $a{before}->(kind), the
# timeout, $a{query}->(kind), $a{reset}, and a line `iter i kind timeout T sqlstate S elapsed MS`;
# the memory again after 50 iterations and after 100 (what loop_verdicts reads).
sub cancel_loop_lines
{
	my (%a) = @_;
	my ($cycle, $tmin, $tmax) = @a{qw(cycle tmin tmax)};
	# dur: each kind's uninterrupted run in ms; its timeouts then spread over 3%..85% of it
	if ($a{dur})
	{
		$tmin = { map { $_ => int($a{dur}{$_} * 0.03) || 1 } keys %{ $a{dur} } };
		$tmax = { map { $_ => int($a{dur}{$_} * 0.85) || 2 } keys %{ $a{dur} } };
	}
	my $anon = proc_status_sql('RssAnon');
	my @lines = ("SELECT 'mem_before ' || sum(total_bytes) FROM pg_backend_memory_contexts;",
		"SELECT 'anon_before ' || $anon;");
	for my $i (1 .. 100)
	{
		my $k = $cycle->[ ($i - 1) % @$cycle ];
		my $t = $tmin->{$k} + ($i * 37) % ($tmax->{$k} - $tmin->{$k} + 1);
		push @lines, $a{before}->($k), "SET statement_timeout = $t;", 'SELECT clock_timestamp() AS t0 \gset',
		  $a{query}->($k), '\set qstate :SQLSTATE', $a{reset},
		  "SELECT format('iter %s %s timeout %s sqlstate %s elapsed %s', $i, '$k', $t, :'qstate', round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000));";
		push @lines, "SELECT 'anon_mid ' || $anon;" if $i == 50;
	}
	push @lines, "SELECT 'mem_after ' || sum(total_bytes) FROM pg_backend_memory_contexts;",
	  "SELECT 'anon_after ' || $anon;";
	return @lines;
}

# The verdicts on a 100-iteration cancellation loop (cancel_loop_lines) whose output is $out and
# which took $seconds: every iteration ended with 57014; the backend's memory contexts (bytes)
# grew by at most 1 MB from mem_before to mem_after; its RssAnon (kB) by at most 8 MB from
# anon_mid to anon_after.
sub loop_verdicts
{
	my ($out, $seconds, @kinds) = @_;
	my @iters = grep { /^iter / } split /\n/, $out;
	my @interrupted = grep { / sqlstate 57014 / } @iters;
	ok(@iters == 100 && @interrupted == 100,
		sprintf('%d of %d statement_timeout iterations (100 expected) ended with 57014 (%.0f s)', scalar @interrupted, scalar @iters, $seconds))
	  or diag(join("\n", head_of(5, grep { !/ sqlstate 57014 / } @iters)));
	for my $k (@kinds)
	{
		my @it = grep { /^iter \d+ $k / } split /\n/, $out;
		my $max = 0;
		for (@it)
		{
			my @f = split / /;
			my $over = $f[-1] - $f[4];
			$max = $over if $over > $max;
		}
		note(sprintf('%s: %d iterations, largest overshoot past the timeout %d ms', $k, scalar @it, $max));
	}
	memory_verdicts($out);
	return;
}

# The verdicts on a cancellation loop (cancel_loop_lines) over statements that may outrun their
# timeout (062, 066), whose output is $out and stderr $err: every iteration ended with 57014 or
# ran to the end, at most 10 of them the latter; per kind of %$dur (its uninterrupted run in
# ms), the delay of each cancel past its timeout at most $max_delay_ms, with the slowest three
# noted and where they landed as a share of the run.
sub phase_cancel_verdicts
{
	my ($out, $err, $dur, $max_delay_ms) = @_;
	my @iters = map { [ split / / ] } grep { /^iter / } split /\n/, $out;
	my @canceled = grep { $_->[6] eq '57014' } @iters;
	my @completed = grep { $_->[6] eq '00000' } @iters;
	ok(@iters == 100 && @canceled + @completed == 100 && @completed <= 10,
		sprintf('%d of %d iterations (100 expected) ended with 57014, %d outran their timeout (at most 10)',
			scalar @canceled, scalar @iters, scalar @completed))
	  or diag(join("\n", map { "@$_" } head_of(5, grep { $_->[6] !~ /^(57014|00000)$/ } @iters)), substr($err, 0, 500));
	my $over = sub { $_[0][-1] - $_[0][4] };
	for my $k (sort keys %$dur)
	{
		my @mine = grep { $_->[2] eq $k } @canceled;
		my @d = sort { $a <=> $b } map { $over->($_) } @mine;
		note(sprintf('%s: delay %d ms at a timeout of %d ms (%.0f%% of the run)', $k, $over->($_), $_->[4], 100 * $_->[4] / $dur->{$k}))
		  for head_of(3, sort { $over->($b) <=> $over->($a) } @mine);
		ok(@d && $d[-1] <= $max_delay_ms,
			sprintf('%s: %d cancels, delay past the timeout: median %d ms, max %d ms (limit %d ms)',
				$k, scalar @d, @d ? $d[ $#d / 2 ] : -1, @d ? $d[-1] : -1, $max_delay_ms));
	}
	return;
}

# The memory verdicts of a cancellation loop (cancel_loop_lines) whose output is $out: the
# backend's memory contexts (bytes) grew by at most 1 MB from mem_before to mem_after; its
# RssAnon (kB) by at most $anon_limit_kb (8 MB unless given) from anon_mid to anon_after.
sub memory_verdicts
{
	my ($out, $anon_limit_kb) = @_;
	$anon_limit_kb //= 8192;
	my %v = map { /^(mem_before|mem_after|anon_before|anon_mid|anon_after) (\d+)$/ ? ($1 => $2) : () }
	  split /\n/, $out;
	my ($mb, $ma) = @v{qw(mem_before mem_after)};
	ok(defined $mb && defined $ma && $ma - $mb <= 1048576,
		sprintf('memory contexts: %s bytes before, %s after (limit +1 MB)', $mb // '?', $ma // '?'));
	# RssAnon may rise to the largest footprint any one query reached (malloc keeps freed
	# memory for reuse), but a leak keeps growing: compare the second 50 iterations with the
	# first.
	my ($ab, $am, $aa) = @v{qw(anon_before anon_mid anon_after)};
	ok(defined $am && defined $aa && $aa - $am <= $anon_limit_kb,
		sprintf('RssAnon: %s kB after warm-up, %s kB after 50 iterations, %s kB after 100 (limit +%d MB in the last 50)',
			$ab // '?', $am // '?', $aa // '?', $anon_limit_kb / 1024));
	return;
}

# The guarantees of hierarchy $h in $dbname (test/integration/hierarchy_checks.py against the
# source's rows; with $fresh, the clusters per zoom against a fresh build, as a note), one test.
# Used by the tests that write to a hierarchy's source (063, 064).
sub hierarchy_guarantees
{
	my ($node, $dbname, $h, $label, $fresh) = @_;
	my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, "$ROOT/test/integration/hierarchy_checks.py", $node->connstr($dbname), $h,
			$fresh ? ('--fresh') : () ],
		'>', \$out, '2>', \$err);
	my ($p, $f) = $out =~ /(\d+) passed, (\d+) failed\s*$/ ? ($1, $2) : (0, 1);
	ok($p > 0 && $f == 0, "$label: $h keeps every guarantee against the rows ($p checks)")
	  or diag(join("\n", head_of(8, grep { /^FAIL/ } split /\n/, $out)) . $err);
	note($_) for grep { /^clusters per zoom/ } split /\n/, $out;
	return;
}

# The world's clusters at every zoom of $h count the source's positioned rows, in one snapshot.
sub hierarchy_world_counts
{
	my ($node, $dbname, $h, $source, $label) = @_;
	my $bad = $node->safe_psql($dbname, qq{
SELECT coalesce(string_agg(z || ': ' || s, ', '), '') FROM (
  SELECT z, coalesce(sum(v.count), 0) AS s FROM generate_series(0, (SELECT max_zoom FROM cluster_hierarchy_info('$h'))) z
    LEFT JOIN LATERAL cluster_viewport('$h', -90, -180, 90, 180, z) v ON true GROUP BY z) x
 WHERE s <> (SELECT count(*) FROM $source WHERE lat IS NOT NULL AND lon IS NOT NULL)});
	is($bad, '', "$label: the world's clusters count every row at every zoom");
	return;
}

# amcheck (bt_index_check with heapallindexed, bt_index_parent_check) on every btree index of the
# hierarchy's tables (named after it: blocks, members, meta and any table the write path adds)
# and of the source, one test; $h '' checks the source alone.
sub hierarchy_amcheck
{
	my ($node, $dbname, $h, $source, $label) = @_;
	my $sql = qq{
SELECT i.indexrelid::regclass, (SELECT bt_index_check(i.indexrelid, true)) IS NULL,
       (SELECT bt_index_parent_check(i.indexrelid, true, true)) IS NULL
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_am a ON a.oid = ic.relam
 WHERE a.amname = 'btree' AND (t.oid = '$source'::regclass
       OR (t.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = '$source'::regclass)
           AND t.relname LIKE '$h%'))
 ORDER BY 1};
	my ($rc, $out, $err) = $node->psql($dbname, $sql);
	my @lines = split /\n/, $out;
	ok($rc == 0 && @lines >= ($h ? 3 : 1), "$label: amcheck clean on " . scalar(@lines) . ' btree indexes')
	  or diag($err || $out);
	note('  ' . join(', ', map { (split /\|/)[0] } @lines));
	return;
}

1;
