#!/usr/bin/env bash
# The vector tiles of stored cluster hierarchies, decoded (hierarchy_tiles.py). Uses the server in
# the environment or starts a throwaway one; prints `N passed, M failed` last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
. test/integration/lib_reliability/server.sh
py=python3
$py -c 'import psycopg2' 2>/dev/null || py=/usr/bin/python3
$py "$here/hierarchy_tiles.py"
