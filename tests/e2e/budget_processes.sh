#!/usr/bin/env bash
# A budget across processes sharing one database: two `nyx run` processes against one daily
# budget cannot jointly exceed it. (`nyx stop` from another process: tests/e2e/stop_audit.sh.)
set -euo pipefail
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
db="$dir/shared.db"
cat > "$dir/spend.lua" <<'LUA'
local nyx = require "nyx"
local tasks, ok, refused = {}, 0, 0
for i = 1, 50 do
  tasks[i] = nyx.spawn(function()
    local good, r = pcall(nyx.call, { prompt = "spend " .. i, max_tokens = 200 })
    if good then ok = ok + 1 elseif r.type == "budget_exceeded" then refused = refused + 1 end
  end)
end
for i = 1, 50 do tasks[i]:wait() end
print("ok", ok, "refused", refused)
LUA
export NYX_DB="$db" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=30 LLM_DAILY_BUDGET_USD=0.04
"$NYX_BIN" run "$dir/spend.lua" > "$dir/a.out" 2>/dev/null & pids+=($!)
"$NYX_BIN" run "$dir/spend.lua" > "$dir/b.out" 2>/dev/null & pids+=($!)
wait "${pids[0]}" "${pids[1]}" || fail "a spending process failed"
spent=$(sqlite3 "$db" "SELECT spent_usd FROM budgets WHERE scope LIKE 'day:%'")
reserved=$(sqlite3 "$db" "SELECT reserved_usd FROM budgets WHERE scope LIKE 'day:%'")
logged=$(sqlite3 "$db" "SELECT printf('%.12f', COALESCE(SUM(cost_usd), 0)) FROM llm_interactions WHERE status = 'ok'")
awk -v s="$spent" 'BEGIN { exit !(s <= 0.04 + 1e-12) }' || fail "two processes spent $spent of a 0.04 budget"
awk -v s="$spent" -v l="$logged" 'BEGIN { d = s - l; exit !(d < 1e-9 && d > -1e-9) }' ||
  fail "the ledger ($spent) and the logged costs ($logged) disagree"
awk -v r="$reserved" 'BEGIN { exit !(r == 0) }' || fail "reservations left behind: $reserved"
ok_a=$(awk '{print $2}' "$dir/a.out"); ok_b=$(awk '{print $2}' "$dir/b.out")
[ $((ok_a + ok_b)) -gt 0 ] || fail "nothing ran"
grep -q "refused" "$dir/a.out" && grep -q "refused" "$dir/b.out" || fail "a process did not finish"

echo "1 passed, 0 failed"
