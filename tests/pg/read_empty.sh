#!/usr/bin/env bash
# A command that only reads, given a PostgreSQL database that holds none of nyx's tables, makes
# none there and fails as it does for a SQLite file that does not exist: exit 1, "no database
# at ..." (every such command created all of nyx's tables, then read nothing from them). The
# commands that read the template directories and the model table as well (templates, models)
# go on without the database and make nothing either. A run, which writes, makes the tables.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
pg_database empty
tables() { env -u LD_PRELOAD psql -q -X -t -A "$db" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"; }

for cmd in "log" "log --json" "stats" "thoughts" "budget" "audit" "config list" "config get budget.daily_usd" \
           "log --raw ix_none" "report --out $work/r.html"; do
  # shellcheck disable=SC2086
  "$NYX_BIN" $cmd --db "$work/missing.db" >/dev/null 2>"$work/sqlite"; src=$?
  # shellcheck disable=SC2086
  "$NYX_BIN" $cmd --db "$db" >"$work/out" 2>"$work/err"; rc=$?
  [ "$rc" -eq "$src" ] && [ "$rc" -eq 1 ] && grep -q "no database at PostgreSQL database $name" "$work/err" &&
    grep -q "only reads makes none" "$work/err" && [ ! -s "$work/out" ]; st=$?
  check "nyx $cmd on an empty database: exit $rc as on a missing SQLite file ($src): $(cat "$work/err")" $st
  n=$(tables)
  [ "$n" = 0 ]
  check "nyx $cmd made no table (found $n)" $?
done
[ ! -e "$work/missing.db" ] && [ ! -e "$work/r.html" ]
check "nor did they make a SQLite file or a report" $?

for cmd in "templates list" "templates --json" "models"; do
  # shellcheck disable=SC2086
  "$NYX_BIN" $cmd --db "$db" >"$work/out" 2>"$work/err"; rc=$?
  [ "$rc" -eq 0 ] && [ -s "$work/out" ]; st=$?
  check "nyx $cmd lists without the database (exit $rc: $(head -c 300 "$work/err"))" $st
  n=$(tables)
  [ "$n" = 0 ]
  check "nyx $cmd made no table (found $n)" $?
done

echo 'require("nyx").call{ prompt = "hello", max_tokens = 8 }' >"$work/one.lua"
NYX_DB="$db" "$NYX_BIN" run "$work/one.lua" >/dev/null 2>"$work/err"; rc=$?
check "a run makes the tables and records its call (exit $rc: $(cat "$work/err"))" "$rc"
"$NYX_BIN" stats --db "$db" >"$work/out" 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && grep -Eq "^total +1 " "$work/out"; st=$?
check "then nyx stats reads it (exit $rc: $(cat "$work/out" "$work/err"))" $st
pg_finish
