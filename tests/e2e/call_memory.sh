#!/usr/bin/env bash
# A call waiting for its answer holds its request in pieces, the system prompt shared with every
# other call, not a copy of the whole body of its own (the bytes in one piece are made when a
# connection is ready for them and let go once sent): 300 calls in flight with the same 15 KB
# system prompt, against nyx sim over HTTP answering after 300 ms, cost less than 30 KB of peak
# memory each over one call's run (19-22 KB; 24 KB when a call's budget and error records were
# its own whether used or not, 36 KB when each call kept its body).
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
need_memory_figures

start_sim --api-key mem-key --ttft-ms 300 --token-ms 0 || { echo "nyx sim did not start"; exit 1; }

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
local n = tonumber(nyx.vars.n)
local words = { "refunds", "take", "five", "business", "days", "after", "the", "return", "arrives" }
local parts = {}
for i = 1, 2200 do parts[i] = words[i % #words + 1] end
local system = table.concat(parts, " ") -- about 15 KB
local ok_calls, tasks = 0, {}
for i = 1, n do
  tasks[i] = nyx.spawn(function()
    local ok = pcall(nyx.call, { system = system, prompt = "Question " .. i, max_tokens = 8 })
    if ok then ok_calls = ok_calls + 1 end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
print("ok " .. ok_calls)
LUA

peak() { # peak N: the peak RSS in KB of nyx run with N calls in flight
  peak_kb "$1" "NYX_DB=$work/nyx$1.db" "NYX_PROVIDER=anthropic" "ANTHROPIC_API_KEY=mem-key" \
    "ANTHROPIC_BASE_URL=$url" -- run "$work/calls.lua" --var "n=$1"
}
one=$(peak 1)
many=$(peak 300)
per_call=$(( (many - one) / 299 ))
[[ $one -gt 0 && $many -gt 0 && $per_call -lt 30 ]]
check "300 calls in flight: $per_call KB of peak memory a call over one call's $one KB (under 30)" $? "$many KB for 300"
[[ "$(cat "$work/out300")" == "ok 300" ]]
check "and every call succeeded" $? "$(cat "$work/out300" "$work/err300")"

finish
