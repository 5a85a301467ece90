// The demo map page in a real browser, checked against SQL (run by map_page.sh, which starts
// PostgreSQL, demo/serve.py and headless chromium first).
//
//   node --experimental-websocket map_page.mjs BASE_URL DEVTOOLS_PORT SCREENSHOT_DIR
//
// Drives chromium through the DevTools protocol over node's built-in WebSocket client, and asks
// PostgreSQL (psql, from PG* variables) for the clusters the same viewport should show, computed
// here independently of the server's own query. Prints one line per check.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const [baseUrl, devtoolsPort, shotDir] = process.argv.slice(2);
const RADIUS_PX = 60;
const WIDTH = 1024, HEIGHT = 768;
let passed = 0, failed = 0;

function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

// A driver error (a protocol failure, a page that never draws) is one more failed check.
process.on('unhandledRejection', (e) => {
  check('driver', false, String(e?.stack ?? e));
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
});

// --- DevTools protocol ---------------------------------------------------------------------
const targets = await (await fetch(`http://127.0.0.1:${devtoolsPort}/json/list`)).json();
const ws = new WebSocket(targets.find((t) => t.type === 'page').webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let nextId = 0;
const pending = new Map();
ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(JSON.stringify(msg.error))); else resolve(msg.result);
  }
};
function send(method, params = {}) {
  const id = ++nextId;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
async function evaluate(expression) {
  const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`in page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(expression, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await evaluate(expression)) return true;
    await sleep(100);
  }
  return false;
}
// Drawn: the last response asked for is on the map and the map has finished rendering it.
const DRAWN = 'window.demo && demo.asked > 0 && demo.drawn === demo.asked && demo.map.loaded()';

async function open(hash, source) {
  await send('Page.navigate', { url: 'about:blank' });
  await send('Page.navigate', { url: `${baseUrl}?source=${source}#${hash}` });
  return waitFor(DRAWN);
}

// What is on screen: every rendered cluster and marker once (world copies collapse to the copy
// nearest the view's centre), with its screen position.
const RENDERED = `(() => {
  const m = demo.map, centre = m.getCenter().lng, seen = new Map();
  for (const f of m.queryRenderedFeatures({ layers: ['clusters', 'markers'] })) {
    const cluster = f.properties.point_count !== undefined;
    const key = cluster ? (f.properties.cluster_id ?? f.properties.id) : (f.id ?? f.properties.id);
    let [lon, lat] = f.geometry.coordinates;
    lon += 360 * Math.round((centre - lon) / 360);
    const p = m.project([lon, lat]);
    seen.set(key, { key, cluster, count: cluster ? f.properties.point_count : 1, x: p.x, y: p.y });
  }
  const b = m.getBounds();
  return { features: [...seen.values()], zoom: m.getZoom(), request: demo.request, errors: demo.errors,
           bbox: [b.getWest(), Math.max(b.getSouth(), -90), b.getEast(), Math.min(b.getNorth(), 90)] };
})()`;

// --- the oracles ---------------------------------------------------------------------------
// `agg`: the markers in the viewport, by a longitude test of its own (distance east of the west
// edge, modulo a turn), and cluster_agg's clusters of them at the map's zoom + 1 (512 px tiles);
// `total` counts those markers. `hierarchy`: cluster_viewport over the same box, the hierarchy
// of all markers or the one by category (the server's two); `total` is the sum of their counts.
function sqlClusters(bbox, mapZoom, category, source) {
  const [w, s, e, n] = bbox.map((v) => Number(v.toFixed(6)));
  const zoom = Math.floor(mapZoom) + 1;
  const sql = source === 'hierarchy' ? `
    WITH c AS (SELECT * FROM cluster_viewport(${category ? `'markers_clusters_2', ${s}, ${w}, ${n}, ${e}, ${zoom}, '${category}'`
                                                         : `'markers_clusters', ${s}, ${w}, ${n}, ${e}, ${zoom}`}))
    SELECT json_build_object('total', (SELECT coalesce(sum(count), 0) FROM c),
                             'clusters', (SELECT coalesce(json_agg(json_build_array(CASE WHEN count = 1 THEN id ELSE cluster_id END, count)), '[]') FROM c))` : `
    WITH v AS (SELECT * FROM markers
                WHERE lat BETWEEN ${s} AND ${n}
                  AND (${e - w} >= 360 OR mod(mod((lon - (${w}))::numeric, 360) + 360, 360) <= ${e - w})
                  ${category ? `AND category = '${category}'` : ''})
    SELECT json_build_object(
             'total', (SELECT count(*) FROM v),
             'clusters', (SELECT coalesce(json_agg(json_build_array(c.id, c.count)), '[]')
                            FROM unnest((SELECT cluster_agg(lat, lon, ${zoom}, ${RADIUS_PX}, id) FROM v)) c))`;
  return JSON.parse(execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }));
}

// A hierarchy cluster's expansion zoom and its descendants at that zoom (key, count), from the
// parent links of the whole hierarchy's listing (cluster_hierarchy_nodes decodes every block, not
// the viewport's reads).
function sqlDescendants(clusterId) {
  const sql = `
    WITH RECURSIVE nodes AS MATERIALIZED (SELECT * FROM cluster_hierarchy_nodes('markers_clusters')),
    top AS (SELECT cluster_id, zoom, expansion_zoom FROM nodes WHERE cluster_id = ${clusterId}),
    below AS (SELECT cluster_id, zoom, count, id FROM nodes WHERE cluster_id = ${clusterId}
              UNION ALL
              SELECT n.cluster_id, n.zoom, n.count, n.id FROM below b JOIN nodes n ON n.parent_id = b.cluster_id
               WHERE b.zoom < (SELECT expansion_zoom FROM top))
    SELECT json_build_object('expansion_zoom', (SELECT expansion_zoom FROM top),
                             'parts', (SELECT json_agg(json_build_array(CASE WHEN count = 1 THEN id ELSE cluster_id END, count))
                                         FROM below WHERE zoom = (SELECT expansion_zoom FROM top)))`;
  return JSON.parse(execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }));
}

function compare(label, view, category, source) {
  const oracle = sqlClusters(view.bbox, view.zoom, category, source);
  const rendered = view.features.map((f) => `${f.key}:${f.count}`).sort();
  const expected = oracle.clusters.map(([id, count]) => `${id}:${count}`).sort();
  const missing = expected.filter((k) => !rendered.includes(k));
  const extra = rendered.filter((k) => !expected.includes(k));
  check(`${label}: rendered clusters are SQL's`, missing.length === 0 && extra.length === 0,
    `${rendered.length} rendered, ${expected.length} from SQL` +
    (missing.length ? `; missing ${missing.slice(0, 5).join(' ')}` : '') + (extra.length ? `; extra ${extra.slice(0, 5).join(' ')}` : ''));
  const sum = view.features.reduce((acc, f) => acc + f.count, 0);
  check(`${label}: counts add up to the markers ${source === 'agg' ? 'in view' : 'of the clusters in view'}`,
    sum === Number(oracle.total), `${sum} rendered, ${oracle.total} from SQL`);
  return oracle;
}

function spacing(label, view) {
  let closest = Infinity;
  for (let i = 0; i < view.features.length; i++) {
    for (let j = i + 1; j < view.features.length; j++) {
      const a = view.features[i], b = view.features[j];
      closest = Math.min(closest, Math.hypot(a.x - b.x, a.y - b.y));
    }
  }
  // Half a pixel for the rendered positions (tile coordinates) and the fractional zoom.
  check(`${label}: no two rendered centres closer than ${RADIUS_PX} px`, closest >= RADIUS_PX - 0.5,
    `closest ${closest.toFixed(1)} px`);
}

async function screenshot(label) {
  const { data } = await send('Page.captureScreenshot', { format: 'png' });
  const path = `${shotDir}/map_${label}.png`;
  writeFileSync(path, Buffer.from(data, 'base64'));
  check(`${label}: screenshot`, true, path);
}

async function click(x, y) {
  for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
    await send('Input.dispatchMouseEvent', { type, x, y, button: 'left', clickCount: 1 });
  }
}

// --- the checks ----------------------------------------------------------------------------
// A driver error (a protocol failure, a page that never draws) is one more failed check.
try {
await send('Page.enable');
await send('Runtime.enable');
await send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });

const VIEWS = [
  ['world', '1/20/0'],
  ['europe', '5/48/6'],
  ['antimeridian', '4/-15/180'],   // shows 157.5 E to 157.5 W, across 180
  ['europe_2_turns_east', '5/48/726'],   // Europe after panning twice round the world
];

// Each source of the server, through the page (?source=NAME): the stored hierarchy, then
// cluster_agg. Views are labelled `source view`; screenshots are map_<source>_<view>.png.
async function checkSource(source) {
  let single = null;
  const page = (hash) => open(`${hash}`, source);
  for (const [name, hash] of VIEWS) {
    const label = `${source} ${name}`;
    check(`${label}: page drawn (#${hash})`, await page(hash));
    const view = await evaluate(RENDERED);
    check(`${label}: no console error`, view.errors.length === 0, view.errors.slice(0, 3).join(' | '));
    check(`${label}: asked ${source} for zoom ${Math.floor(view.zoom)}`,
      view.request.startsWith(`${source}?`) && new URLSearchParams(view.request.split('?')[1]).get('zoom') === String(Math.floor(view.zoom)),
      view.request);
    const oracle = compare(label, view, null, source);
    spacing(label, view);
    await screenshot(`${source}_${name}`);
    const marker = view.features.find((f) => !f.cluster && f.x > 40 && f.x < WIDTH - 40 && f.y > 60 && f.y < HEIGHT - 40);
    if (marker && !single) single = { key: marker.key, hash };

    if (name === 'europe') {
      // The category filter: the page asks for it, the server applies it.
      await evaluate(`(() => { const s = document.getElementById('category'); s.value = 'park';
                               s.dispatchEvent(new Event('change')); })()`);
      await sleep(50);
      check(`${label}, park only: drawn`, await waitFor(`${DRAWN} && demo.request.includes('category=park')`));
      const park = await evaluate(RENDERED);
      const parks = compare(`${label}, park only`, park, 'park', source);
      check(`${label}, park only: fewer markers than all categories`, Number(parks.total) < Number(oracle.total),
        `${parks.total} parks of ${oracle.total}`);
      await screenshot(`${source}_${name}_park`);

      // A click on the biggest cluster in the middle of the view zooms in, where it splits.
      await evaluate(`(() => { const s = document.getElementById('category'); s.value = '';
                               s.dispatchEvent(new Event('change')); })()`);
      await sleep(50);
      await waitFor(`${DRAWN} && !demo.request.includes('category')`);
      const all = await evaluate(RENDERED);
      const target = all.features.filter((f) => f.cluster && f.x > 100 && f.x < WIDTH - 100 && f.y > 100 && f.y < HEIGHT - 100)
        .sort((a, b) => b.count - a.count)[0];
      const asked = await evaluate('demo.asked');
      await click(target.x, target.y);
      await sleep(50);
      const drawn = await waitFor(`demo.asked > ${asked} && ${DRAWN}`);
      const after = await evaluate(RENDERED);
      check(`${label}: a cluster click zooms in`, drawn && after.zoom > all.zoom,
        `cluster of ${target.count} at zoom ${all.zoom.toFixed(2)} -> ${after.zoom.toFixed(2)}`);
      const biggest = Math.max(...after.features.map((f) => f.count));
      const sum = after.features.reduce((a, f) => a + f.count, 0);
      check(`${label}: the clicked cluster splits`, after.features.length >= 2 && biggest < target.count && sum >= target.count,
        `${after.features.length} clusters and markers in view, the biggest ${biggest}, ${sum} markers in all`);
      if (source === 'hierarchy') {
        // To exactly its expansion zoom (256 px zooms: MapLibre's is one less), where its
        // descendants, at least two, all show.
        const d = sqlDescendants(target.key);
        check(`${label}: the click zooms to the expansion zoom`, Math.abs(after.zoom - (d.expansion_zoom - 1)) < 1e-9,
          `expansion zoom ${d.expansion_zoom}, map zoom ${after.zoom}`);
        const keys = new Set(after.features.map((f) => `${f.key}:${f.count}`));
        const shown = d.parts.filter(([key, count]) => keys.has(`${key}:${count}`));
        check(`${label}: its parts at that zoom are drawn`, d.parts.length >= 2 && shown.length === d.parts.length
          && d.parts.reduce((a, [, c]) => a + Number(c), 0) === target.count,
          `${shown.length} of ${d.parts.length} parts drawn, of ${d.parts.reduce((a, [, c]) => a + Number(c), 0)} markers`);
      }
      compare(`${label}, after the click`, after, null, source);
      spacing(`${label}, after the click`, after);
      await screenshot(`${source}_${name}_after_click`);
    }
  }
  // A single marker's click shows its id.
  if (single) {
    check(`${source} marker click: page drawn (#${single.hash})`, await page(single.hash));
    const again = (await evaluate(RENDERED)).features.find((f) => f.key === single.key);
    await click(again.x, again.y);
    const shown = await waitFor(`document.querySelector('.maplibregl-popup-content')?.textContent.includes('marker ${single.key}')`, 5000);
    check(`${source} marker click: a popup shows its id`, shown, `marker ${single.key}`);
  } else {
    check(`${source} marker click: a single marker in some view`, false);
  }
}

const sources = (await (await fetch(`${baseUrl}config.json`)).json()).sources;
check('server: sources', sources.includes('agg'), sources.join(', '));
for (const source of sources) await checkSource(source);

// The server: 400 for bad parameters (checked before any SQL), 404 for anything not its own.
const ok = 'bbox=-10,40,10,50&zoom=5';
for (const [query, status] of [
  [ok, 200], [`${ok}&category=park`, 200],
  ['bbox=-10,40,10&zoom=5', 400], ['bbox=10,40,-10,50&zoom=5', 400], ['bbox=-10,50,10,40&zoom=5', 400],
  ['bbox=-10,40,10,95&zoom=5', 400], ['bbox=-10,40,10,50&zoom=23', 400], ['bbox=-10,40,10,50&zoom=5.5', 400],
  ['bbox=-10,40,10,50', 400], [`${ok}&zoom=6`, 400], ['bbox=1e3,40,10,50&zoom=5', 400],
  [`${ok}&category=park'%20OR%20'1'='1`, 400], [`${ok}&category=`, 400],
]) {
  for (const source of sources) {
    const r = await fetch(`${baseUrl}clusters/${source}?${query}`);
    check(`server: /clusters/${source}?${decodeURIComponent(query)} -> ${status}`, r.status === status, `got ${r.status}`);
  }
}
for (const path of ['clusters/none?bbox=-10,40,10,50&zoom=5', 'index.html', '../serve.py', 'node_modules/maplibre-gl/package.json']) {
  const r = await fetch(`${baseUrl}${path}`);
  check(`server: /${path} -> 404`, r.status === 404, `got ${r.status}`);
}

const errors = await evaluate('demo.errors');
check('no console error in the whole run', errors.length === 0, errors.slice(0, 3).join(' | '));

} catch (e) {
  check('driver', false, String(e?.stack ?? e).split('\n').slice(0, 3).join(' | '));
}
ws.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
