#!/usr/bin/env bash
# SIGINT and SIGTERM to `nyx run`: calls in flight are cancelled and logged as cancelled, the
# process exits on its own with 128 + the signal's number, and nothing it had finished is lost.
# And LLM_ENABLE_COST_ALERTS: one line on stderr per budget threshold crossed.
set -euo pipefail
dir=$(mktemp -d)
pid="" sim=""
trap 'for p in $pid $sim; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset LD_PRELOAD # nyx links the sanitizer runtime itself when built with it

# A simulator whose Haiku never answers: calls to it stay in flight until their client goes.
"$NYX_BIN" sim --port 0 --faults '[{"fault":"hang","model":"claude-haiku-4-5","probability":1}]' \
  >"$dir/sim.out" 2>&1 &
sim=$!
for _ in $(seq 200); do grep -q "listening on" "$dir/sim.out" && break; sleep 0.05; done
addr=$(grep -o "127.0.0.1:[0-9]*" "$dir/sim.out" | head -1)
[ -n "$addr" ] || fail "nyx sim did not start: $(cat "$dir/sim.out")"
export ANTHROPIC_BASE_URL="http://$addr" ANTHROPIC_API_KEY=test-key

cat > "$dir/slow.lua" <<'LUA'
local nyx = require "nyx"
nyx.call{ prompt = "quick", model = "claude-sonnet-4-5", max_tokens = 5 }
for i = 1, 5 do
  nyx.spawn(function() nyx.call{ prompt = "hung " .. i, model = "claude-haiku-4-5", max_tokens = 5, timeout = 60 } end)
end
nyx.sleep(0.2) -- the five are on the wire by now
io.stdout:write("IN FLIGHT\n")
io.stdout:flush()
nyx.sleep(60)
LUA

passed=0
for sig in INT TERM; do
  db="$dir/$sig.db"
  NYX_DB="$db" "$NYX_BIN" run "$dir/slow.lua" >"$dir/$sig.out" 2>"$dir/$sig.err" &
  pid=$!
  for _ in $(seq 400); do grep -q "IN FLIGHT" "$dir/$sig.out" && break; sleep 0.05; done
  grep -q "IN FLIGHT" "$dir/$sig.out" || fail "SIG$sig: the script did not start its calls: $(cat "$dir/$sig.err")"
  kill -"$sig" "$pid"
  set +e
  wait "$pid"
  rc=$?
  set -e
  pid=""
  want=$((128 + $(kill -l "$sig")))
  [ "$rc" = "$want" ] || fail "SIG$sig: exit status $rc, expected $want: $(cat "$dir/$sig.err")"
  grep -q "in-flight calls were cancelled and logged" "$dir/$sig.err" || fail "SIG$sig: no word on stderr"
  rows=$(sqlite3 "$db" "SELECT status, count(*) FROM llm_interactions GROUP BY status ORDER BY status" | tr '\n' ' ')
  [ "$rows" = "cancelled|5 ok|1 " ] || fail "SIG$sig: logged $rows, expected 5 cancelled and 1 ok"
  passed=$((passed + 1))
done

# A script in a loop that never waits never returns to the loop that sees the signal: SIGINT
# stops its Lua where it is (nyx_interrupt), at the top level or in a task, and the call it
# had made is kept. A script that catches that too (a pcall in a loop) ends at a second SIGINT.
cat > "$dir/spin.lua" <<'LUA'
local nyx = require "nyx"
nyx.call{ prompt = "before the loop", model = "claude-sonnet-4-5", max_tokens = 5 }
-- SPINNING is said where the loop begins, not before: the test sends SIGINT once it reads it,
-- and a signal that came while the stream's call was still on the wire, or before the pcall,
-- would test something else. The pcall loop says it again each time it has caught one.
local function spinning() io.stdout:write("SPINNING\n") io.stdout:flush() end
if nyx.vars.how == "task" then nyx.spawn(function() spinning() while true do end end) nyx.sleep(60) end
if nyx.vars.how == "pcall" then while true do pcall(function() spinning() while true do end end) end end
if nyx.vars.how == "stream" then -- a stream callback, run inside the loop's turn, that never returns
  nyx.call{ prompt = "stream", model = "claude-sonnet-4-5", max_tokens = 50,
            stream = function() spinning() while true do end end }
end
spinning()
while true do end
LUA
for how in top task pcall stream; do
  db="$dir/spin-$how.db"
  NYX_DB="$db" "$NYX_BIN" run "$dir/spin.lua" --var how="$how" >"$dir/spin.out" 2>"$dir/spin.err" &
  pid=$!
  for _ in $(seq 400); do grep -q "SPINNING" "$dir/spin.out" && break; sleep 0.05; done
  grep -q "SPINNING" "$dir/spin.out" || fail "spin $how: the script did not start: $(cat "$dir/spin.err")"
  kill -INT "$pid"
  if [ "$how" = pcall ]; then
    # Caught, the loop goes round and says so again; ended by the first SIGINT, it never does.
    for _ in $(seq 400); do
      [ "$(grep -c SPINNING "$dir/spin.out")" -ge 2 ] || ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.05
    done
    [ "$(grep -c SPINNING "$dir/spin.out")" -ge 2 ] ||
      fail "spin pcall: a script that catches the interrupt ended at the first SIGINT: $(cat "$dir/spin.err")"
    kill -INT "$pid"
  fi
  # Waits for the end, not a fixed time: a loaded machine (the sanitizer build, ctest -j) takes
  # its time to close; a loop SIGINT does not stop never ends, and fails after 20 s.
  for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then fail "spin $how: still running 20 s after SIGINT"; fi
  set +e
  wait "$pid"
  rc=$?
  set -e
  pid=""
  [ "$rc" = 130 ] || fail "spin $how: exit status $rc, expected 130: $(cat "$dir/spin.err")"
  if [ "$how" = pcall ]; then
    grep -q "interrupted again: ending now" "$dir/spin.err" || fail "spin pcall: the second SIGINT said nothing"
  elif [ "$how" = stream ]; then
    grep -qx "nyx: interrupted" "$dir/spin.err" || fail "spin stream: $(cat "$dir/spin.err")"
    rows=$(sqlite3 "$db" "SELECT count(*) FROM llm_interactions" | tr '\n' ' ')
    [ "$rows" = "2 " ] || fail "spin stream: $rows records, expected the call before the loop and the streamed one"
  else
    grep -qx "nyx: interrupted" "$dir/spin.err" || fail "spin $how: $(cat "$dir/spin.err")"
    rows=$(sqlite3 "$db" "SELECT status, count(*) FROM llm_interactions GROUP BY status" | tr '\n' ' ')
    [ "$rows" = "ok|1 " ] || fail "spin $how: logged $rows, expected the call before the loop"
  fi
  passed=$((passed + 1))
done

# Cost alerts on stderr: a session budget crossed at 50 %, 80 % and 100 %, one line each.
cat > "$dir/alerts.lua" <<'LUA'
local nyx = require "nyx"
nyx.config.set("budget.session_hard", false) -- soft: the calls go on past the limit
local s = nyx.session{ name = "watched", budget_usd = 0.001 }
for i = 1, 4 do
  nyx.call{ prompt = "spend " .. i, model = "claude-sonnet-4-5", max_tokens = 20, session = s }
end
LUA
for alerts in 1 0; do
  NYX_DB="$dir/alerts$alerts.db" LLM_ENABLE_COST_ALERTS=$alerts "$NYX_BIN" run "$dir/alerts.lua" \
    >/dev/null 2>"$dir/alerts$alerts.err" || fail "the alerts script failed: $(cat "$dir/alerts$alerts.err")"
  got=$(grep -o "budget session:watched reached [0-9]*%" "$dir/alerts$alerts.err" | tr '\n' ' ' || true)
  if [ "$alerts" = 1 ]; then
    want="budget session:watched reached 50% budget session:watched reached 80% budget session:watched reached 100% "
    [ "$got" = "$want" ] || fail "LLM_ENABLE_COST_ALERTS=1: got '$got': $(cat "$dir/alerts1.err")"
  else
    [ -z "$got" ] || fail "alerts printed without LLM_ENABLE_COST_ALERTS: $got"
  fi
done
passed=$((passed + 2))
echo "$passed passed, 0 failed"
