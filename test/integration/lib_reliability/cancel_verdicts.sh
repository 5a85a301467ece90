# The verdicts on a 100-iteration cancellation loop, shared by cluster_cancel.sh and
# cancel_scans.sh (sourced; the caller defines ok and fail). The loop's output carries lines
# `iter N KIND TIMEOUT_MS sqlstate S elapsed MS`, and mem_before/mem_after (the backend's memory
# contexts, bytes) and anon_before/anon_mid/anon_after (its RssAnon, kB, after warm-up, after 50
# iterations and after 100).
#
#   loop_verdicts "$out" KIND ...
loop_verdicts() {
  local out=$1 k mb ma ab am aa
  shift
  for k in "$@"; do
    grep -E "^iter [0-9]+ $k " <<<"$out" | awk -v k="$k" '
      { over = $NF - $5; if (over > max) max = over; n++ }
      END { printf "   %s: %d iterations, largest overshoot past the timeout %d ms\n", k, n, max }'
  done
  mb=$(sed -n 's/^mem_before //p' <<<"$out"); ma=$(sed -n 's/^mem_after //p' <<<"$out")
  ab=$(sed -n 's/^anon_before //p' <<<"$out"); am=$(sed -n 's/^anon_mid //p' <<<"$out"); aa=$(sed -n 's/^anon_after //p' <<<"$out")
  if [ -n "$mb" ] && [ -n "$ma" ] && (( ma - mb <= 1048576 )); then
    ok "memory contexts: $mb bytes before, $ma after ($(printf '%+d' $(( ma - mb ))), limit +1 MB)"
  else
    fail "memory contexts: ${mb:-?} bytes before, ${ma:-?} after (limit +1 MB)"
  fi
  # RssAnon may rise to the largest footprint any one query reached (malloc keeps freed memory
  # for reuse), but a leak keeps growing: compare the second 50 iterations with the first.
  if [ -n "$am" ] && [ -n "$aa" ] && (( aa - am <= 8192 )); then
    ok "RssAnon: $ab kB after warm-up, $am kB after 50 iterations, $aa kB after 100 ($(printf '%+d' $(( aa - am ))) kB in the last 50, limit +8 MB)"
  else
    fail "RssAnon: ${ab:-?} kB after warm-up, ${am:-?} kB after 50 iterations, ${aa:-?} kB after 100 (limit +8 MB in the last 50)"
  fi
}
