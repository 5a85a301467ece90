#!/usr/bin/env bash
# The demo map (scripts/demo-map) in a real browser: demo/serve.py over 300,000 generated
# markers, the page (demo/web/index.html) in Debian's chromium, headless, with software WebGL,
# driven through the DevTools protocol by map_page.mjs. For each of the server's sources (the
# stored cluster hierarchy, when the extension has it, and cluster_agg) and four views (the
# world at zoom 1, Europe at zoom 5, a view across the antimeridian at zoom 4, and Europe again
# after panning twice round the world, where MapLibre's longitudes pass 700) it checks
# that the page drew without a console error, that the clusters and markers it rendered
# (queryRenderedFeatures) are the ones SQL gives for the same viewport (cluster_agg over the
# markers in it, selected here by a longitude test of this file's own; cluster_viewport for the
# hierarchy), with counts adding up (to the markers in the viewport for cluster_agg), and that
# no two rendered centres are closer than the 60 px radius; then the category filter (rendered
# = SQL with the filter), a cluster click (the map zooms in, the cluster splits; with the
# hierarchy, to exactly its expansion zoom, where all its parts show), a marker click (a popup
# with its id), and the server's 400s and 404s. Screenshots of each view go to
# test/logs/map_page/ (MAP_PNG=path copies the Europe view of the page's first source there
# too: that is how docs/map.png is made).
#
# One check = one line `ok ...` or `FAIL ...`; the last line is `N passed, M failed`. Uses the
# server in PGHOST/PGPORT/PGUSER (a database of its own, dropped at the end) or starts a
# throwaway one; needs chromium, node and demo/web/node_modules (npm ci, run here if missing).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
MARKERS=${MAP_PAGE_MARKERS:-300000}
shots=test/logs/map_page
mkdir -p "$shots"
rm -f "$shots"/map_*.png
work=$(mktemp -d /tmp/geocluster-map.XXXXXX)

fail_setup() { echo "FAIL setup: $1"; echo "0 passed, 1 failed"; exit 1; }

started_server=
server_pid=
browser_pid=
cleanup() {
  [ -n "$browser_pid" ] && kill "$browser_pid" 2>/dev/null && wait "$browser_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ -n "$started_server" ]; then
    scripts/pgtmp stop
  else
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS geocluster_map_page" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

command -v chromium >/dev/null || fail_setup "chromium is missing (scripts/install-deps)"
command -v node >/dev/null || fail_setup "node is missing (scripts/install-deps)"
if [ ! -d demo/web/node_modules/maplibre-gl ]; then
  (cd demo/web && npm ci --no-audit --no-fund >/dev/null 2>&1) || fail_setup "npm ci in demo/web failed"
fi

if [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || fail_setup "no server"
  started_server=1
fi
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS geocluster_map_page" -c "CREATE DATABASE geocluster_map_page" \
  || fail_setup "cannot create the database"
export PGDATABASE=geocluster_map_page

# Debian's python3, which has psycopg2 (python3-psycopg2), whatever python3 comes first on PATH.
/usr/bin/python3 demo/serve.py --port 0 --load-markers "$MARKERS" --quiet >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
url=
for _ in $(seq 1 1500); do   # the load: about 25 s on an idle machine
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$work/serve.out" 2>/dev/null | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$url" ] || { cat "$work/serve.err"; fail_setup "demo/serve.py did not start"; }

# Port 0: chromium picks a free port on 127.0.0.1 and writes it to DevToolsActivePort.
# --no-sandbox: CI runs as root, where chromium's sandbox refuses to start. SwiftShader is
# chromium's software WebGL, for a machine without a GPU.
chromium --headless --no-sandbox --remote-debugging-address=127.0.0.1 --remote-debugging-port=0 \
  --user-data-dir="$work/profile" --use-angle=swiftshader --enable-unsafe-swiftshader \
  --window-size=1024,768 --no-first-run --no-default-browser-check --disable-extensions \
  --disable-background-networking --disable-sync about:blank >"$work/chromium.log" 2>&1 &
browser_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(head -n 1 "$work/profile/DevToolsActivePort" 2>/dev/null)
  [ -n "$port" ] && break
  sleep 0.2
done
[ -n "$port" ] || { tail -n 20 "$work/chromium.log"; fail_setup "chromium did not start"; }

timeout 150 node --no-warnings --experimental-websocket "$here/map_page.mjs" "$url" "$port" "$shots"
status=$?
if [ "$status" = 124 ]; then echo "FAIL map_page.mjs timed out"; echo "0 passed, 1 failed"; fi
# The picture of the page as scripts/demo-map opens it: its first source, the hierarchy when
# the extension has one.
if [ -n "${MAP_PNG:-}" ]; then
  for f in "$shots/map_hierarchy_europe.png" "$shots/map_agg_europe.png"; do
    if [ -f "$f" ]; then cp "$f" "$MAP_PNG"; break; fi
  done
fi
exit "$status"
