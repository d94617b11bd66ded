#!/usr/bin/env bash
# An emergency stop set before a process starts holds from its first call, on PostgreSQL as on
# SQLite: the call fails with `stopped` and nothing is sent. The stop was read by the loop's
# first news read, whose answer comes back after the first calls were admitted: they were sent
# (and paid for), then cancelled when the answer came, their records saying `cancelled`.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
pg_database stop_start

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
local tasks = {}
for i = 1, 3 do
  tasks[i] = nyx.spawn(function()
    local ok, err = pcall(nyx.call, { prompt = "question " .. i, max_tokens = 8 })
    return ok and "ok" or (type(err) == "table" and err.type or tostring(err))
  end)
end
for i = 1, 3 do print(tasks[i]:wait()) end
LUA
"$NYX_BIN" sim --port 0 --ttft-ms 20 --token-ms 1 >"$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 250); do grep -qs 'listening on' "$work/sim.out" && break; sleep 0.02; done
url="http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$work/sim.out" | head -1)"
run() {
  NYX_DB="$db" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=k ANTHROPIC_BASE_URL="$url" LLM_MAX_RETRIES=0 \
    "$NYX_BIN" run "$work/calls.lua" >"$work/out" 2>"$work/err"
}
sent() { curl -s "$url/sim/requests?since=0" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))'; }

"$NYX_BIN" stop --db "$db" --reason "over plan" >/dev/null || exit 1
run
[ "$(sort -u "$work/out")" = stopped ]; st=$?
check "every call fails with stopped: $(tr '\n' ' ' <"$work/out") $(cat "$work/err")" $st
n=$(sent)
[ "$n" = 0 ]
check "nothing reaches the API under the stop (sent $n)" $?
st=$(env -u LD_PRELOAD psql -q -X -t -A "$db" -c "SELECT string_agg(DISTINCT status || '/' || coalesce(error_type, ''), ',') FROM llm_interactions")
[ "$st" = "error/stopped" ]
check "their records say error/stopped (found $st)" $?

"$NYX_BIN" stop --db "$db" --clear >/dev/null || exit 1
run
[ "$(sort -u "$work/out")" = ok ]; st=$?
check "once cleared, the calls go: $(tr '\n' ' ' <"$work/out")" $st
pg_finish
