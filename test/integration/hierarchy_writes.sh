#!/usr/bin/env bash
# Writes to the source of a stored cluster hierarchy: random write sequences on small seeded
# datasets (plain and partitioned, the antimeridian, the poles) checked after every step against
# every guarantee and against a fresh build's clusters per zoom; a large run checked at its end;
# a REPEATABLE READ reader's snapshot while another session writes. The steps are in
# hierarchy_writes.py, the checks in hierarchy_checks.py. GEOCLUSTER_WRITES_SEED,
# GEOCLUSTER_WRITES_DATASETS (default 8), GEOCLUSTER_WRITES_STEPS (default 20),
# GEOCLUSTER_WRITES_ROWS (default 20000), GEOCLUSTER_WRITES_COUNT (default 3000) choose the draw;
# GEOCLUSTER_WRITES_EMULATE=1 checks the harness (drop, write, create per statement).
#
# Uses the server in the environment (scripts/test exports it) or starts a throwaway one.
# Prints `N passed, M failed` last and exits non-zero on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
. test/integration/lib_reliability/server.sh
py=python3
$py -c 'import psycopg2' 2>/dev/null || py=/usr/bin/python3
$py "$here/hierarchy_writes.py"
