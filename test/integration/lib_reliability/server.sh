# The server of an integration suite, sourced by test/integration/*.sh from the tree's top: the
# one in the environment (PGHOST; scripts/test exports it), or else a throwaway one started here
# (scripts/pgtmp, from PGBIN if set) and stopped when the suite exits.
if [ -z "${PGHOST:-}" ]; then
  eval "$(scripts/pgtmp start)" || { echo "0 passed, 1 failed (no server)"; exit 1; }
  trap 'scripts/pgtmp stop "$GEOCLUSTER_PGTMP"' EXIT
fi
