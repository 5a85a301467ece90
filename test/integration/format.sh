#!/usr/bin/env bash
# Every C++ file in the repository is laid out as .clang-format says (Debian 12's clang-format 14):
# one line per file, `N passed, M failed` last. `clang-format -i FILE` fixes a file that fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
format=$(command -v clang-format-14 || command -v clang-format) || { echo "FAIL clang-format is not installed (scripts/install-deps)"; echo "0 passed, 1 failed"; exit 1; }
pass=0 fail=0
while IFS= read -r -d '' f; do
    if out=$("$format" --style=file --dry-run --Werror "$f" 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $f: $(printf '%s\n' "$out" | grep -m1 'error:' | sed 's/^[^:]*://')"
    fi
done < <(git ls-files -z '*.cpp' '*.hpp' '*.h' '*.c' 2>/dev/null || find src test bench -name '*.[ch]pp' -print0)
echo "ok   $pass files laid out as .clang-format says"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
