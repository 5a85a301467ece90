// What supercluster's GeoJSON looks like, for test/integration/geojson_supercluster.py to hold
// cluster_geojson to. Run it after `npm ci` in this directory (package.json and
// package-lock.json pin supercluster):
//
//   node shapes.mjs > expected_shapes.json
//
// The points are the ones geojson_supercluster.py makes in SQL (the same float arithmetic):
// 20,000 in a dense square over Paris, for counts past 10,000, and 5,000 over the world; point
// i has id i and properties {name: "m<i>"}. The output is what does not depend on the
// clustering algorithm: which keys a cluster and a point feature have, the JSON type of each
// property, whether points keep their own properties, how far from its input a point comes
// back (supercluster's round trip through Web Mercator: a few ulps; cluster_geojson gives the
// stored value), and point_count_abbreviated for every count that supercluster made.
import Supercluster from 'supercluster';

export function points() {
    const features = [];
    for (let i = 0; i < 25000; i++) {
        const [lat, lon] = i < 20000
            ? [48.8 + (i * 7919 % 3001) / 15000, 2.25 + (i * 104729 % 3001) / 12000]
            : [-60 + (i * 7919 % 12001) / 100, -180 + (i * 104729 % 36001) / 100];
        features.push({type: 'Feature', id: i, properties: {name: `m${i}`},
                       geometry: {type: 'Point', coordinates: [lon, lat]}});
    }
    return features;
}

const input = points();
const index = new Supercluster({radius: 60, extent: 256, maxZoom: 16}).load(input);
const keys = o => Object.keys(o).sort();
const types = o => Object.fromEntries(keys(o).map(k => [k, typeof o[k]]));
const shapes = {cluster: new Set(), point: new Set()};
const abbreviated = {};
let pointsKeepProperties = true;
let pointOffsetDeg = 0;  // supercluster gives a point back through its Mercator projection
for (const zoom of [0, 3, 6, 9, 12, 15, 17]) {
    for (const f of index.getClusters([-180, -90, 180, 90], zoom)) {
        const kind = f.properties.cluster ? 'cluster' : 'point';
        shapes[kind].add(JSON.stringify({feature: keys(f), geometry: f.geometry.type, properties: types(f.properties),
                                         id: typeof f.id}));
        if (kind === 'cluster') {
            abbreviated[f.properties.point_count] = f.properties.point_count_abbreviated;
        } else {
            const source = input[f.id];
            pointsKeepProperties &&= JSON.stringify(f.properties) === JSON.stringify(source.properties);
            f.geometry.coordinates.forEach((v, k) => {
                pointOffsetDeg = Math.max(pointOffsetDeg, Math.abs(v - source.geometry.coordinates[k]));
            });
        }
    }
}
console.log(JSON.stringify({
    supercluster: '9.1.0',
    cluster: [...shapes.cluster].map(s => JSON.parse(s)),
    point: [...shapes.point].map(s => JSON.parse(s)),
    points_keep_their_properties: pointsKeepProperties,
    points_largest_coordinate_offset_deg: pointOffsetDeg,
    point_count_abbreviated: abbreviated,
}, null, 1));
