# Scale-out on PostgreSQL's own sharding: a coordinator and three shard servers, the markers
# table LIST-partitioned by its zoom-2 quadkey tile into postgres_fdw foreign partitions
# (async_capable, extensions 'geocluster'). Checks, against the same rows in one local table:
#  - cluster_agg_sharded (each shard's cluster_state_agg merged by cluster_agg(state)) is
#    byte-for-byte cluster_agg over the rows, for many viewports, zooms, radii and filters
#    (NULL positions, shards without rows, viewports across partitions and the antimeridian);
#  - the plan: the aggregate inside every shard's Remote SQL, under Async Foreign Scans;
#  - a shard that is down is an ERROR naming it, never a partial answer;
#  - a shard that hangs is cut off by the coordinator's statement_timeout;
#  - the shards' own hierarchies, their viewports merged by cluster_viewport_merge: counts add
#    up, no two centres closer than the radius, centres inside their bounds.
# The design is in docs/scale-out.md. Runs as a non-root user (initdb refuses root).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $coord = PostgreSQL::Test::Cluster->new('coordinator');
my @shards = map { PostgreSQL::Test::Cluster->new("shard$_") } 1 .. 3;
for my $node ($coord, @shards)
{
	$node->init;
	# Three servers on two cores: small, and no parallel workers to crowd the machine.
	$node->append_conf('postgresql.conf',
		"shared_buffers = 32MB\nmax_parallel_workers_per_gather = 0\nmax_connections = 20\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION geocluster');
}

# The shards: one plain table each, and a view that hangs for the slow-shard check.
for my $s (@shards)
{
	$s->safe_psql('postgres', q{
		CREATE TABLE markers_part (id bigint, lat float8, lon float8, category int, tile int);
		CREATE VIEW markers_slow AS
			SELECT m.* FROM markers_part m, pg_catalog.pg_sleep(30) AS s;
		CREATE TABLE markers_empty (LIKE markers_part);
	});
}

# Tiles are the zoom-2 quadkeys as integers (Z-order 0..15): contiguous Z ranges per shard keep
# a regional viewport on few shards. NULL positions (tile NULL) live on shard 1.
my @tile_lists = ('NULL, 0, 1, 2, 3, 4', '5, 6, 7, 8, 9, 10', '11, 12, 13, 14, 15');
my $setup = "CREATE EXTENSION postgres_fdw; CREATE EXTENSION dblink;\n";
for my $i (0 .. 2)
{
	my $n = $i + 1;
	my $s = $shards[$i];
	$setup .= sprintf(q{
		CREATE SERVER shard%d FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres', extensions 'geocluster',
			         async_capable 'true', batch_size '1000');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard%d;
	}, $n, $s->host, $s->port, $n);
}
$setup .= q{
	CREATE TABLE markers (id bigint, lat float8, lon float8, category int, tile int)
		PARTITION BY LIST (tile);
};
for my $i (0 .. 2)
{
	my $n = $i + 1;
	$setup .= sprintf(q{
		CREATE FOREIGN TABLE markers_s%d PARTITION OF markers FOR VALUES IN (%s)
			SERVER shard%d OPTIONS (table_name 'markers_part');
	}, $n, $tile_lists[$i], $n);
}
# The single-server reference: the same rows in one local table. Clustered cities, a uniform
# spread, points on the partition edges (the equator, the prime meridian, 180), NULL positions.
$setup .= q{
	CREATE TABLE markers_local (id bigint, lat float8, lon float8, category int, tile int);
	SELECT pg_catalog.setseed(0.25);
	INSERT INTO markers_local (id, lat, lon, category)
	SELECT g, c.lat + (pg_catalog.random() - 0.5) * c.spread, c.lon + (pg_catalog.random() - 0.5) * c.spread, g % 5
	  FROM pg_catalog.generate_series(1, 24000) g,
	       LATERAL (SELECT (ARRAY[48.85, 40.7, -33.9, 35.7, 0.0, 51.5, -22.9, 64.1])[1 + g % 8] AS lat,
	                       (ARRAY[2.35, -74.0, 151.2, 139.7, 0.0, -0.1, -43.2, -21.9])[1 + g % 8] AS lon,
	                       (ARRAY[2.0, 3.0, 1.5, 2.5, 4.0, 1.0, 2.0, 0.5])[1 + g % 8] AS spread) c;
	INSERT INTO markers_local (id, lat, lon, category)
	SELECT 100000 + g, (pg_catalog.random() - 0.5) * 160, (pg_catalog.random() - 0.5) * 360, g % 5
	  FROM pg_catalog.generate_series(1, 6000) g;
	INSERT INTO markers_local (id, lat, lon, category)       -- on the edges
	SELECT 200000 + g, (ARRAY[0.0, 0.0, 30.0, -30.0, 10.0, -10.0])[1 + g % 6] + g * 1e-4,
	       (ARRAY[0.0, 179.999, 0.0, 180.0, -180.0, -0.0001])[1 + g % 6], g % 5
	  FROM pg_catalog.generate_series(1, 600) g;
	INSERT INTO markers_local (id, lat, lon, category)       -- no position, and one without an id
	SELECT 300000 + g, NULL, NULL, g % 5 FROM pg_catalog.generate_series(1, 50) g;
	INSERT INTO markers_local (id, lat, lon, category) VALUES (NULL, 12.5, 12.5, 1);
	UPDATE markers_local SET tile = public.quadkey_to_bigint(public.quadkey(lat, lon, 2))::int
	 WHERE lat IS NOT NULL;
	INSERT INTO markers SELECT * FROM markers_local;
	ANALYZE markers_local;
};
$coord->safe_psql('postgres', $setup);
$_->safe_psql('postgres', 'ANALYZE markers_part') for @shards;

my @per_shard = map { $_->safe_psql('postgres', 'SELECT pg_catalog.count(*) FROM markers_part') } @shards;
is(join(' ', map { $_ > 0 ? 'rows' : 'empty' } @per_shard), 'rows rows rows',
	"every shard holds rows (@per_shard)");

# The sharded query and the single-server one, compared by the md5 of the binary form of the
# marker_cluster[] (array_send: every float's 8 bytes, every count and id).
sub compare
{
	my ($south, $west, $north, $east, $zoom, $radius, $filter) = @_;
	my $box = defined $south
	  ? sprintf('lat BETWEEN %s AND %s AND %s', $south, $north,
		$west <= $east ? "lon BETWEEN $west AND $east" : "(lon >= $west OR lon <= $east)")
	  : 'true';
	my $f = $filter // 'true';
	my $args = defined $south
	  ? sprintf('%s::float8, %s::float8, %s::float8, %s::float8', $south, $west, $north, $east)
	  : 'NULL::float8, NULL::float8, NULL::float8, NULL::float8';
	my $filter_arg = defined $filter ? "\$f\$$filter\$f\$" : 'NULL::text';
	return $coord->safe_psql('postgres', qq{
		WITH a AS MATERIALIZED (
			SELECT public.cluster_agg(lat, lon, $zoom, ${radius}::float8, id) AS c
			  FROM markers_local WHERE $box AND ($f)),
		     b AS MATERIALIZED (
			SELECT public.cluster_agg_sharded('markers'::regclass, 'tile', $args,
			       $zoom, ${radius}::float8, $filter_arg) AS c)
		SELECT pg_catalog.md5(pg_catalog.array_send(a.c)) IS NOT DISTINCT FROM pg_catalog.md5(pg_catalog.array_send(b.c)),
		       pg_catalog.cardinality(a.c), pg_catalog.cardinality(b.c),
		       (SELECT pg_catalog.sum(x.count) FROM pg_catalog.unnest(a.c) x)
		  FROM a, b});
}

my @viewports = (
	[undef, undef, undef, undef],        # no box: the whole table, NULL positions included
	[-85, -180, 85, 180],                # the world
	[40, -10, 60, 20],                   # Europe: across the prime meridian (shards 1 and 2)
	[-5, -5, 5, 5],                      # the origin: four tiles, all three shards
	[35, -80, 45, -70],                  # New York: one shard
	[-40, 170, 40, -170],                # across the antimeridian
	[48, 2, 49, 3],                      # a city
	[-1, 100, 1, 101],                   # nothing there
);
my @filters = (undef, 'category = 2', 'id % 7 < 3', 'category = 42', 'id IS NULL OR id > 99999',
	'tile = ANY(ARRAY[5, 6, 7, 8])');    # the tiles as a literal: the planner prunes shards 1 and 3
my ($cases, $equal, $clusters, $markers) = (0, 0, 0, 0);
my @bad;
for my $v (@viewports)
{
	for my $zoom (0, 3, 6, 10, 16)
	{
		for my $radius (60, 40, 80.5)
		{
			# every filter at radius 60, the others at one filter each
			my @f = $radius == 60 ? @filters : ($filters[($zoom + $radius) % @filters]);
			for my $filter (@f)
			{
				my $r = compare(@$v, $zoom, $radius, $filter);
				my ($same, $na, $nb, $sum) = split /\|/, $r;
				$cases++;
				if ($same eq 't') { $equal++; $clusters += $na || 0; $markers += $sum || 0 }
				else { push @bad, sprintf('box (%s) zoom %d radius %s filter %s: %s clusters single, %s sharded', join(', ', map { $_ // 'none' } @$v), $zoom, $radius, $filter // 'none', $na // '', $nb // '') }
			}
		}
	}
}
ok($equal == $cases && $cases > 250 && $markers > 100000,
	"cluster_agg_sharded is byte-for-byte cluster_agg: $equal of $cases cases ($clusters clusters, $markers markers)")
  or diag(join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]));

# The empty table: both give the same (an empty array).
is(compare(undef, undef, undef, undef, 5, 60, 'false'), 't|0|0|', 'no rows at all: the same empty result');

# A shard without any row (shard 3's partition pointed at an empty table): the same as one
# server without shard 3's rows.
$coord->safe_psql('postgres', q{ALTER FOREIGN TABLE markers_s3 OPTIONS (SET table_name 'markers_empty')});
my ($e_cases, $e_equal) = (0, 0);
for my $v ([undef, undef, undef, undef], [-85, -180, 85, 180], [-5, -5, 5, 5])
{
	for my $zoom (0, 5, 12)
	{
		my ($s, $w, $n, $e) = @$v;
		my $box = defined $s ? "lat BETWEEN $s AND $n AND lon BETWEEN $w AND $e" : 'true';
		my $args = defined $s ? "${s}::float8, ${w}::float8, ${n}::float8, ${e}::float8" : 'NULL, NULL, NULL, NULL';
		my $same = $coord->safe_psql('postgres', qq{
			SELECT pg_catalog.array_send(public.cluster_agg_sharded('markers'::regclass, 'tile', $args, $zoom, 60::float8))
			     = pg_catalog.array_send((SELECT public.cluster_agg(lat, lon, $zoom, 60::float8, id) FROM markers_local
			                               WHERE $box AND (tile IS NULL OR tile <= 10)))});
		$e_cases++;
		$e_equal++ if $same eq 't';
	}
}
is($e_equal, $e_cases, "an empty shard: $e_equal of $e_cases cases equal one server without its rows");
$coord->safe_psql('postgres', q{ALTER FOREIGN TABLE markers_s3 OPTIONS (SET table_name 'markers_part')});

# The plan: the whole aggregate runs on each shard (pushed down, under Async Foreign Scans), the
# coordinator only merges the states.
my $plan = $coord->safe_psql('postgres', q{
	SET enable_partitionwise_aggregate = on;
	EXPLAIN (VERBOSE, COSTS OFF)
	SELECT public.cluster_agg(s.state) FROM (
		SELECT public.cluster_state_agg(lat, lon, 5, 60::float8, id) AS state
		  FROM markers WHERE lat BETWEEN -60 AND 60 AND category = 2 GROUP BY tile) s});
my $async = () = $plan =~ /Async Foreign Scan/g;
my @remote = $plan =~ /Remote SQL: (.*)/g;
is($async, 3, 'EXPLAIN VERBOSE: three Async Foreign Scans') or diag($plan);
is(scalar(grep { /public\.cluster_state_agg\(lat, lon, 5, 60::double precision, id\)/ && /GROUP BY/ && /category = 2/ } @remote), 3,
	"EXPLAIN VERBOSE: cluster_state_agg, the filter and GROUP BY in each shard's Remote SQL")
  or diag($plan);
like($plan, qr/Relations: Aggregate on \(public\.markers_s1 markers\).*Aggregate on \(public\.markers_s2 markers_1\).*Aggregate on \(public\.markers_s3 markers_2\)/s,
	'EXPLAIN VERBOSE: one pushed-down aggregate per shard');
my ($fn_rc, $fn_out, $fn_explain) = $coord->psql('postgres', q{
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_verbose = on; SET client_min_messages = log; SET auto_explain.log_level = notice;
	SELECT pg_catalog.cardinality(public.cluster_agg_sharded('markers'::regclass, 'tile', 40::float8, -10::float8, 60::float8, 20::float8, 7, 60::float8, 'category = 3'));
});
my $fn_async = () = $fn_explain =~ /Async Foreign Scan/g;
ok($fn_async == 3 && (() = $fn_explain =~ /Remote SQL: SELECT public\.cluster_state_agg\(/g) == 3,
	"cluster_agg_sharded's own plan: 3 Async Foreign Scans, cluster_state_agg in 3 Remote SQLs")
  or diag($fn_explain);

# The viewport's tiles in the filter: only the shard holding them is asked.
my ($pr_rc, $pr_out, $pr_explain) = $coord->psql('postgres', q{
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_verbose = on; SET client_min_messages = log; SET auto_explain.log_level = notice;
	SELECT pg_catalog.cardinality(public.cluster_agg_sharded('markers'::regclass, 'tile', 40::float8, 0::float8, 60::float8, 20::float8, 7, 60::float8,
	                                                         'tile = ANY(ARRAY[5, 6, 7])'));
});
my $pr_scans = () = $pr_explain =~ /Foreign Scan/g;
ok($pr_rc == 0 && $pr_scans == 1 && $pr_explain =~ /Relations: Aggregate on \(public\.markers_s2 /,
	"tiles in the filter: one Foreign Scan, on shard2 ($pr_scans in the plan)")
  or diag($pr_explain);

# Without the partition key in GROUP BY the aggregate can only be partial, which postgres_fdw
# does not push down (PostgreSQL 15): every row crosses the network. Measured, not assumed.
my $plan_partial = $coord->safe_psql('postgres', q{
	SET enable_partitionwise_aggregate = on;
	EXPLAIN (VERBOSE, COSTS OFF)
	SELECT public.cluster_agg(lat, lon, 5, 60::float8, id) FROM markers});
unlike($plan_partial, qr/Remote SQL: SELECT .*cluster/, 'a plain cluster_agg over the partitioned table is not pushed down (rows are fetched)');

# Without geocluster in a server's extensions option, postgres_fdw may not send its functions
# there: that shard's rows are fetched and aggregated on the coordinator, the others' are not.
my $plan_noext = $coord->safe_psql('postgres', q{
	ALTER SERVER shard1 OPTIONS (DROP extensions);
	SET enable_partitionwise_aggregate = on;
	EXPLAIN (VERBOSE, COSTS OFF)
	SELECT public.cluster_agg(s.state) FROM (
		SELECT public.cluster_state_agg(lat, lon, 5, 60::float8, id) AS state
		  FROM markers WHERE category = 2 GROUP BY tile) s;
	ALTER SERVER shard1 OPTIONS (ADD extensions 'geocluster');});
my @remote_noext = $plan_noext =~ /Remote SQL: (.*)/g;
ok(scalar(@remote_noext) == 3 && $remote_noext[0] !~ /cluster_state_agg/ && (grep { /cluster_state_agg/ } @remote_noext) == 2,
	"extensions option dropped on shard1: its Remote SQL fetches rows ($remote_noext[0]), the other two still aggregate")
  or diag($plan_noext);

# A shard that is down: an ERROR naming it, and no rows.
$shards[1]->stop('fast');
my ($rc, $out, $err) = $coord->psql('postgres', q{
	SELECT pg_catalog.cardinality(public.cluster_agg_sharded('markers'::regclass, 'tile', NULL, NULL, NULL, NULL, 3, 60::float8, NULL))});
ok($rc != 0 && $out eq '' && $err =~ /could not connect to server "shard2"/, 'a shard down: ERROR naming shard2, no result')
  or diag("rc $rc out '$out' err $err");
$shards[1]->start;

# A shard that hangs (its partition read through a view that sleeps 30 s): the coordinator's
# statement_timeout ends the query, and postgres_fdw cancels the shard's query too.
$coord->safe_psql('postgres', q{ALTER FOREIGN TABLE markers_s3 OPTIONS (SET table_name 'markers_slow')});
my $t0 = time;
($rc, $out, $err) = $coord->psql('postgres', q{
	SET statement_timeout = '2s';
	SELECT pg_catalog.cardinality(public.cluster_agg_sharded('markers'::regclass, 'tile', NULL, NULL, NULL, NULL, 3, 60::float8, NULL))});
my $elapsed = time - $t0;
ok($rc != 0 && $out eq '' && $err =~ /canceling statement due to statement timeout/ && $elapsed < 12,
	sprintf('a slow shard: statement timeout after %.1f s (statement_timeout 2 s, the shard sleeps 30 s)', $elapsed))
  or diag("rc $rc out '$out' err $err");
ok($shards[2]->poll_query_until('postgres',
		q{SELECT pg_catalog.count(*) = 0 FROM pg_catalog.pg_stat_activity WHERE query LIKE '%markers_slow%' AND pid <> pg_catalog.pg_backend_pid()}),
	"the slow shard's query was cancelled too");
$coord->safe_psql('postgres', q{ALTER FOREIGN TABLE markers_s3 OPTIONS (SET table_name 'markers_part')});

# The hierarchy across shards: each shard builds its own; the coordinator gathers their
# viewports (dblink, through the same foreign servers) and merges them.
# (A hierarchy needs an id for every marker: the one marker without is left out.)
$coord->safe_psql('postgres', 'DELETE FROM markers WHERE id IS NULL AND lat IS NOT NULL');
$_->safe_psql('postgres', q{SELECT public.cluster_hierarchy_create('markers_part', 'lat', 'lon', 'id', 60, 16)}) for @shards;
my $total = $coord->safe_psql('postgres', 'SELECT pg_catalog.count(*) FROM markers WHERE lat IS NOT NULL');
my ($h_cases, $h_ok, $h_merged) = (0, 0, 0);
my @h_bad;
for my $v ([-90, -180, 90, 180], [40, -10, 60, 20], [-5, -5, 5, 5], [-40, 170, 40, -170], [35, -80, 45, -70])
{
	for my $zoom (0, 2, 4, 7, 11, 16)
	{
		my ($s, $w, $n, $e) = @$v;
		my $remote = "SELECT * FROM public.cluster_viewport(''public.markers_part_clusters''::regclass, $s, $w, $n, $e, $zoom)";
		my $r = $coord->safe_psql('postgres', qq{
			WITH parts AS MATERIALIZED (
				SELECT t.* FROM pg_catalog.unnest(ARRAY['shard1', 'shard2', 'shard3']) AS srv,
				       LATERAL public.dblink(srv, '$remote') AS t(cluster_id bigint, zoom int, count bigint,
				           lat float8, lon float8, min_lat float8, min_lon float8, max_lat float8, max_lon float8,
				           id bigint, expansion_zoom int)),
			     m AS MATERIALIZED (
				SELECT c.* FROM pg_catalog.unnest(public.cluster_viewport_merge(
				       (SELECT pg_catalog.array_agg(ROW(p.*)::public.cluster_node) FROM parts p), $zoom, 60::float8)) c),
			     xy AS (SELECT m.*, (m.lon + 180) / 360 * 256 * 2 ^ $zoom AS x,
			                   (0.5 - ln(tan(pi() / 4 + radians(m.lat) / 2)) / (2 * pi())) * 256 * 2 ^ $zoom AS y,
			                   pg_catalog.row_number() OVER () AS k FROM m),
			     -- separation through a grid: cells at least 60 px wide, ncols round the world
			     cells AS (SELECT xy.*, pg_catalog.mod(floor(x / (256 * 2 ^ $zoom / greatest(1, floor(256 * 2 ^ $zoom / 60))))::bigint,
			                                       greatest(1, floor(256 * 2 ^ $zoom / 60))::bigint) AS cx,
			                      floor(y / 60)::bigint AS cy, greatest(1, floor(256 * 2 ^ $zoom / 60))::bigint AS ncols FROM xy),
			     probes AS (SELECT c.k, c.x, c.y, pg_catalog.mod(c.cx + dx + c.ncols, c.ncols) AS cx, c.cy + dy AS cy
			                  FROM cells c, pg_catalog.generate_series(-1, 1) dx, pg_catalog.generate_series(-1, 1) dy)
			SELECT (SELECT COALESCE(pg_catalog.sum(count), 0) FROM m) = (SELECT COALESCE(pg_catalog.sum(count), 0) FROM parts),
			       NOT EXISTS (SELECT FROM probes a JOIN cells b ON b.cx = a.cx AND b.cy = a.cy AND a.k < b.k
			                    WHERE sqrt(least(abs(a.x - b.x), 256 * 2 ^ $zoom - abs(a.x - b.x)) ^ 2 + (a.y - b.y) ^ 2) < 60 * (1 - 1e-9)),
			       COALESCE(pg_catalog.bool_and(m.min_lat <= m.lat + 1e-9 AND m.lat <= m.max_lat + 1e-9
			                AND (m.min_lon <= m.max_lon AND m.min_lon <= m.lon + 1e-9 AND m.lon <= m.max_lon + 1e-9
			                     OR m.min_lon > m.max_lon AND (m.lon >= m.min_lon - 1e-9 OR m.lon <= m.max_lon + 1e-9))), true),
			       (SELECT pg_catalog.count(*) FROM parts), pg_catalog.count(*), (SELECT COALESCE(pg_catalog.sum(count), 0) FROM m)
			  FROM m});
		$h_cases++;
		my @f = split /\|/, $r;
		if ($f[0] eq 't' && $f[1] eq 't' && $f[2] eq 't' && ($s != -90 || $f[5] == $total)) { $h_ok++; $h_merged += $f[3] - $f[4] }
		else { push @h_bad, "box ($s, $w, $n, $e) zoom $zoom: $r (markers $total)" }
	}
}
ok($h_ok == $h_cases && $h_merged > 0,
	"merged shard hierarchies: counts add up (the world: all $total markers), no two centres closer than 60 px, centres inside their bounds, in $h_ok of $h_cases viewports ($h_merged merges across shards)")
  or diag(join("\n", @h_bad));

$_->stop for ($coord, @shards);
done_testing();
