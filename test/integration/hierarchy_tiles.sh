#!/usr/bin/env bash
# The vector tiles of stored cluster hierarchies, decoded (hierarchy_tiles.py). Uses the server in
# the environment or starts a throwaway one; prints `N passed, M failed` last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
if [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  trap 'scripts/pgtmp stop "$GEOCLUSTER_PGTMP"' EXIT
fi
py=python3
$py -c 'import psycopg2' 2>/dev/null || py=/usr/bin/python3
$py "$here/hierarchy_tiles.py"
