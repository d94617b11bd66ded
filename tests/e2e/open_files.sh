#!/usr/bin/env bash
# More calls at once than the open-files limit has descriptors for: under `ulimit -n 256`, 300
# calls at once against `nyx sim` over HTTP and against the built-in simulator (two descriptors
# a connection) all succeed, the ones past the connections the limit leaves waiting for one,
# and no breaker opens. A process whose descriptors are all taken by something else (the
# script holds them) gets calls that fail as resource_exhausted naming the limit, not as the
# API's network_error, and no breaker opens for them: the next call, once they are given
# back, succeeds; so are calls whose timeout ran out while they waited for a connection.
# Without the bound, most of the 300 failed and the breaker opened. The nyx command raises its
# own soft limit to the hard one.
set -uo pipefail
source "$(dirname "$0")/lib/check.sh"

cat >"$work/wide.lua" <<'LUA'
local nyx = require "nyx"
local n = tonumber(nyx.vars.calls)
local ok, types, tasks = 0, {}, {}
for i = 1, n do
  tasks[i] = nyx.spawn(function()
    local good, r = pcall(nyx.call, { prompt = "wide " .. i, max_tokens = 8 })
    if good then ok = ok + 1 else types[r.type] = (types[r.type] or 0) + 1 end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
local failed = {}
for t, k in pairs(types) do failed[#failed + 1] = t .. "=" .. k end
print(("succeeded: %d of %d; failed: %s"):format(ok, n, table.concat(failed, " ")))
LUA

cat >"$work/starved.lua" <<'LUA'
local nyx = require "nyx"
local held = {}
while true do -- every descriptor the limit allows, taken by the script
  local f = io.open("/dev/null")
  if not f then break end
  held[#held + 1] = f
end
local tasks, types, message = {}, {}, ""
for i = 1, 20 do
  tasks[i] = nyx.spawn(function()
    local good, r = pcall(nyx.call, { prompt = "starved " .. i, max_tokens = 8 })
    local t = good and "ok" or r.type
    types[t] = (types[t] or 0) + 1
    if not good then message = r.message end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
for _, f in ipairs(held) do f:close() end
local after = pcall(nyx.call, { prompt = "given back", max_tokens = 8 })
local seen = {}
for t, k in pairs(types) do seen[#seen + 1] = t .. "=" .. k end
table.sort(seen)
print("held " .. #held .. "; starved: " .. table.concat(seen, " "))
print("message: " .. message)
print("after: " .. (after and "ok" or "failed"))
LUA

cat >"$work/waiting.lua" <<'LUA'
local nyx = require "nyx"
local long, short = tonumber(nyx.vars.long), tonumber(nyx.vars.short)
local types, message, tasks, waited = {}, "", {}, 0
for i = 1, long + short do -- the long ones take every connection first
  tasks[i] = nyx.spawn(function()
    local kind = i <= long and "long" or "short"
    local began = os.time()
    local good, r = pcall(nyx.call, { prompt = "wait " .. i, max_tokens = 8, timeout = kind == "long" and 30 or 0.1 })
    local t = kind .. "_" .. (good and "ok" or r.type)
    types[t] = (types[t] or 0) + 1
    if not good then message = r.message end
    if kind == "short" then waited = math.max(waited, os.time() - began) end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
local seen = {}
for t, k in pairs(types) do seen[#seen + 1] = t .. "=" .. k end
table.sort(seen)
print(table.concat(seen, " "))
print("message: " .. message)
print("short calls waited at most " .. waited .. " s")
LUA

# limited OPTION LIMIT [VAR=value...] ARGS...: run_nyx under `ulimit OPTION LIMIT` (-n: the soft
# and the hard limit, so nyx cannot raise it; -Sn: the soft one), setting $out, $err and $rc here.
limited() {
  local option=$1 limit=$2
  shift 2
  (ulimit "$option" "$limit" && run_nyx "$@" && exit "$rc")
  rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}

start_sim --ttft-ms 200 --token-ms 0 || fail "nyx sim started" "$(cat "$work/sim.out")"
limited -n 256 NYX_PROVIDER=anthropic ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=k -- run "$work/wide.lua" --var calls=300
check_exit "300 calls at once over HTTP under ulimit -n 256 all succeed" 0 "$out" -x "succeeded: 300 of 300; failed: "
check_no_grep "no breaker opens over HTTP" "$err" "circuit breaker"

limited -n 256 NYX_PROVIDER=sim NYX_SIM_TTFT_MS=200 NYX_SIM_TOKEN_MS=0 -- run "$work/wide.lua" --var calls=300
check_exit "300 calls at once to the built-in simulator under ulimit -n 256 all succeed" 0 "$out" \
  -x "succeeded: 300 of 300; failed: "
check_no_grep "no breaker opens with the built-in simulator" "$err" "circuit breaker"

limited -n 256 NYX_PROVIDER=anthropic ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=k LLM_MAX_RETRIES=0 -- \
  run "$work/starved.lua"
check_grep "calls without a descriptor fail as resource_exhausted" "$out" -x "held [0-9]*; starved: resource_exhausted=20"
check_grep "their message names the cause and the limit" "$out" \
  "message: no socket for a connection to the API: Too many open files (ulimit -n is 256); a limit of this machine"
check_grep "the next call, descriptors given back, succeeds: no breaker opened" "$out" -x "after: ok"
check_no_grep "no breaker opens for the machine's limit" "$err" "circuit breaker"

# Calls whose timeout passes while every connection is taken (they wait in curl for one, and
# curl acts on their timeout once one is free) were the API's timeouts, counted by the breaker.
limited -n 64 NYX_PROVIDER=anthropic ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=k LLM_MAX_RETRIES=0 -- \
  run "$work/waiting.lua" --var long=60 --var short=20
check_grep "a timeout spent waiting for a connection is resource_exhausted" "$out" -x \
  "long_ok=60 short_resource_exhausted=20"
check_grep "its message says it waited for a connection under the limit" "$out" \
  "message: timed out after 0.1 s waiting for a connection: all [0-9]* that the open-files limit (ulimit -n is 64) leaves"
check_no_grep "no breaker opens for calls that waited" "$err" "circuit breaker"

# They end at their own deadline, not when a connection comes free: curl 7.88 acted on their
# timeout only then, so behind calls that take 5 s they waited 5 s for a 0.1 s timeout.
kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null
start_sim --ttft-ms 5000 --token-ms 0 || fail "a slow nyx sim started" "$(cat "$work/sim.out")"
limited -n 64 NYX_PROVIDER=anthropic ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=k LLM_MAX_RETRIES=0 -- \
  run "$work/waiting.lua" --var long=60 --var short=20
check_grep "behind 5 s calls, calls waiting for a connection are resource_exhausted" "$out" -x \
  "long_ok=60 short_resource_exhausted=20"
check_grep "and end at their 0.1 s deadline (whole seconds by os.time: 0 or 1), not 5 s later" "$out" \
  -E -x "short calls waited at most [01] s"

# The nyx command takes the hard limit for its own soft one (the library never changes it).
echo 'local f = io.open("/proc/self/limits") print(f:read("a"):match("Max open files%s+(%d+)")) f:close()' \
  >"$work/limits.lua"
hard=$(ulimit -Hn)
if [[ "$hard" == unlimited || "$hard" -le 256 ]]; then
  pass "# skip nyx raises its soft limit: the hard limit is $hard"
else
  limited -Sn 256 NYX_PROVIDER=sim -- run "$work/limits.lua"
  check_exit "nyx raises its soft open-files limit from 256 to the hard limit ($hard)" 0 "$out" -x "$hard"
fi
finish
