#!/usr/bin/env bash
# A role that may only read (SELECT on nyx's tables, no CREATE in the schema) reads the log,
# statistics, budgets, audit, settings and templates of a database at the current schema, with
# the owner's numbers. Every open ran CREATE TABLE IF NOT EXISTS nyx_schema under the migration
# lock, which PostgreSQL refuses without CREATE even when the table is there: every command
# failed with "cannot create the schema version table ...: permission denied for schema public".
# A run as that role sends no call: the open finds it may not write, and the first call fails
# before its request is sent, naming the database and the rights it lacks (its call was sent and
# paid for, and only its record was refused).
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

"$NYX_BIN" sim --port 0 --ttft-ms 0 --token-ms 0 >"$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 250); do grep -qs 'listening on' "$work/sim.out" && break; sleep 0.02; done
url="http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$work/sim.out" | head -1)"
sent() { curl -s "$url/sim/requests?since=0" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))'; }
cat >"$work/one.lua" <<'LUA'
local nyx = require "nyx"
local spent = 0
for _, b in ipairs(nyx.budget.status()) do spent = spent + b.spent_usd end
print(spent > 0 and "read" or "nothing read")
nyx.call{ prompt = "a question a reader may not pay for", max_tokens = 8 }
print("sent")
LUA
NYX_DB="$ro" NYX_SPILL_DIR="$work" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=k ANTHROPIC_BASE_URL="$url" LLM_MAX_RETRIES=0 \
  "$NYX_BIN" run "$work/one.lua" >"$work/out" 2>"$work/err"; rc=$?
n=$(sent)
[ "$n" = 0 ]
check "a run as the reader sends no request (sent $n)" $?
[ "$rc" -eq 1 ] && ! grep -q sent "$work/out"; st=$?
check "its call fails and nyx run exits 1 (exit $rc: $(cat "$work/out"))" $st
grep -q "nothing was sent" "$work/err" && grep -q "database $name" "$work/err" &&
  grep -q "INSERT on llm_interactions" "$work/err"; st=$?
check "the error names the database and the right it lacks: $(head -c 600 "$work/err")" $st
[ "$(head -1 "$work/out")" = read ]; st=$?
check "the run still reads: nyx.budget.status() as the reader sees the owner's spending ($(head -1 "$work/out"))" $st
pg_finish
