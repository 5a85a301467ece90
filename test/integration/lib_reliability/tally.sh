# The suites' pass/fail tally, sourced by test/integration/*.sh: `ok WHAT` and `bad WHAT` print
# one line each; `finish` prints `N passed, M failed` (the line scripts/test reads) and exits
# non-zero on any failure.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok     $*"; }
bad() { failed=$((failed + 1)); echo "FAILED $*"; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}
