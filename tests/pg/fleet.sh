#!/usr/bin/env bash
# Many hosts on one PostgreSQL database (the test run's throwaway server):
# - four `nyx run` processes, 50 calls in flight each, against one daily budget that covers
#   about 60 calls: the ledger never exceeds it, and the simulator (one `nyx sim` for all)
#   receives exactly the requests the budget covered;
# - `nyx stop` reaches a running process within a second (LISTEN/NOTIFY);
# - a process whose database connections are cut mid-run keeps every record whose result its
#   script saw: records wait in memory and are written when the connection comes back.
set -euo pipefail
base=$(cat "${NYX_TEST_PG:?NYX_TEST_PG is not set (run through ctest)}")
dir=$(mktemp -d)
pids=()
name=nyx_fleet_$$
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
      env -u LD_PRELOAD psql -q -X "$base" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
      rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sql() { env -u LD_PRELOAD psql -q -X -t -A "$db" -c "$1"; }
env -u LD_PRELOAD psql -q -X "$base" -c "CREATE DATABASE $name" >/dev/null
db="${base%/*}/$name"

"$NYX_BIN" sim --port 0 --api-key fleet-key --ttft-ms 30 > "$dir/sim.out" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$dir/sim.out" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/sim.out")
[ -n "$port" ] || fail "nyx sim did not start: $(cat "$dir/sim.out")"
url="http://127.0.0.1:$port"
export NYX_DB="$db" ANTHROPIC_API_KEY=fleet-key ANTHROPIC_BASE_URL="$url"

cat > "$dir/spend.lua" <<'LUA'
local nyx = require "nyx"
local tasks, ok, refused, other = {}, 0, 0, 0
for i = 1, 50 do
  tasks[i] = nyx.spawn(function()
    local good, r = pcall(nyx.call, { prompt = "spend " .. i, max_tokens = 100 })
    if good then ok = ok + 1 elseif r.type == "budget_exceeded" then refused = refused + 1
    else other = other + 1; io.stderr:write(tostring(r), "\n") end
  end)
end
for i = 1, 50 do tasks[i]:wait() end
print("ok", ok, "refused", refused, "other", other)
LUA

# One call's actual cost, to size the budget at about 60 calls.
cat > "$dir/one.lua" <<'LUA'
local nyx = require "nyx"
print(string.format("%.10f", nyx.call{ prompt = "spend 0", max_tokens = 100 }.usage.cost_usd))
LUA
one=$("$NYX_BIN" run "$dir/one.lua")
limit=$(awk -v c="$one" 'BEGIN { printf "%.10f", c * 61 }')
curl -s -X POST "$url/sim/reset" >/dev/null
before=$(sql "SELECT COALESCE(SUM(cost_usd), 0) FROM llm_interactions WHERE status = 'ok'")

for k in 1 2 3 4; do
  LLM_DAILY_BUDGET_USD=$limit "$NYX_BIN" run "$dir/spend.lua" > "$dir/p$k.out" 2>"$dir/p$k.err" &
  pids+=($!)
done
for k in 1 2 3 4; do wait "${pids[$k]}" || fail "spending process $k failed: $(cat "$dir/p$k.err")"; done
ok=0; refused=0
for k in 1 2 3 4; do
  read -r _ o _ r _ x < "$dir/p$k.out"
  [ "$x" -eq 0 ] || fail "process $k had calls fail for another reason: $(cat "$dir/p$k.err")"
  ok=$((ok + o)); refused=$((refused + r))
done
spent=$(sql "SELECT spent_usd FROM budgets WHERE scope LIKE 'day:%'")
reserved=$(sql "SELECT reserved_usd FROM budgets WHERE scope LIKE 'day:%'")
logged=$(sql "SELECT COALESCE(SUM(cost_usd), 0) - $before FROM llm_interactions WHERE status = 'ok'")
received=$(curl -s "$url/sim/requests" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
echo "fleet: 4 processes x 50 calls, limit \$$limit (~60 calls of \$$one): $ok ok, $refused refused," \
     "spent \$$spent, $received requests reached the simulator"
awk -v s="$spent" -v l="$limit" 'BEGIN { exit !(s <= l + 1e-12) }' || fail "spent $spent over the limit $limit"
awk -v r="$reserved" 'BEGIN { exit !(r == 0) }' || fail "reservations left behind: $reserved"
awk -v s="$spent" -v l="$logged" 'BEGIN { d = s - l; exit !(d < 1e-9 && d > -1e-9) }' ||
  fail "the ledger ($spent) and the logged costs ($logged) disagree"
[ "$received" -eq "$ok" ] || fail "the simulator received $received requests for $ok covered calls"
[ $((ok + refused)) -eq 200 ] || fail "$ok ok + $refused refused is not 200"
[ "$refused" -gt 0 ] && [ "$ok" -ge 30 ] || fail "the budget did not bite as sized: $ok ok, $refused refused"

# The emergency stop from another host reaches a running process.
cat > "$dir/loop.lua" <<'LUA'
local nyx = require "nyx"
for i = 1, 100000 do
  local ok, r = pcall(nyx.call, { prompt = "loop " .. i, max_tokens = 5 })
  if not ok then print("stopped by", r.type, string.format("%.3f", nyx.now())) return end
  if i == 3 then io.stdout:write("RUNNING\n") io.stdout:flush() end
end
LUA
"$NYX_BIN" run "$dir/loop.lua" > "$dir/loop.out" 2>"$dir/loop.err" & loop_pid=$!; pids+=($loop_pid)
for _ in $(seq 200); do grep -qs RUNNING "$dir/loop.out" && break; sleep 0.05; done
grep -q RUNNING "$dir/loop.out" || fail "the looping process did not start: $(cat "$dir/loop.err")"
t0=$(date +%s.%N)
"$NYX_BIN" stop --db "$db" --reason "fleet drill" >/dev/null || fail "nyx stop failed"
wait "$loop_pid" || fail "the stopped process exited badly: $(cat "$dir/loop.err")"
t1=$(date +%s.%N)
grep -Eq "stopped by	(stopped|cancelled)" "$dir/loop.out" || fail "the process was not stopped: $(cat "$dir/loop.out")"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "fleet: nyx stop reached the running process in %.0f ms\n", (b - a) * 1000; exit !(b - a < 1.0) }' ||
  fail "the stop took a second or more"
"$NYX_BIN" stop --db "$db" --clear >/dev/null 2>&1 || sql "DELETE FROM control WHERE key = 'stop'" >/dev/null

# Connections cut mid-run: every result the script saw is in the log afterwards.
cat > "$dir/steady.lua" <<'LUA'
local nyx = require "nyx"
for i = 1, 150 do
  local r = nyx.call{ prompt = "steady " .. i, max_tokens = 5 }
  print(r.interaction_id)
  io.stdout:flush()
end
LUA
"$NYX_BIN" run "$dir/steady.lua" > "$dir/steady.out" 2>"$dir/steady.err" & steady=$!; pids+=($steady)
for _ in $(seq 200); do [ "$(wc -l < "$dir/steady.out")" -ge 20 ] && break; sleep 0.05; done
cut=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'nyx' AND datname = '$name' AND pid <> pg_backend_pid()")
wait "$steady" || fail "the script failed after its connection was cut: $(cat "$dir/steady.err")"
seen=$(wc -l < "$dir/steady.out")
missing=0
while read -r id; do
  [ "$(sql "SELECT count(*) FROM llm_interactions WHERE id = '$id'")" = 1 ] || missing=$((missing + 1))
done < "$dir/steady.out"
echo "fleet: cut $cut connection(s) mid-run; $seen results seen, $missing missing from the log"
[ "$cut" -ge 1 ] || fail "no connection was cut"
[ "$seen" -eq 150 ] || fail "the script saw $seen of 150 results"
[ "$missing" -eq 0 ] || fail "$missing records whose result the script saw are missing"
grep -q "storage failed" "$dir/steady.err" && grep -q "storage is back" "$dir/steady.err" ||
  fail "the lost connection and the recovery were not reported: $(cat "$dir/steady.err")"
echo "PASS"
