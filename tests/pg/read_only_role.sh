#!/usr/bin/env bash
# A role that may only read (SELECT on nyx's tables, no CREATE in the schema) reads the log,
# statistics, budgets, audit, settings and templates of a database at the current schema, with
# the owner's numbers. Every open ran CREATE TABLE IF NOT EXISTS nyx_schema under the migration
# lock, which PostgreSQL refuses without CREATE even when the table is there: every command
# failed with "cannot create the schema version table ...: permission denied for schema public".
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
pg_database ro
role=nyx_ro_$$
pg_cleanup_more() { psql_base -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1; }
hostport=${base#*@}
hostport=${hostport%%/*}
ro="postgresql://$role@$hostport/$name"

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
nyx.templates.create("ro_summary", "Summarise {{doc}}.")
nyx.thought{ label = "plan" }
for i = 1, 3 do nyx.call{ prompt = "question " .. i, max_tokens = 8, session = "ro" } end
LUA
NYX_DB="$db" LLM_DAILY_BUDGET_USD=5 "$NYX_BIN" run "$work/calls.lua" >/dev/null 2>"$work/err" ||
  { cat "$work/err"; exit 1; }
env -u LD_PRELOAD psql -q -X "$db" -c "CREATE ROLE $role LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO $role" \
  >/dev/null || exit 1

for cmd in "stats" "stats --json --by session" "log --json" "thoughts" "budget --json" "audit --json --kind config" \
           "config list --json" "templates --json" "templates history ro_summary --json"; do
  # shellcheck disable=SC2086
  "$NYX_BIN" $cmd --db "$db" >"$work/owner" 2>&1
  # shellcheck disable=SC2086
  "$NYX_BIN" $cmd --db "$ro" >"$work/reader" 2>&1; rc=$?
  [ "$rc" -eq 0 ] && cmp -s "$work/owner" "$work/reader"; st=$?
  check "nyx $cmd as a reader: exit $rc, as the owner sees it: $(head -c 300 "$work/reader")" $st
done
"$NYX_BIN" report --db "$ro" --out "$work/r.html" >/dev/null 2>"$work/err"; rc=$?
[ "$rc" -eq 0 ] && [ -s "$work/r.html" ]; st=$?
check "nyx report as a reader: exit $rc $(cat "$work/err")" $st
"$NYX_BIN" stop --db "$ro" >/dev/null 2>"$work/err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "permission denied" "$work/err"; st=$?
check "nyx stop as a reader fails, saying why (exit $rc: $(cat "$work/err"))" $st
pg_finish
