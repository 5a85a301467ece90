#!/usr/bin/env bash
# ALTER EXTENSION ... UPDATE from every supported start version (each released install script
# frozen in src/sql/frozen/) to the current one, for both extensions:
#   1. install the start version, make data with every type, operator class and aggregate it has
#      (upgrade/data_<start>.sql, which checks that coverage itself), update both extensions;
#   2. compare the catalog with a fresh install of the current version (upgrade/catalog.sql,
#      upgrade/compare.sql): every member object, each function's definition, volatility,
#      strictness, parallel safety and owner, types, operators, operator classes; one FAIL line
#      per difference, naming the object and property;
#   3. the data still works (upgrade/after.sql): the same answers, every index used, stored
#      states read, the hierarchy built, maintained and dropped over the upgraded table.
# Uses the server in the environment or starts a throwaway one; prints `N passed, M failed` last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
. test/integration/lib_reliability/server.sh
dir=test/integration/upgrade
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" geocluster.control)
fresh=geocluster_upgrade_fresh
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# rows PREFIX OUTPUT: the lines "check|result" of psql's output, result t (or true) passes; an
# error in the output is one failure, with its first line
rows() {
  local prefix=$1 line name result
  while IFS= read -r line; do
    case $line in
      *\|*) name=${line%%|*}; result=${line#*|}
             if [ "$result" = t ] || [ "$result" = true ]; then ok "$prefix: $name"; else fail "$prefix: $name: $result"; fi ;;
    esac
  done <<< "$2"
  if echo "$2" | grep -q '^psql:.*ERROR'; then fail "$prefix: $(echo "$2" | grep -m1 '^psql:.*ERROR')"; fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$@" 2>&1; }
conninfo() { echo "dbname=$1 host=${PGHOST:-} port=${PGPORT:-5432} user=${PGUSER:-$(id -un)}"; }
extensions() {  # extensions DB VERSION-CLAUSE
  q "$1" -c "SET client_min_messages = warning; CREATE EXTENSION postgis;
             CREATE EXTENSION geocluster $2; CREATE EXTENSION geocluster_postgis $2;"
}

psql -X -q -c "DROP DATABASE IF EXISTS $fresh" >/dev/null 2>&1
psql -X -q -c "CREATE DATABASE $fresh" >/dev/null
out=$(extensions $fresh "" && q $fresh -f $dir/catalog.sql)
if [ -n "$out" ]; then fail "fresh install of $version: $out"; fi

starts=$(ls src/sql/frozen/geocluster--*.sql 2>/dev/null | sed 's/.*geocluster--\(.*\)\.sql/\1/')
[ -n "$starts" ] || fail "no frozen start version in src/sql/frozen/"
for start in $starts; do
  db=geocluster_upgrade_from_${start//./_}
  tag="from $start"
  psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  psql -X -q -c "CREATE DATABASE $db" >/dev/null
  out=$(extensions $db "VERSION '$start'")
  if [ -n "$out" ]; then fail "$tag: install $start: $out"; continue; fi
  ok "$tag: both extensions installed at $start"
  if [ ! -f $dir/data_$start.sql ]; then fail "$tag: no $dir/data_$start.sql (the data for this start version)"; continue; fi
  out=$(q $db -f $dir/data_$start.sql)
  rows "$tag: data" "$out"
  if echo "$out" | grep -q '^psql:.*ERROR'; then continue; fi
  out=$(q $db -c "ALTER EXTENSION geocluster UPDATE" -c "ALTER EXTENSION geocluster_postgis UPDATE")
  if [ -n "$out" ]; then fail "$tag: ALTER EXTENSION ... UPDATE: $out"; continue; fi
  ok "$tag: ALTER EXTENSION geocluster UPDATE; ALTER EXTENSION geocluster_postgis UPDATE"
  out=$(q $db -f $dir/catalog.sql && q $db -v fresh="$(conninfo $fresh)" -f $dir/compare.sql)
  if echo "$out" | grep -q '^psql:\|ERROR'; then fail "$tag: catalog comparison: $out"
  elif [ -z "$out" ]; then
    ok "$tag: catalog equals a fresh install of $version ($(q $fresh -c 'SELECT count(DISTINCT object) FROM upgrade_check.catalog') objects, $(q $fresh -c 'SELECT count(*) FROM upgrade_check.catalog') properties)"
  else
    while IFS= read -r line; do fail "$tag: catalog differs from a fresh install: $line"; done <<< "$out"
  fi
  rows "$tag: after the update" "$(q $db -v version="$version" -f $dir/after.sql)"
  psql -X -q -c "DROP DATABASE $db" >/dev/null 2>&1
done
psql -X -q -c "DROP DATABASE IF EXISTS $fresh" >/dev/null 2>&1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
