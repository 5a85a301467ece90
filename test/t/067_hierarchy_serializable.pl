# A hierarchy under SERIALIZABLE (issue 17): reading a hierarchy reads its source's rows, so
# PostgreSQL's serializable snapshot isolation must see a reader of the hierarchy and a writer of
# the source as a read-write dependency, as it would a reader of the source itself. Two sessions:
#   - write skew: A reads the hierarchy (a viewport, or a drill-down: children, leaves,
#     expansion zoom) and then writes a table B reads; B reads it and then writes the source.
#     Under SERIALIZABLE exactly one of the two commits (the other: 40001); under REPEATABLE
#     READ both commit, which is the anomaly (the control: the scenario is one only SSI catches).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'hier_serializable';
my $node = geocluster_node('hier_serializable');
create_database($node, $db, 'geocluster');
$node->safe_psql($db, <<'SQL');
SET client_min_messages = warning;
SELECT setseed(0.29);
CREATE TABLE w AS
  SELECT g::bigint AS id, (g % 23) * 6.0 - 66 + random() * 0.3 AS lat,
         (g % 41) * 8.5 - 170 + random() * 0.3 AS lon
    FROM generate_series(1, 5000) g;
ALTER TABLE w ADD PRIMARY KEY (id);
SELECT cluster_hierarchy_create('w', 'lat', 'lon', 'id', 60, 16);
CREATE TABLE decisions (x int);
SQL
my $log_from = log_offset($node);
# A cluster near (0, 0) at zoom 8, for the drill-down readers.
my $cid = $node->safe_psql($db,
	"SELECT cluster_id FROM cluster_viewport('w_clusters', -10, -10, 10, 10, 8) WHERE count > 1 ORDER BY count DESC, cluster_id LIMIT 1");
ok($cid ne '', "a cluster to drill into ($cid)");

my %reads = (
	viewport => "SELECT sum(count) FROM cluster_viewport('w_clusters', -90, -180, 90, 180, 3);",
	children => "SELECT count(*) FROM cluster_children('w_clusters', $cid);",
	leaves => "SELECT count(*) FROM cluster_leaves('w_clusters', $cid, 500, 0);",
	expansion => "SELECT cluster_expansion_zoom('w_clusters', $cid);");

my $next_id = 100000;
# One round: A reads the hierarchy, B reads decisions, A writes decisions, B inserts a marker
# (near the cluster drilled into), A commits, B commits. Returns the SQLSTATE of each commit.
sub round
{
	my ($isolation, $read) = @_;
	my $a = $node->background_psql($db, on_error_stop => 0);
	my $b = $node->background_psql($db, on_error_stop => 0);
	$_->query_safe("BEGIN ISOLATION LEVEL $isolation") for ($a, $b);
	$a->query_safe($read);
	$b->query_safe('SELECT count(*) FROM decisions');
	$a->query_safe('INSERT INTO decisions VALUES (1)');
	++$next_id;
	$b->query_safe("INSERT INTO w VALUES ($next_id, 0.4, 0.6)");
	my @states;
	for my $s ($a, $b)
	{
		$s->query("\\set VERBOSITY sqlstate\nCOMMIT");
		push @states, ($s->{stderr} =~ /\b(40001)\b/ ? '40001' : $s->{stderr} eq '' ? 'ok' : $s->{stderr});
		$s->{stderr} = '';
	}
	$_->quit for ($a, $b);
	return @states;
}

for my $k (sort keys %reads)
{
	my @ser = round('SERIALIZABLE', $reads{$k});
	ok((grep { $_ eq '40001' } @ser) == 1 && (grep { $_ eq 'ok' } @ser) == 1,
		"SERIALIZABLE, $k read then a write to the source: one commit fails with 40001 (A: $ser[0], B: $ser[1])");
	my @rr = round('REPEATABLE READ', $reads{$k});
	is("@rr", 'ok ok', "REPEATABLE READ, $k: both commit (the write skew SERIALIZABLE refuses)");
}

# Whatever committed, the hierarchy agrees with the rows.
hierarchy_world_counts($node, $db, 'w_clusters', 'w', 'after the rounds');
my @crashes = crash_lines(log_since($node, $log_from));
ok(!@crashes, 'no crashed backend in the server log') or diag(join("\n", head_of(5, @crashes)));

$node->stop;
done_testing();
