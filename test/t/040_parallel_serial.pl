# Parallel equals serial: GEOCLUSTER_PARALLEL_QUERIES (default 1000) random cluster_agg,
# cluster_state_agg and containment queries give identical results with parallelism forced on
# and with it off, and the parallel plans really are parallel (Gather, Partial Aggregate,
# workers launched, rows split among two or more processes). The driver is
# test/integration/lib_reliability/parallel_serial.py (python3-psycopg2); it says what is
# compared and how, and prints one line per check, each a test here.
#
#   GEOCLUSTER_PARALLEL_ROWS     markers (default 30000: 1% NULL cells, a dense duplicate
#                                stack, 12 cities, the antimeridian)
#   GEOCLUSTER_PARALLEL_QUERIES  random queries (default 1000)
#   GEOCLUSTER_PARALLEL_SEED     data and query seed (default 1): the same seed, the same run
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $rows = $ENV{GEOCLUSTER_PARALLEL_ROWS} // 30000;
my $seed = $ENV{GEOCLUSTER_PARALLEL_SEED} // 1;
my $db = 'parallel';
# The server's default max_worker_processes (8) and max_parallel_workers (8) leave room for the
# two workers per query that the driver forces.
my $node = geocluster_node('parallel');
create_database($node, $db, 'geocluster');

my $t0 = time;
# setseed makes rel.point's random() reproducible: the same seed loads the same markers.
$node->safe_psql($db, "\\i $LIB/lib.sql\n" . <<SQL);
CREATE TABLE par_markers (id bigserial PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,
                          qk quadkey, gh geohash, batch int);
SELECT setseed(1.0 / ($seed + 1));
SELECT rel.add_markers('par_markers', $rows);
-- 2% of the rows on one spot (a dense stack in one bin), 1% on the antimeridian.
INSERT INTO par_markers (lat, lon, qk, gh)
SELECT 48.8584, 2.2945, quadkey(48.8584, 2.2945, 29), geohash(48.8584, 2.2945, 12)
  FROM generate_series(1, $rows / 50);
INSERT INTO par_markers (lat, lon, qk, gh)
SELECT lat, lon, quadkey(lat, lon, 20), geohash(lat, lon, 9)
  FROM (SELECT random() * 40 - 20 AS lat, CASE WHEN random() < 0.5 THEN 180 ELSE -180 END AS lon
          FROM generate_series(1, $rows / 100)) x;
-- Shuffled storage order: workers get unrelated rows. region: 8 bands of 45 degrees of
-- longitude, the grouping column of the GROUP BY queries.
CREATE TABLE par_shuffled AS
SELECT *, least(7, floor((lon + 180) / 45))::int AS region FROM par_markers ORDER BY random();
DROP TABLE par_markers;
ALTER TABLE par_shuffled RENAME TO par_markers;
-- A btree (parallel index scans) on qk and, when the extension has one, a GiST on gh (not
-- parallel-aware: a Gather over a plain index scan).
CREATE INDEX ON par_markers (qk);
DO \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod
                WHERE a.amname = 'gist' AND o.opcintype = 'geohash'::regtype AND o.opcdefault) THEN
        CREATE INDEX ON par_markers USING gist (gh);
    END IF;
END \$\$;
VACUUM ANALYZE par_markers;
SQL
note(sprintf('loaded %s markers in %.0f s', $node->safe_psql($db, 'SELECT count(*) FROM par_markers'), time - $t0));

# Debian's python3 has python3-psycopg2 (scripts/install-deps); a python3 earlier on PATH may not.
my $python = $ENV{PYTHON};
if (!$python)
{
	for my $candidate ('python3', '/usr/bin/python3')
	{
		if (system("$candidate -c 'import psycopg2' >/dev/null 2>&1") == 0)
		{
			$python = $candidate;
			last;
		}
	}
}
BAIL_OUT('no python3 with psycopg2 (scripts/install-deps installs python3-psycopg2)') unless $python;

local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{GEOCLUSTER_PARALLEL_DB} = $db;
my ($out, $err) = ('', '');
IPC::Run::run([ $python, "$LIB/parallel_serial.py" ], '>', \$out, '2>', \$err);
my $checks = 0;
for my $line (split /\n/, $out)
{
	if ($line =~ /^(ok|FAILED) +(.*)$/)
	{
		ok($1 eq 'ok', $2);
		$checks++;
	}
	elsif ($line !~ /^\d+ passed, \d+ failed$/)
	{
		note($line);
	}
}
# The driver exits non-zero when a check failed; it ran to its end when it printed its tally.
ok($checks > 0 && $out =~ /^\d+ passed, \d+ failed$/m, 'the driver ran to its end') or diag("exit $?: $err");

$node->stop;
done_testing();
