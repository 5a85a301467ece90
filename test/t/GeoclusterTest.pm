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
use List::Util qw(sum0);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';

our @EXPORT = qw($ROOT $LIB geocluster_node create_database log_offset log_since crash_lines
  index_checks loop_verdicts proc_status_sql head_of);

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

# The verdicts on a 100-iteration cancellation loop (cancel_scans and cluster_cancel). $out
# holds lines `iter N KIND TIMEOUT_MS sqlstate S elapsed MS`, and mem_before/mem_after (the
# backend's memory contexts, bytes) and anon_before/anon_mid/anon_after (its RssAnon, kB, after
# the warm-up, after 50 iterations and after 100).
sub loop_verdicts
{
	my ($out, @kinds) = @_;
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
	my %v = map { /^(mem_before|mem_after|anon_before|anon_mid|anon_after) (\d+)$/ ? ($1 => $2) : () }
	  split /\n/, $out;
	my ($mb, $ma) = @v{qw(mem_before mem_after)};
	ok(defined $mb && defined $ma && $ma - $mb <= 1048576,
		sprintf('memory contexts: %s bytes before, %s after (limit +1 MB)', $mb // '?', $ma // '?'));
	# RssAnon may rise to the largest footprint any one query reached (malloc keeps freed
	# memory for reuse), but a leak keeps growing: compare the second 50 iterations with the
	# first.
	my ($ab, $am, $aa) = @v{qw(anon_before anon_mid anon_after)};
	ok(defined $am && defined $aa && $aa - $am <= 8192,
		sprintf('RssAnon: %s kB after warm-up, %s kB after 50 iterations, %s kB after 100 (limit +8 MB in the last 50)',
			$ab // '?', $am // '?', $aa // '?'));
	return;
}

1;
