# Round trips of the quadkey and geohash types through everything that moves values in and out
# of PostgreSQL without SQL casts:
#
#   * COPY text and COPY binary of a table with both types, their arrays and NULLs, into a
#     fresh table: contents equal;
#   * the binary wire form is the 8-byte code, big-endian (the worked examples of
#     src/core/quadkey.hpp and geohash.hpp);
#   * crafted binary COPY files with malformed values are refused with SQLSTATE 22P03 (08P01
#     when shorter than 8 bytes, as for int8), and the server is fine afterwards;
#   * pg_dump -Fc / pg_restore of a database whose table has both types with btree and hash
#     indexes, into a fresh database: contents equal, indexes valid, amcheck clean, and the
#     restored indexes used by the planner;
#   * every column type and every index class: a marker table with quadkey, geohash, their
#     arrays, marker_cluster and marker_cluster[] columns and one index per operator class that
#     pg_opclass lists for the two types (lib_reliability/lib.sql, so a class added later joins
#     by itself) goes out and in by binary COPY (into a copy with the same indexes, so they grow
#     by inserts) and through pg_dump -Fc / pg_restore (indexes built anew): contents equal, the
#     same index definitions, all valid, amcheck clean on the btrees, and each index alone (the
#     column's other indexes dropped in a rolled-back subtransaction), as index and as bitmap
#     scans, returns what the sequential scan returns for GEOCLUSTER_ROUNDTRIP_QUERIES (default
#     200) random queries per column; EXPLAIN must show every index searched.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use GeoclusterTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $queries = $ENV{GEOCLUSTER_ROUNDTRIP_QUERIES} // 200;
my $node = geocluster_node('types_rt');
my $tmp = PostgreSQL::Test::Utils::tempdir();
my ($src, $dst) = qw(types_rt types_rt_restored);
create_database($node, $src, 'geocluster');
my $db = $src;
sub sql { return scalar $node->safe_psql($db, $_[0]); }

# The data: 100k rows, every quadkey level 0..29 and geohash precision 0..12, the extreme
# cells, arrays of neighbours (empty at level 0), and NULLs.
$node->safe_psql($src, <<'SQL');
SET client_min_messages = warning;
SELECT setseed(0.4242);
CREATE TABLE cells (id int PRIMARY KEY, q quadkey, g geohash, qn quadkey[], gn geohash[]);
INSERT INTO cells
SELECT i, q, g, quadkey_neighbors(q), geohash_neighbors(g)
  FROM (SELECT i,
               quadkey_from_tile(i % 30, floor(random() * 2^(i % 30))::int, floor(random() * 2^(i % 30))::int) AS q,
               geohash(random() * 180 - 90, random() * 360 - 180, i % 13) AS g
          FROM generate_series(1, 100000) i) s;
INSERT INTO cells VALUES
  (100001, '', '', '{}', '{}'),
  (100002, repeat('3', 29)::quadkey, 'zzzzzzzzzzzz', NULL, NULL),
  (100003, repeat('0', 29)::quadkey, '000000000000', ARRAY[NULL, '1']::quadkey[], ARRAY['u4', NULL]::geohash[]),
  (100004, NULL, NULL, NULL, NULL);
CREATE INDEX cells_q ON cells (q);
CREATE INDEX cells_g ON cells (g);
CREATE INDEX cells_q_hash ON cells USING hash (q);
CREATE INDEX cells_g_hash ON cells USING hash (g);
ANALYZE cells;
SQL
# A fingerprint of the table's contents, through the text forms, in id order.
my $fingerprint = "SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, q::text, g::text, qn::text, gn::text), ',' ORDER BY id)) FROM";
my $want = sql("$fingerprint cells");
my $equal_as_values = 'SELECT count(*) FROM cells a JOIN %s b USING (id) WHERE a.q IS NOT DISTINCT FROM b.q AND a.g IS NOT DISTINCT FROM b.g AND a.qn IS NOT DISTINCT FROM b.qn AND a.gn IS NOT DISTINCT FROM b.gn';

# COPY text and binary
sql("CREATE TABLE cells_text (LIKE cells);\n\\copy cells TO '$tmp/cells.txt'\n\\copy cells_text FROM '$tmp/cells.txt'");
is(sql("$fingerprint cells_text"), $want, 'COPY text round trip: same rows');
is(sql(sprintf($equal_as_values, 'cells_text')), '100004', 'COPY text round trip: values equal as values');
sql("CREATE TABLE cells_bin (LIKE cells);\n\\copy cells TO '$tmp/cells.bin' (FORMAT binary)\n\\copy cells_bin FROM '$tmp/cells.bin' (FORMAT binary)");
is(sql("$fingerprint cells_bin"), $want, 'COPY binary round trip: same rows');
is(sql(sprintf($equal_as_values, 'cells_bin')), '100004', 'COPY binary round trip: values equal as values');
# Binary COPY of the binary copy gives the same bytes.
sql("\\copy (SELECT * FROM cells_bin ORDER BY id) TO '$tmp/a.bin' (FORMAT binary)\n\\copy (SELECT * FROM cells ORDER BY id) TO '$tmp/b.bin' (FORMAT binary)");
ok(slurp_file("$tmp/a.bin") eq slurp_file("$tmp/b.bin"), 'COPY binary is byte-stable');

# The binary form is the code, big-endian: "213" = 0x4E00000000000003, "u4" = 0xD100000000000002.
sql("\\copy (SELECT '213'::quadkey, 'u4'::geohash) TO '$tmp/one.bin' (FORMAT binary)");
my $one = slurp_file("$tmp/one.bin");
# Header 19 bytes, then int16 field count, and per field int32 length + data.
is(unpack('H*', substr($one, 25, 8)), '4e00000000000003', "binary form of quadkey '213'");
is(unpack('H*', substr($one, 37, 8)), 'd100000000000002', "binary form of geohash 'u4'");
is(unpack('H*', substr($one, 21, 4)), '00000008', 'binary field length is 8');

# Malformed binary values: a binary COPY file with one column and one row per value (each
# value given as hex bytes; their count is the field length).
sub craft
{
	my ($path, @values) = @_;
	open my $f, '>:raw', $path or die "$path: $!";
	print $f "PGCOPY\n\xff\r\n\x00" . pack('NN', 0, 0);
	for my $v (@values)
	{
		my $data = pack('H*', $v);
		print $f pack('nN', 1, length $data) . $data;
	}
	print $f pack('n', 0xffff);
	close $f;
	return;
}
sql('CREATE TABLE one_q (q quadkey); CREATE TABLE one_g (g geohash); CREATE TABLE one_i (i int8)');
# A valid crafted file loads, so the crafting itself is right.
craft("$tmp/good.bin", '4e00000000000003', '0000000000000000');
sql("\\copy one_q FROM '$tmp/good.bin' (FORMAT binary)");
is(sql("SELECT string_agg(q::text, ',' ORDER BY q) FROM one_q"), ',213', 'crafted valid quadkey file loads');
sql('TRUNCATE one_q');
# A value shorter than 8 bytes fails in PostgreSQL's own message reader first, with 08P01,
# exactly as it does for int8.
for my $case (
	[ 'quadkey level 30', 'one_q', '000000000000001e' ],
	[ 'quadkey level 31', 'one_q', '000000000000001f' ],
	[ 'quadkey with bit 63 set', 'one_q', '8000000000000001' ],
	[ 'quadkey with a digit below its level', 'one_q', '4e00000000000002' ],
	[ 'quadkey with stray bits 5..6', 'one_q', '0000000000000060' ],
	[ 'quadkey of 9 bytes', 'one_q', '4e0000000000000300' ],
	[ 'quadkey of 4 bytes', 'one_q', '00000003', '08P01' ],
	[ 'int8 of 4 bytes (the same for comparison)', 'one_i', '00000003', '08P01' ],
	[ 'geohash precision 13', 'one_g', '000000000000000d' ],
	[ 'geohash precision 15', 'one_g', '000000000000000f' ],
	[ 'geohash with a symbol below its precision', 'one_g', 'd100000000000001' ],
	[ 'geohash of 7 bytes', 'one_g', 'd1000000000002', '08P01' ])
{
	my ($name, $table, $hex, $state) = @$case;
	$state //= '22P03';
	craft("$tmp/bad.bin", $hex);
	my ($rc, $out, $err) = $node->psql($src, "\\set VERBOSITY verbose\n\\copy $table FROM '$tmp/bad.bin' (FORMAT binary)");
	like($err, qr/ERROR:  $state/, "$name: refused with $state");
	note((grep { /ERROR/ } split /\n/, $err)[0] // '');
}
is(sql('SELECT (SELECT count(*) FROM one_q) + (SELECT count(*) FROM one_g)'), '0', 'nothing was loaded from malformed files');
is(sql(q{SELECT '0123'::quadkey::text || ' ' || 'u4'::geohash::text}), '0123 u4', 'server still answers after malformed input');

# Every column type, every index class. lib.sql (schema rel) gives the random markers, the
# indexes (one per operator class in pg_opclass), the random queries and the
# index-vs-sequential comparison. The queries are drawn here, once, into rel_queries, which
# pg_dump carries to the restored database too.
my ($rc, $out, $err) = $node->psql($src, "SET client_min_messages = warning;\nCREATE EXTENSION amcheck;\n\\i $LIB/lib.sql\n" . <<SQL);
SELECT setseed(0.2121);
CREATE TABLE markers (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,
                      qk quadkey, gh geohash, qks quadkey[], ghs geohash[],
                      top marker_cluster, clusters marker_cluster[]);
CREATE TEMP TABLE pts AS
SELECT g::bigint AS id, p.lat, p.lon FROM generate_series(1, 20000) g, LATERAL rel.point(g) p;
-- Cells at mixed levels with 1% NULLs, their neighbours, and clusters: cluster_agg's own
-- output over the 200 markers before every 200th one, else a made-up cluster with the
-- awkward float8 values (NaN, -0, infinities, a subnormal) now and then, or NULL.
INSERT INTO markers
SELECT p.id, p.lat, p.lon, c.qk, c.gh, quadkey_neighbors(c.qk), geohash_neighbors(c.gh),
       CASE WHEN p.id % 200 = 0 THEN NULL
            WHEN p.id % 7 = 0 THEN ROW(p.id, 'NaN', '-0', '1e-310', 'Infinity', '-Infinity', p.lon, NULL)::marker_cluster
            WHEN p.id % 3 = 0 THEN ROW(1, p.lat, p.lon, p.lat, p.lon, p.lat, p.lon, p.id)::marker_cluster END,
       CASE WHEN p.id % 200 = 0 THEN
                (SELECT cluster_agg(x.lat, x.lon, (p.id / 200 % 12)::int, 60, x.id) FROM pts x WHERE x.id BETWEEN p.id - 199 AND p.id)
            WHEN p.id % 5 = 0 THEN '{}' END
  FROM pts p,
       LATERAL (SELECT CASE WHEN random() < 0.01 THEN NULL ELSE quadkey(p.lat, p.lon, rel.random_level(29)) END AS qk,
                       CASE WHEN random() < 0.01 THEN NULL ELSE geohash(p.lat, p.lon, rel.random_level(12)) END AS gh,
                       p.id AS k) c;
SELECT rel.create_indexes('markers');
ANALYZE markers;
SELECT rel.make_queries('markers', $queries);
SQL
is($rc, 0, 'setup of the marker table with every index class') or diag($err);
my $mfingerprint = "SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, lat, lon, qk, gh, qks, ghs, top, clusters), ',' ORDER BY id)) FROM";
my $mwant = sql("$mfingerprint markers");
is( sql(q{SELECT string_agg(col || ': ' || ams, '; ' ORDER BY col) FROM (SELECT a.attname AS col, string_agg(am.amname, ' ' ORDER BY am.amname) AS ams
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = 'markers'::regclass AND a.attname IN ('qk', 'gh') GROUP BY 1) x}),
	'gh: brin btree gist hash spgist; qk: brin btree gist hash spgist',
	'markers: one index per operator class of each type');
is( sql(q{SELECT count(*) FROM pg_opclass o WHERE o.opcintype IN ('quadkey'::regtype, 'geohash'::regtype)
              AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = 'markers'::regclass AND i.indclass[0] = o.oid)}),
	'0', 'markers: every operator class of the two types has its index');
my $indexdefs = q{SELECT string_agg(d, E'\n' ORDER BY d) FROM (
             SELECT replace(pg_get_indexdef(i.indexrelid), 'markers_bin', 'markers') || ' ' || o.opcname
                    || CASE WHEN i.indisvalid AND i.indisready THEN '' ELSE ' INVALID' END AS d
               FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = '%s'::regclass) x};
my $mdefs = sql(sprintf($indexdefs, 'markers'));
my ($mrows) = split / /, $mwant;
is( sprintf('%s rows, %d indexes', $mrows, scalar grep { !/INVALID/ } split /\n/, $mdefs),
	sprintf('20000 rows, %s indexes',
		sql(q{SELECT 1 + count(*) FROM pg_opclass WHERE opcintype IN ('quadkey'::regtype, 'geohash'::regtype)})),
	'markers: 20000 rows, the primary key and an index per class, valid');

# Binary COPY out, and in to a table with the same indexes: the indexes grow by inserts.
($rc, $out, $err) = $node->psql($src, <<SQL);
CREATE TABLE markers_bin (LIKE markers INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE markers_bin ADD PRIMARY KEY (id);
SELECT rel.create_indexes('markers_bin');
\\copy markers TO '$tmp/markers.bin' (FORMAT binary)
\\copy markers_bin FROM '$tmp/markers.bin' (FORMAT binary)
ANALYZE markers_bin;
SQL
diag("markers: binary COPY out and in: $err") if $rc;
is(sql("$mfingerprint markers_bin"), $mwant, 'markers, binary COPY: same rows, every column type');
is( sql(q{SELECT count(*) FROM markers a JOIN markers_bin b USING (id) WHERE (a.lat, a.lon, a.qk, a.gh, a.qks, a.ghs, a.top, a.clusters)
                 IS NOT DISTINCT FROM (b.lat, b.lon, b.qk, b.gh, b.qks, b.ghs, b.top, b.clusters)}),
	sql('SELECT count(*) FROM markers'), 'markers, binary COPY: values equal as values');
is(sql(sprintf($indexdefs, 'markers_bin')), $mdefs, 'markers, binary COPY: the same index definitions');
index_checks($node, $src, 'markers_bin', 'markers, binary COPY');

# pg_dump -Fc / pg_restore
my ($stdout, $stderr);
ok(IPC::Run::run([ 'pg_dump', '-Fc', '-d', $node->connstr($src), '-f', "$tmp/dump.fc" ], '>', \$stdout, '2>', \$stderr),
	'pg_dump -Fc') or diag($stderr);
$node->safe_psql('postgres', "CREATE DATABASE $dst");
ok(IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $node->connstr($dst), "$tmp/dump.fc" ], '>', \$stdout, '2>', \$stderr),
	'pg_restore into a fresh database') or diag($stderr);
$db = $dst;
is(sql("$fingerprint cells"), $want, 'restored: contents equal');
is(sql("$fingerprint cells_bin"), $want, 'restored: copies equal too');
is( sql(q{SELECT count(*) FILTER (WHERE indisvalid AND indisready) FROM pg_index WHERE indrelid = 'cells'::regclass AND indexrelid <> 'cells_pkey'::regclass}),
	'4', 'restored: four indexes, all valid');
is( sql(q{SELECT string_agg(o.opcname, ',' ORDER BY o.opcname) FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = 'cells'::regclass AND i.indexrelid <> 'cells_pkey'::regclass}),
	'geohash_hash_ops,geohash_ops,quadkey_hash_ops,quadkey_ops', 'restored: btree opclasses');
($rc, $out, $err) = $node->psql($dst,
	q{SELECT bt_index_parent_check('cells_q', true, true), bt_index_parent_check('cells_g', true, true)});
is($rc, 0, 'restored: amcheck on the btree indexes') or diag($err);
sql('ANALYZE cells');
# Every column type, every index class, restored: the indexes are built anew on the rows.
is(sql("$mfingerprint markers"), $mwant, 'markers, restored: contents equal, every column type');
is(sql("$mfingerprint markers_bin"), $mwant, "markers, restored: binary copy's contents equal");
is(sql(sprintf($indexdefs, 'markers')), $mdefs, 'markers, restored: the same index definitions, all valid');
sql('ANALYZE markers');
index_checks($node, $dst, 'markers', 'markers, restored');

# EXPLAIN (sequential scans off) shows the index, with the other indexes dropped inside a
# transaction that is rolled back.
sub uses_index
{
	my ($name, $index, $sql, $drop) = @_;
	my $plan = sql(join("\n", 'BEGIN;', ($drop ? "DROP INDEX $drop;" : ()), 'SET LOCAL enable_seqscan = off;',
		"EXPLAIN (COSTS OFF) $sql;", 'ROLLBACK;'));
	like($plan, qr/(Index|Index Only) Scan using $index\b|Bitmap Index Scan on $index\b/, "restored: $name uses $index");
	return;
}
uses_index('quadkey =', 'cells_q', "SELECT id FROM cells WHERE q = '0123'", 'cells_q_hash, cells_g_hash');
uses_index('geohash =', 'cells_g', "SELECT id FROM cells WHERE g = 'u4pr'", 'cells_q_hash, cells_g_hash');
uses_index('quadkey cell range', 'cells_q', "SELECT id FROM cells WHERE q BETWEEN '0123' AND quadkey_range_end('0123')");
uses_index('geohash ORDER BY', 'cells_g', 'SELECT g FROM cells ORDER BY g LIMIT 3');
uses_index('quadkey = (hash)', 'cells_q_hash', "SELECT id FROM cells WHERE q = '0123'", 'cells_q, cells_g');
uses_index('geohash = (hash)', 'cells_g_hash', "SELECT id FROM cells WHERE g = 'u4pr'", 'cells_q, cells_g');
# Lookups through the restored hash indexes alone find every row (one value in 20 of each).
is( sql(q{BEGIN; DROP INDEX cells_q, cells_g; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
SELECT (SELECT count(*) FROM (SELECT g, count(*) AS n FROM cells_text WHERE g IS NOT NULL GROUP BY g) t
         WHERE abs(hashtext(g::text)) % 20 = 0 AND (SELECT count(*) FROM cells c WHERE c.g = t.g) <> t.n)
     + (SELECT count(*) FROM (SELECT q, count(*) AS n FROM cells_text WHERE q IS NOT NULL GROUP BY q) t
         WHERE abs(hashtext(q::text)) % 20 = 0 AND (SELECT count(*) FROM cells c WHERE c.q = t.q) <> t.n);
ROLLBACK;}), '0', 'restored: hash index lookups find every row');

$node->stop;
done_testing();
