# Sourced by a PostgreSQL test. `pg_database PREFIX` gives it a database of its own on the test
# cluster ($db, its URI; $base, the cluster's; $name) and a scratch directory ($work), and sets
# an EXIT trap that stops $sim_pid (when the test started a `nyx sim`), drops the database,
# removes the directory and then runs pg_cleanup_more when the test defines one. check NAME RC
# counts failures; pg_finish gives the verdict.
psql_base() { env -u LD_PRELOAD psql -q -X "$base" "$@"; }

pg_cleanup() {
  [ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null
  rm -rf "$work"
  psql_base -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1
  if declare -F pg_cleanup_more >/dev/null; then pg_cleanup_more; fi
  true
}

pg_database() {
  base=$(cat "${NYX_TEST_PG:?NYX_TEST_PG is not set (run through ctest)}")
  work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-$1-pg.XXXXXX")
  name=nyx_$1_$$
  sim_pid=""
  fails=0
  psql_base -c "CREATE DATABASE $name" >/dev/null || exit 1
  db="${base%/*}/$name"
  trap pg_cleanup EXIT
}

check() { if [ "$2" -eq 0 ]; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi; }

pg_finish() { [ "$fails" -eq 0 ] && echo "all passed" || { echo "$fails check(s) failed"; exit 1; }; }
