#!/usr/bin/env bash
# The structure the code keeps (test/README.md, "Structure"): no function in src/ over
# MAX_FUNCTION_LINES lines, C++ or SQL, and the engine's large files under MAX_FILE_LINES. One line
# per function or file over its limit, `N passed, M failed` last.
#
# C++ functions are found by universal-ctags (their first and last line, signature included);
# SQL and plpgsql functions from `CREATE [OR REPLACE] FUNCTION` to the end of their body (the
# line that closes the $$ or ends the statement). The released 0.1.0 scripts in src/sql/frozen/
# are kept byte for byte as released, so they are not checked.
set -uo pipefail
cd "$(dirname "$0")/../.."
MAX_FUNCTION_LINES=${MAX_FUNCTION_LINES:-80}
MAX_FILE_LINES=${MAX_FILE_LINES:-500}
ctags=$(command -v ctags-universal || command -v ctags) ||
    { echo "FAIL universal-ctags is not installed (scripts/install-deps)"; echo "0 passed, 1 failed"; exit 1; }

pass=0 fail=0
check() {  # check OK MESSAGE
    if [ "$1" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $2"; fi
}

# C++: "lines path:first name" per function definition.
cpp=$(git ls-files 'src/*.cpp' 'src/*.hpp' |
      xargs "$ctags" --languages=C++ --kinds-C++=f --fields=+ne -o - 2>/dev/null |
      awk -F'\t' '{ first = ""; last = "";
                    for (i = 4; i <= NF; i++) {
                        if ($i ~ /^line:/) first = substr($i, 6);
                        if ($i ~ /^end:/) last = substr($i, 5) }
                    if (first != "" && last != "") print last - first + 1, $2 ":" first, $1 }')
n_cpp=$(printf '%s\n' "$cpp" | grep -c .)
[ "$n_cpp" -gt 100 ]; check $? "ctags found only $n_cpp C++ functions in src/ (is it universal-ctags?)"
while read -r lines where name; do
    [ "$lines" -le "$MAX_FUNCTION_LINES" ]; check $? "$where $name is $lines lines (limit $MAX_FUNCTION_LINES)"
done <<< "$cpp"

# SQL: the same per function of the install pieces.
sql=$(python3 - <<'EOF'
import re, subprocess
files = subprocess.run(['git', 'ls-files', 'src/sql/*.sql', 'src/sql/*.sql.in'], capture_output=True,
                       text=True, check=True).stdout.split()
for path in files:
    if '/frozen/' in path:
        continue
    lines = open(path).read().split('\n')
    start = name = None
    for i, line in enumerate(lines):
        m = re.match(r'\s*CREATE (?:OR REPLACE )?FUNCTION\s+([^\s(]+)', line)
        if m:
            start, name, dollars = i, m.group(1), 0
        if start is None:
            continue
        dollars += line.count('$$')
        # a body's end: its closing $$ (an even count), or a statement's end outside any body
        if (dollars and dollars % 2 == 0) or (not dollars and line.rstrip().endswith(';')):
            print(i - start + 1, '%s:%d' % (path, start + 1), name)
            start = None
EOF
)
n_sql=$(printf '%s\n' "$sql" | grep -c .)
[ "$n_sql" -gt 50 ]; check $? "found only $n_sql SQL functions in src/sql"
while read -r lines where name; do
    [ "$lines" -le "$MAX_FUNCTION_LINES" ]; check $? "$where $name is $lines lines (limit $MAX_FUNCTION_LINES)"
done <<< "$sql"

# The engine's files that once held several phases each.
for f in src/core/cluster_finalize.cpp src/core/cluster.cpp src/pg/planner_support.cpp; do
    lines=$(wc -l < "$f")
    [ "$lines" -lt "$MAX_FILE_LINES" ]; check $? "$f is $lines lines (limit $MAX_FILE_LINES)"
done

echo "ok   $n_cpp C++ and $n_sql SQL functions of src/ at most $MAX_FUNCTION_LINES lines each"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
