# Compaction of a cluster hierarchy scheduled by pg_cron (issue 17, Concurrency), as the README
# tells a DBA to set it up:
#
#   setup     a node with shared_preload_libraries = 'pg_cron' and cron.database_name; a role
#             that is not a superuser owns a table of 20,000 markers in three cities (so that
#             some block rows of its hierarchy are over 8 kB), builds the hierarchy and makes
#             single-row inserts, moves and deletes, which leave delta rows behind
#   schedule  the role schedules geocluster.cluster_hierarchy_compact every minute with
#             cron.schedule; the test waits (at most 150 s) for a succeeded run in
#             cron.job_run_details
#   after     no block row keeps a delta; the answers (every cluster of the world's viewport at
#             every zoom, the decoded nodes, and the children, leaves and expansion zoom of the
#             largest clusters of three zooms) are those of before the compaction; writes still
#             work and are counted; the role unschedules the job; every guarantee
#             (test/integration/hierarchy_checks.py, as 063 runs it) and amcheck hold, and the
#             server log shows no crash
#
# pg_cron is Debian's postgresql-15-cron (scripts/install-deps), in the installation whose initdb
# is first on PATH. Its schedules have a minute's granularity, so this test takes 1-2 minutes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $db = 'geo';
my $role = 'mapper';
my $source = "$role.cm";
my $h = "$role.cm_clusters";
my $wait_s = 150;

# pg_cron's launcher reads cron.database_name when the server starts: the database is made
# first, then the library is preloaded. Jobs connect with libpq, here to the node's socket
# directory (PostgreSQL::Test::Cluster listens on no TCP port), as the role that scheduled them.
my $node = geocluster_node('hier_cron', "log_line_prefix = '%m [%p] %e '");
my $pkglibdir = $node->config_data('--pkglibdir');
BAIL_OUT("no pg_cron.so in $pkglibdir (scripts/install-deps installs postgresql-15-cron)")
  unless -e "$pkglibdir/pg_cron.so";
$node->safe_psql('postgres', qq{
CREATE DATABASE $db;
CREATE ROLE $role LOGIN;});
$node->append_conf('postgresql.conf', join("\n",
	"shared_preload_libraries = 'pg_cron'", "cron.database_name = '$db'",
	"cron.host = '" . $node->host . "'", ''));
$node->restart;
my $log_from = log_offset($node);

# The DBA's part: the extensions, the role's schema, and the use of pg_cron's schema.
$node->safe_psql($db, qq{
SET client_min_messages = warning;
CREATE SCHEMA geocluster;
CREATE EXTENSION geocluster SCHEMA geocluster;
CREATE EXTENSION pg_cron;
CREATE EXTENSION amcheck;
ALTER DATABASE $db SET search_path = "\$user", public, geocluster;
CREATE SCHEMA $role AUTHORIZATION $role;
GRANT USAGE ON SCHEMA geocluster, cron TO $role;});

# SQL run as the role.
sub as_role
{
	my ($sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', $role ]);
}

# ---- setup: the role's table, its hierarchy, single-row writes --------------------------------
as_role(q{
SET client_min_messages = warning;
CREATE TABLE cm (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL);
SELECT setseed(0.64);
INSERT INTO cm   -- Paris, Lyon, Marseille, each within about 10 km
SELECT g, (ARRAY[48.86, 45.76, 43.30])[1 + g % 3] + (random() - 0.5) * 0.2,
          (ARRAY[2.35, 4.84, 5.37])[1 + g % 3] + (random() - 0.5) * 0.3
  FROM generate_series(1, 20000) g;
SELECT geocluster.cluster_hierarchy_create('cm', 'lat', 'lon', 'id');});
is(as_role("SELECT count(*) > 0 FROM $h WHERE octet_length(data) > 8192"), 't',
	'setup: some block rows are over 8 kB');

# Single-row statements, each its own transaction: inserts near the cities, moves within them,
# deletes.
my @writes;
for my $i (1 .. 40)
{
	my ($lat, $lon) = @{ ([ 48.86, 2.35 ], [ 45.76, 4.84 ], [ 43.30, 5.37 ])[ $i % 3 ] };
	push @writes, sprintf('INSERT INTO cm VALUES (%d, %.6f, %.6f);', 20000 + $i, $lat + ($i % 7 - 3) * 0.013,
		$lon + ($i % 5 - 2) * 0.017);
	push @writes, sprintf('UPDATE cm SET lat = lat + 0.004, lon = lon - 0.006 WHERE id = %d;', $i * 211);
	push @writes, sprintf('DELETE FROM cm WHERE id = %d;', $i * 307 + 5);
}
as_role(join("\n", @writes));
# (the block rows of both tables: nodes and members)
my $with_delta = "SELECT (SELECT count(*) FROM $h WHERE delta IS NOT NULL) + "
  . "(SELECT count(*) FROM ${h}_members WHERE delta IS NOT NULL)";
my $deltas = as_role($with_delta);
ok($deltas > 0, "setup: 120 single-row writes left delta rows ($deltas block rows with a delta)");
ok(as_role("SELECT count(*) FROM ${h}_members WHERE delta IS NOT NULL") > 0,
	'setup: member blocks among them');

# What readers see, as text: every cluster of the world at every zoom; the decoded nodes and
# members; the
# children, leaves and expansion zoom of the 3 largest clusters at zooms 4, 10 and 14.
my $answers_sql = qq{
SELECT z, count(v.*), coalesce(sum(v.count), 0), md5(coalesce(string_agg(v::text, ';' ORDER BY v::text), ''))
  FROM generate_series(0, (SELECT max_zoom FROM geocluster.cluster_hierarchy_info('$h'))) z
  LEFT JOIN LATERAL geocluster.cluster_viewport('$h', -90, -180, 90, 180, z) v ON true
 GROUP BY z ORDER BY z;
SELECT 'nodes', count(*), md5(string_agg(n::text, ';' ORDER BY n::text))
  FROM geocluster.cluster_hierarchy_nodes('$h') n;
SELECT 'members', count(*), md5(string_agg(m::text, ';' ORDER BY m::text))
  FROM geocluster.cluster_hierarchy_members('$h') m;
SELECT z, v.cluster_id, v.count, geocluster.cluster_expansion_zoom('$h', v.cluster_id),
       (SELECT string_agg(c::text, ';' ORDER BY c::text) FROM geocluster.cluster_children('$h', v.cluster_id) c),
       (SELECT md5(string_agg(l::text, ',')) FROM geocluster.cluster_leaves('$h', v.cluster_id, 100000) l)
  FROM unnest(ARRAY[4, 10, 14]) z,
       LATERAL (SELECT * FROM geocluster.cluster_viewport('$h', -90, -180, 90, 180, z) w
                 ORDER BY w.count DESC, w.cluster_id LIMIT 3) v
 ORDER BY z, v.count DESC, v.cluster_id;};
my $before = as_role($answers_sql);

# ---- schedule: the role's job, every minute -------------------------------------------------
my $jobid = as_role(
	qq{SELECT cron.schedule('geocluster-compact', '* * * * *', \$\$SELECT geocluster.cluster_hierarchy_compact('$h')\$\$)});
like($jobid, qr/^\d+$/, "schedule: $role scheduled the compaction (job $jobid)");
my $runs = "FROM cron.job_run_details WHERE jobid = $jobid";
my ($succeeded, $failed) = (0, '');
my $t0 = time;
while (time < $t0 + $wait_s)
{
	$succeeded = $node->safe_psql($db, "SELECT count(*) $runs AND status = 'succeeded'");
	$failed = $node->safe_psql($db, "SELECT string_agg(return_message, '; ') $runs AND status = 'failed'");
	last if $succeeded > 0 || $failed ne '';
	sleep 1;
}
ok($succeeded > 0 && $failed eq '',
	sprintf('schedule: pg_cron ran the job and it succeeded (%.0f s after scheduling, limit %d s)', time - $t0, $wait_s))
  or diag('failed runs: ' . ($failed || 'none') . "\nruns: " . $node->safe_psql($db, "SELECT status, return_message $runs"));
is($node->safe_psql($db, "SELECT string_agg(DISTINCT username, ',') FROM cron.job WHERE jobid = $jobid"),
	$role, "schedule: the job runs as $role");

# ---- after: no delta left, the same answers, writes still counted -----------------------------
is(as_role($with_delta), '0', 'after: no block row keeps a delta');
my @before = split /\n/, $before;
my @after = split /\n/, as_role($answers_sql);
my @changed = grep { ($before[$_] // '') ne ($after[$_] // '') } 0 .. ($#before > $#after ? $#before : $#after);
ok(@before > 0 && !@changed,
	sprintf('after: the viewports, nodes, children, leaves and expansion zooms are unchanged (%d lines)', scalar @before))
  or diag(join("\n", map { sprintf("line %d before: %.160s\n        after:  %.160s", $_ + 1, $before[$_] // '', $after[$_] // '') }
		head_of(4, @changed)));

as_role(join("\n", map { sprintf('INSERT INTO cm VALUES (%d, 48.85%d, 2.34%d);', 30000 + $_, $_, $_) } 1 .. 5));
hierarchy_world_counts($node, $db, $h, $source, 'after: 5 inserts');

is(as_role("SELECT cron.unschedule($jobid)"), 't', "after: $role unschedules the job");
is($node->safe_psql($db, 'SELECT count(*) FROM cron.job'), '0', 'after: no job is left');

hierarchy_guarantees($node, $db, $h, 'after');
hierarchy_amcheck($node, $db, 'cm_clusters', $source, 'after');
my @crashes = crash_lines(log_since($node, $log_from));
ok(!@crashes, 'the server log shows no crash') or diag(join("\n", head_of(6, @crashes)));

$node->stop;
done_testing();
