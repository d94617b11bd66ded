# A batch outlives the process that submitted it, on either database (sourced by
# tests/e2e/batch_pickup.sh for SQLite and tests/pg/batch_pickup.sh for PostgreSQL, each with
# $work, $NYX_DB and a sql function that prints one query's rows):
# - its rows and the reservations its requests hold are committed before it is sent, and the
#   API's id as soon as it is known;
# - `nyx batch submit` killed (SIGKILL) while waiting: `nyx batch results ID` in one process and
#   nyx.batch_pickup in another, at once, log every result exactly once at batch prices
#   (service_tier batch), under the template (one use each in template_usage), and settle
#   every reservation at the cost;
# - picking it up again logs nothing new; `nyx batch status ID` reads it from the database;
# - an expired and a cancelled batch picked up report each request's own outcome.
set -uo pipefail
# shellcheck source=check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

start_sim --api-key pickup-key --batch-ms 2500
pids+=("$sim_pid")
slow_url=$url
start_sim --api-key pickup-key --batch-ms 600000 --batch-expiry-ms 2000
pids+=("$sim_pid")
never_url=$url

classify_template "$work/tpl"
mkdir -p "$work/cwd"
cd "$work/cwd" || exit 1
for n in 1 2 3 4 5 6; do printf '{"id":"t%d","ticket":"ticket number %d"}\n' "$n" "$n"; done >rows.jsonl
clean_env+=("NYX_DB=$NYX_DB" "NYX_TEMPLATE_PATH=$work/tpl" "ANTHROPIC_API_KEY=pickup-key"
           "LLM_DAILY_BUDGET_USD=5")

# Whether the query prints want.
sql_is() { [[ "$(sql "$1")" == "$2" ]]; }

"${clean_env[@]}" "ANTHROPIC_BASE_URL=$slow_url" "$NYX_BIN" batch submit classify --input rows.jsonl \
  >"$work/submit.out" 2>"$work/submit.err" &
submit=$!
pids+=($submit)
poll sql_is "SELECT count(*) FROM llm_batch_requests WHERE provider_id IS NOT NULL" 6
check "the batch, its six requests and the API's id are committed while it waits" $? \
  "$(sql "SELECT * FROM llm_batch_requests"; cat "$work/submit.err")"
kill -9 "$submit"
wait "$submit" 2>/dev/null
[[ $(sql "SELECT count(*) FROM llm_interactions") == 0 ]]
check "killed while waiting: nothing was logged yet" $? "$(sql "SELECT id, status FROM llm_interactions")"
[[ $(sql "SELECT count(*) FROM budget_holds WHERE pid IS NULL") == 1 ]]
check "one reservation for the whole batch, held by the batch, not by the dead process" $? "$(sql "SELECT * FROM budget_holds")"
id=$(sql "SELECT DISTINCT provider_id FROM llm_batch_requests")
[[ $(sql "SELECT count(*), count(DISTINCT reservation_id) FROM llm_batch_requests WHERE template = 'classify' AND reservation_id IS NOT NULL AND reserved_usd > 0") == "6|1" ]]
check "each request row names its template and its reservation" $? "$(sql "SELECT * FROM llm_batch_requests")"

# A process that starts (the engine reaps dead processes' reservations) keeps them held. It asks
# the other simulator, which does not know the batch (404, nothing settled): asked the one that
# ran it, a run slower than the batch's 2.5 s would find it ended and rightly settle its hold.
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$never_url" "$NYX_BIN" batch status "$id" >"$work/st.out" 2>"$work/st.err"
[[ $(sql "SELECT count(*) FROM budget_holds") == 1 ]]
check "another process starting does not reap the batch's reservation" $? "$(cat "$work/st.err")"

# Two processes pick it up at once: the CLI and a script.
cat >"$work/pickup.lua" <<'LUA'
local nyx = require "nyx"
local p = nyx.batch_pickup(nyx.vars.id)
local ok = 0
for _, r in ipairs(p.results) do if r.ok then ok = ok + 1 end end
print(#p.results, ok, p.processing_status)
LUA
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$slow_url" "$NYX_BIN" run "$work/pickup.lua" --var "id=$id" \
  >"$work/lua.out" 2>"$work/lua.err" &
lua_pid=$!
pids+=($lua_pid)
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$slow_url" "$NYX_BIN" batch results "$id" --out "$work/r.jsonl" \
  >"$work/res.out" 2>"$work/res.err"
rc=$?
wait "$lua_pid"
lrc=$?
check "nyx batch results ID waits for the batch and exits 0 when all succeeded" "$rc" "$(cat "$work/res.err")"
[[ $lrc == 0 && $(cat "$work/lua.out") == "6	6	ended" ]]
check "nyx.batch_pickup in another process at the same time gets every result" $? \
  "$(cat "$work/lua.out" "$work/lua.err")"
[[ $(grep -c '"ok":true' "$work/r.jsonl") == 6 ]]
check "the results file has one line per request" $? "$(cat "$work/r.jsonl")"
[[ $(sql "SELECT count(*), count(DISTINCT custom_id) FROM llm_interactions WHERE batch_id IS NOT NULL AND service_tier = 'batch' AND template = 'classify' AND status = 'ok' AND cost_usd > 0") == "6|6" ]]
check "every result is logged exactly once, at batch prices, under its template" $? \
  "$(sql "SELECT id, batch_id, custom_id, service_tier, template, status, cost_usd FROM llm_interactions")"
[[ $(sql "SELECT count(*) FROM llm_interactions") == 6 ]]
check "and nothing else is logged" $? "$(sql "SELECT id, custom_id FROM llm_interactions")"
[[ $(sql "SELECT count(*) FROM budget_holds") == 0 ]]
check "every reservation is settled" $? "$(sql "SELECT * FROM budget_holds")"
[[ $(sql "SELECT sum(uses), sum(successes), sum(output_tokens) > 0 FROM template_usage WHERE name = 'classify'") =~ ^6\|6\|(1|t)$ ]]
check "the template's usage counts each picked-up result once, as a call made here would" $? \
  "$(sql "SELECT * FROM template_usage")"
spent=$(sql "SELECT spent_usd FROM budgets WHERE scope LIKE 'day:%'")
total=$(sql "SELECT sum(cost_usd) FROM llm_interactions")
awk -v a="$spent" -v b="$total" 'BEGIN { exit !(a > 0 && a - b < 1e-9 && b - a < 1e-9) }'
check "the day's budget spent what the results cost (\$$spent = \$$total)" $? "$(sql "SELECT * FROM budgets"; sql "SELECT custom_id, cost_usd FROM llm_interactions")"

"${clean_env[@]}" "$NYX_BIN" stats --json >"$work/stats.json" 2>&1
grep -q '"batch_calls":6,' "$work/stats.json" &&
  awk -v t="$total" -F'"batch_saved_usd":' '{ split($2, a, /[,}]/); exit !(a[1] - t < 1e-9 && t - a[1] < 1e-9) }' "$work/stats.json"
check "nyx stats --json: 6 batch calls that saved what they cost (half price)" $? "$(cat "$work/stats.json")"
"${clean_env[@]}" "$NYX_BIN" stats >"$work/stats.txt" 2>&1
grep -q '^batches: 6 calls at batch prices, [0-9]* cache-read tokens, saved \$0\.00[0-9]* against standard prices' "$work/stats.txt"
check "nyx stats says what batches saved" $? "$(cat "$work/stats.txt")"

"${clean_env[@]}" "ANTHROPIC_BASE_URL=$slow_url" "$NYX_BIN" batch results "$id" >"$work/again.out" 2>"$work/again.err"
rc=$?
[[ $rc == 0 && $(sql "SELECT count(*) FROM llm_interactions") == 6 && $(wc -l <"$work/again.out") == 6 ]]
check "results a second time prints them again and logs nothing new" $? "$(cat "$work/again.err")"
grep -q ": 0 logged now" "$work/again.err"
check "and says so" $? "$(cat "$work/again.err")"
[[ $(sql "SELECT sum(uses) FROM template_usage WHERE name = 'classify'") == 6 ]]
check "and counts no use of its template again" $? "$(sql "SELECT * FROM template_usage")"
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$slow_url" "$NYX_BIN" batch status "$id" >"$work/st.out" 2>"$work/st.err"
rc=$?
grep -q "ended .*succeeded 6" "$work/st.out"
check "nyx batch status ID reads the batch from the database" $? "$(cat "$work/st.out" "$work/st.err")"

# Expired and cancelled batches, picked up: each request's own outcome, logged once.
cat >"$work/submit.lua" <<'LUA'
local nyx = require "nyx"
local b = nyx.batch{ requests = { { id = "x1", prompt = "one", max_tokens = 20 }, { id = "x2", prompt = "two", max_tokens = 20 } } }
while not b.id do nyx.sleep(0.01) end
print(b.id)
os.exit(0) -- leaves without waiting: the batch is in the database
LUA
exp=$("${clean_env[@]}" "ANTHROPIC_BASE_URL=$never_url" "$NYX_BIN" run "$work/submit.lua" 2>"$work/sub.err")
can=$("${clean_env[@]}" "ANTHROPIC_BASE_URL=$never_url" "$NYX_BIN" run "$work/submit.lua" 2>>"$work/sub.err")
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$never_url" "$NYX_BIN" batch cancel "$can" >/dev/null 2>>"$work/sub.err"
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$never_url" "$NYX_BIN" batch results "$exp" >"$work/exp.out" 2>"$work/exp.err"
rc=$?
[[ $rc == 1 && $(grep -c '"error_type":"batch_expired"' "$work/exp.out") == 2 ]]
check "an expired batch picked up: each request reported batch_expired (exit 1)" $? \
  "$(cat "$work/sub.err" "$work/exp.out" "$work/exp.err")"
"${clean_env[@]}" "ANTHROPIC_BASE_URL=$never_url" "$NYX_BIN" batch results "$can" >"$work/can.out" 2>"$work/can.err"
rc=$?
[[ $rc == 1 && $(grep -c '"error_type":"batch_canceled"' "$work/can.out") == 2 ]]
check "a cancelled batch picked up: each request reported batch_canceled" $? "$(cat "$work/can.out" "$work/can.err")"
[[ $(sql "SELECT count(*) FROM llm_interactions WHERE error_type IN ('batch_expired','batch_canceled') AND batch_id IS NOT NULL") == 4 ]]
check "each logged once, as an error of its batch" $? "$(sql "SELECT custom_id, status, error_type FROM llm_interactions")"
[[ $(sql "SELECT count(*) FROM budget_holds") == 0 ]]
check "their reservations are released" $? "$(sql "SELECT * FROM budget_holds")"

finish
