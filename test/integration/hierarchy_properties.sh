#!/usr/bin/env bash
# Property test of the stored cluster hierarchy at every zoom: conservation, separation, nesting,
# centres and bounds, viewports and determinism, on seeded random datasets (partitions, the
# antimeridian, the poles) and on the benchmark generator's distribution. The datasets and the
# independent checks are in hierarchy_properties.py. GEOCLUSTER_HIER_SEED, GEOCLUSTER_HIER_DATASETS
# (default 32), GEOCLUSTER_HIER_BENCH_ROWS (default 20000) choose the draw.
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one.
# Prints `N passed, M failed` last and exits non-zero on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
. test/integration/lib_reliability/server.sh
py=python3
$py -c 'import psycopg2' 2>/dev/null || py=/usr/bin/python3
$py "$here/hierarchy_properties.py"
