#!/usr/bin/env bash
# What a tool loop leaves in the database and how the views show it: each call's tool calls and
# place in the loop are stored under every storage mode; `nyx stats` (table and --json) and
# nyx.stats() count tool calls and iterations; `nyx thoughts` shows one line per iteration
# under its node; `nyx log --raw` shows the tool calls of the reply and the results sent; under
# NYX_STORAGE_MODE=none only the sizes of tool calls, results and thinking are kept.
set -uo pipefail
: "${NYX_BIN:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
. "$(dirname "$0")/lib/check.sh"
clean_env+=("NYX_PROVIDER=sim")

cat >"$work/loop.lua" <<'LUA'
local nyx = require "nyx"
local root = nyx.thought{ label = "plan the trip" }
local weather = nyx.tool{ name = "weather", description = "Weather in a city",
  input = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
  run = function(input) return "sunny in " .. input.city end }
local s = nyx.session{ name = "trip" }
-- Two iterations that think (the model asks for the tool, then answers), then three forced ones.
local r = nyx.call{ prompt = "Weather in Oslo", tools = { weather }, thought = root, session = s,
                    thinking = 2048, model = "claude-haiku-4-5", max_tokens = 4000 }
local ok, e = pcall(nyx.call, { prompt = "Weather in Bergen", tools = { weather }, tool_choice = "any",
                                max_iterations = 3, thought = root, session = s })
nyx.call{ prompt = "Hello", session = s }
local st, ss = nyx.stats(), s:stats()
print(("lua %d %d %s %d %d %d"):format(r.iterations, #r.tool_calls, e.type, st.tool_calls, st.iterations, ss.iterations))
LUA

run_nyx -- run "$work/loop.lua"
check "a script with two tool loops runs" "$rc" "$err"
grep -qx "lua 2 0 max_iterations 4 5 5" <<<"$out"
check "nyx.stats() and s:stats() count 4 tool calls over 5 iterations" $? "$out"

run_nyx -- stats
check_grep "nyx stats shows the tool calls and iterations under the table" "$out" "^tools: 4 tool calls, 5 calls as tool loop iterations$"
run_nyx -- stats --json
check_grep "nyx stats --json has tool_calls and iterations" "$out" '"tool_calls":4,"iterations":5'
run_nyx -- stats --by session --json
check_grep "and per group" "$out" '"group":"trip".*"tool_calls":4,"iterations":5'

run_nyx -- thoughts
want='#1  label=plan the trip  calls=5  tokens=[0-9]+  cost=[0-9.]+
  iteration 1  tool_calls=1  stop_reason=tool_use  tokens=[0-9]+  cost=[0-9.]+
  iteration 2  tool_calls=0  stop_reason=end_turn  tokens=[0-9]+  cost=[0-9.]+
  iteration 1  tool_calls=1  stop_reason=tool_use  tokens=[0-9]+  cost=[0-9.]+
  iteration 2  tool_calls=1  stop_reason=tool_use  tokens=[0-9]+  cost=[0-9.]+
  iteration 3  tool_calls=1  stop_reason=tool_use  tokens=[0-9]+  cost=[0-9.]+'
[[ "$out" =~ ^$want$ ]]
check "nyx thoughts shows one line per iteration under its node" $? "$out"

id=$(sqlite3 "$work/nyx.db" "SELECT id FROM llm_interactions WHERE iteration = 2 AND thought_id IS NOT NULL ORDER BY created_at LIMIT 1")
run_nyx -- log --raw "$id"
grep -q '"type":"tool_result"' <<<"$out" && grep -q 'sunny in' <<<"$out" && grep -q '"type":"tool_use".*"name":"weather"' <<<"$out" &&
  grep -q '"type":"thinking"' <<<"$out"
check "nyx log --raw shows the tool calls, the results sent and the thinking (redacted mode)" $? "$out"

# Storage mode none: no text of the exchange, only sizes.
rm -f "$work/nyx.db"
run_nyx NYX_STORAGE_MODE=none -- run "$work/loop.lua"
check "the script runs under NYX_STORAGE_MODE=none" "$rc" "$err"
dump=$(sqlite3 "$work/nyx.db" .dump)
! grep -q "sunny in\|Weather in\|weigh it step by step" <<<"$dump"
check "none: no tool input, result or thinking text in the database" $? "$(grep -m3 'sunny in\|Weather in\|weigh it' <<<"$dump")"
sizes=$(sqlite3 "$work/nyx.db" "SELECT iteration || ' ' || tool_calls || ' ' || COALESCE(response_text, '-') FROM llm_interactions WHERE thought_id IS NOT NULL ORDER BY created_at")
[[ "$sizes" =~ ^'1 1 {"thinking":['[0-9]+'],"tool_use":['[0-9]+']}'$'\n''2 0 {"thinking":['[0-9]+'],"tool_result":['[0-9]+']}'$'\n''1 1 {"tool_use":['[0-9]+']}'$'\n''2 1 {"tool_use":['[0-9]+'],"tool_result":['[0-9]+']}' ]]
check "none: each call keeps the sizes of its tool calls, results and thinking, and its counts" $? "$sizes"
run_nyx -- stats --json
check_grep "none: nyx stats still counts them" "$out" '"tool_calls":4,"iterations":5'

finish
