#!/usr/bin/env bash
# Every ```sql block of README.md runs, in order, in a fresh database of the test server, and
# must succeed: the README shows nothing that a test does not run. A block preceded by the
# HTML comment `<!-- test: fresh database -->` starts again in a new, empty database. A block
# preceded by `<!-- file: PATH -->` must also be, verbatim, the file PATH of the repository
# (a recipe that a regression test runs with assertions, e.g. test/sql/include/tiles_recipe.sql).
set -uo pipefail
cd "$(dirname "$0")/../.."
db=geocluster_readme
psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 || { echo "0 passed, 1 failed"; exit 1; }
passed=0; failed=0
tmp=$(mktemp -d)
python3 - "$tmp" <<'PY'
import re, sys, os
text = open("README.md").read()
blocks = re.findall(r"(<!-- test: fresh database -->\s*)?```sql\n(.*?)```", text, re.S)
for i, (fresh, b) in enumerate(blocks):
    open(os.path.join(sys.argv[1], f"{i:03d}{'-fresh' if fresh else ''}.sql"), "w").write(b)
PY
for f in "$tmp"/*.sql; do
  [ -e "$f" ] || continue
  if [[ "$f" == *-fresh.sql ]]; then
    psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
  fi
  if psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$f" >"$f.out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "README block $(basename "$f") failed:"; cat "$f"; cat "$f.out"
  fi
done
rm -rf "$tmp"
while IFS= read -r line; do
  case "$line" in
    same:*) passed=$((passed + 1)) ;;
    *) failed=$((failed + 1)); echo "$line" ;;
  esac
done < <(python3 - <<'PY'
import re
text = open("README.md").read()
for path, body in re.findall(r"<!-- file: (\S+) -->\s*```sql\n(.*?)```", text, re.S):
    try:
        same = open(path).read() == body
    except OSError as e:
        print(f"README block quoting {path}: {e}"); continue
    print(f"same: {path}" if same else f"README block quoting {path} differs from the file")
PY
)
psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null
echo "README sql blocks: $passed passed, $failed failed"
[ "$failed" = 0 ]
