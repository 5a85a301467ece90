// supercluster on the benchmark's points, for bench/harness/supercluster.py (bench/README.md,
// "The cluster hierarchy against supercluster").
//
//   node run.mjs --points FILE --queries FILE.json [--radius 60] [--extent 256] [--max-zoom 16]
//                [--repeat 3]
//
// FILE is `COPY (SELECT lat, lon FROM t ORDER BY id) TO ... (FORMAT binary)`: PostgreSQL's binary
// COPY of two float8 columns, which has fixed-width rows, so it is read without a parser.
// FILE.json is a list of {zoom, west, south, east, north} (west > east across the antimeridian,
// as getClusters takes it). Prints one JSON object on stdout: the index's build time (wall and
// CPU) and the process's peak RSS, then per query the timed runs of getClusters (one untimed
// warm-up first, as the harness does for its SQL approaches) and what the first run returned: the
// cluster count, the sum of the counts (point_count, 1 for a lone point) and the centres as
// [lat, lon].

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import Supercluster from 'supercluster';

function parseArgs(argv) {
    const args = { radius: 60, extent: 256, maxZoom: 16, repeat: 3 };
    const names = { '--points': 'points', '--queries': 'queries', '--radius': 'radius',
                    '--extent': 'extent', '--max-zoom': 'maxZoom', '--repeat': 'repeat' };
    for (let i = 0; i < argv.length; i += 2) {
        const key = names[argv[i]];
        if (!key || i + 1 >= argv.length) throw new Error(`run.mjs: bad argument ${argv[i]}`);
        args[key] = key === 'points' || key === 'queries' ? argv[i + 1] : Number(argv[i + 1]);
    }
    if (!args.points || !args.queries) throw new Error('run.mjs: --points and --queries are required');
    return args;
}

// PostgreSQL binary COPY: an 11-byte signature, a 4-byte flags field, a 4-byte header extension
// length (and that many bytes), then per row a 2-byte field count and per field a 4-byte length
// and the value (float8: 8 bytes, big-endian), and a 2-byte -1 at the end.
const SIGNATURE = 'PGCOPY\n\xff\r\n\0';
const ROW_BYTES = 2 + 2 * (4 + 8);

function readPoints(path) {
    const buf = readFileSync(path);
    if (buf.toString('latin1', 0, 11) !== SIGNATURE) throw new Error(`${path}: not a binary COPY file`);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 15 + 4 + view.getUint32(15);
    const rows = Math.floor((buf.byteLength - at - 2) / ROW_BYTES);
    if (at + rows * ROW_BYTES + 2 !== buf.byteLength || view.getInt16(at + rows * ROW_BYTES) !== -1) {
        throw new Error(`${path}: expected rows of two non-null float8 columns`);
    }
    // The GeoJSON features supercluster's load() takes; no properties: the counts are its own.
    const features = new Array(rows);
    for (let i = 0; i < rows; i++, at += ROW_BYTES) {
        if (view.getInt16(at) !== 2 || view.getInt32(at + 2) !== 8 || view.getInt32(at + 14) !== 8) {
            throw new Error(`${path}: row ${i} is not two non-null float8 fields`);
        }
        const lat = view.getFloat64(at + 6);
        const lon = view.getFloat64(at + 18);
        features[i] = { type: 'Feature', properties: null, geometry: { type: 'Point', coordinates: [lon, lat] } };
    }
    return features;
}

const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;  // getrusage: peak so far

function main() {
    const args = parseArgs(process.argv.slice(2));
    const queries = JSON.parse(readFileSync(args.queries, 'utf8'));
    const t0 = performance.now();
    const features = readPoints(args.points);
    const readMs = performance.now() - t0;
    const rssBeforeBuild = process.memoryUsage().rss;
    const peakBeforeBuild = maxRssBytes();

    const t1 = performance.now();
    const cpu1 = process.cpuUsage();  // the process's: V8's helper threads (GC) included
    const index = new Supercluster({ radius: args.radius, extent: args.extent, maxZoom: args.maxZoom }).load(features);
    const buildMs = performance.now() - t1;
    const buildCpu = process.cpuUsage(cpu1);
    const peakAfterBuild = maxRssBytes();
    const rssAfterBuild = process.memoryUsage().rss;

    const results = queries.map(q => {
        const bbox = [q.west, q.south, q.east, q.north];
        const first = index.getClusters(bbox, q.zoom);  // the warm-up; its clusters are measured
        const samplesMs = [];
        for (let r = 0; r < args.repeat; r++) {
            const t = performance.now();
            index.getClusters(bbox, q.zoom);
            samplesMs.push(performance.now() - t);
        }
        let countsSum = 0;
        const centres = first.map(f => {
            countsSum += f.properties && f.properties.cluster ? f.properties.point_count : 1;
            const [lon, lat] = f.geometry.coordinates;
            return [lat, lon];
        });
        return { zoom: q.zoom, samples_ms: samplesMs, clusters: first.length, counts_sum: countsSum, centres };
    });

    process.stdout.write(JSON.stringify({
        supercluster: JSON.parse(readFileSync(new URL('./node_modules/supercluster/package.json', import.meta.url))).version,
        node: process.version,
        options: { radius: args.radius, extent: args.extent, maxZoom: args.maxZoom },
        points: features.length,
        read_ms: readMs,
        build_ms: buildMs,
        build_cpu_ms: (buildCpu.user + buildCpu.system) / 1000,
        // The features alone (the input every supercluster user holds), then the peak with the index.
        rss_before_build_bytes: rssBeforeBuild,
        peak_rss_before_build_bytes: peakBeforeBuild,
        peak_rss_bytes: peakAfterBuild,
        rss_after_build_bytes: rssAfterBuild,
        queries: results,
    }) + '\n');
}

main();
