#!/usr/bin/env bash
# The model table end to end: `nyx models` and `nyx models show`, parameters a model refuses
# (refused before sending, naming the model and the field), retired and deprecated models,
# unknown ids, and a cache minimum learned from usage and kept in the database.
set -uo pipefail

unset LD_PRELOAD
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
clean_env+=("NYX_RETRY_BASE_SECONDS=0.01" "NYX_RETRY_MAX_SECONDS=0.05")
cd "$work" || exit 1

# ---- nyx models ----

run_nyx -- models
[[ $rc == 0 ]] && grep -q "^model table dated 2026-12-06" <<<"$out"
check "nyx models prints the table's date" $? "rc=$rc $out $err"
check_grep "nyx models lists Haiku 5.5: prices, unconfirmed minimum, context, its upper tier" "$out" -E "^claude-haiku-5-5 +current +0\.100000 +0\.500000 +0\.125000 +0\.200000 +0\.010000 +512\? +1000000 +over 100000 prompt tokens: in 0\.5, out 2\.5"
check_grep "nyx models lists Sonnet 5.5 at the row in force now" "$out" -E "^claude-sonnet-5-5 +current +2 +10 +2\.50 +4 +0\.100000 +1024\? .*from 2026-10-07"
check_grep "nyx models shows a deprecated model's retirement and replacement" "$out" -E "^claude-opus-4-5 +deprecated .* 4096 .*retires 2027-01-22; use claude-opus-4-8"
check_grep "a confirmed minimum has no question mark" "$out" -E "^claude-haiku-4-5 +current +1 +5 +1\.25 +2 +0\.100000 +4096 "
[[ $(grep -c "^claude-" <<<"$out") == 21 ]]
check "nyx models lists every model of the table" $? "$out"

run_nyx -- models show claude-sonnet-5-5
grep -q "prices from the start  *in 2, out 10, write 5m 2.5, write 1h 4, read 0.2$" <<<"$out" &&
  grep -q "prices from 2026-10-07  *in 2, out 10, write 5m 2.5, write 1h 4, read 0.1$" <<<"$out" &&
  grep -q "sampling  *none" <<<"$out" && grep -q "unconfirmed  *min_cache_tokens" <<<"$out"
check "nyx models show gives one model in full, with every price row" $? "$out"
run_nyx -- models show claude-nope-1
[[ $rc == 1 ]] && grep -q 'model "claude-nope-1" is not in the model table' <<<"$err" && grep -q NYX_MODELS <<<"$err"
check "nyx models show of an unknown id fails (1, not found, as a template or a batch is) naming NYX_MODELS" $? "rc=$rc $err"

# ---- requests each model accepts (in-process simulator, same table) ----

cat >params.lua <<'LUA'
local nyx = require "nyx"
local function try(t)
  local ok, e = pcall(nyx.call, t)
  if ok then return "ok " .. e.model end
  return e.type .. ": " .. e.message
end
print("A " .. try{model = "claude-haiku-5-5", prompt = "hi", max_tokens = 10, temperature = 0.5})
print("B " .. try{model = "claude-haiku-5-5", prompt = "hi", max_tokens = 10, temperature = 1})
print("C " .. try{model = "claude-haiku-4-5", prompt = "hi", max_tokens = 10, temperature = 0.5})
print("D " .. try{model = "claude-opus-4-1", prompt = "hi", max_tokens = 10})
print("E " .. try{model = "claude-sonnet-4-5", prompt = "hi", max_tokens = 10})
print("F " .. try{model = "claude-sonnet-4-5", prompt = "hi again", max_tokens = 10})
print("G " .. try{model = "claude-future-9", prompt = "hi", max_tokens = 10})
print("H " .. try{model = "claude-future-9", prompt = "hi", max_tokens = 10})
LUA
run_nyx -- run params.lua
check_grep "a temperature Haiku 5.5 refuses is refused before sending, naming model and field" "$out" '^A invalid_argument: temperature: model "claude-haiku-5-5" accepts no temperature'
check_grep "the default temperature is left out for a model that takes none" "$out" "^B ok claude-haiku-5-5"
check_grep "a model that takes a temperature gets it" "$out" "^C ok claude-haiku-4-5"
check_grep "a retired model fails with invalid_argument naming its replacement" "$out" '^D invalid_argument: model: "claude-opus-4-1" was retired on 2026-08-05; use "claude-opus-4-8"'
grep -q "^E ok claude-sonnet-4-5" <<<"$out" && grep -q "^F ok claude-sonnet-4-5" <<<"$out" &&
  [[ $(grep -c 'model "claude-sonnet-4-5" is deprecated and retires on 2026-11-30 (date unconfirmed); move to "claude-sonnet-5-5"' <<<"$err") == 1 ]]
check "a deprecated model is served and warned about once, with its retirement date" $? "$out
$err"
[[ $(grep -c 'model "claude-future-9" is not in the model table.*NYX_MODELS' <<<"$err") == 1 ]]
check "an id the table does not know gives one notice pointing at NYX_MODELS" $? "$err"
run_nyx -- log --last 20
! grep -q "claude-opus-4-1" <<<"$out" && ! grep -q "temperature" <<<"$out"
check "refused calls sent nothing" $? "$out"

# ---- a cache minimum learned from usage ----

# A simulator whose Sonnet 5.5 caches nothing under 4096 tokens; the table guesses 1024.
cat >sim_models.json <<'JSON'
{"models":[{"id":"claude-sonnet-5-5","min_cache_tokens":4096}]}
JSON
start_sim NYX_MODELS="$work/sim_models.json" --api-key k
check "nyx sim starts with its own table" $? "$(cat "$work/sim.out")"
cat >learn.lua <<'LUA'
local nyx = require "nyx"
local words = {}
for i = 1, 1000 do words[i] = "word" .. (i % 97) end
local system = table.concat(words, " ")
local r = nyx.call{model = "claude-sonnet-5-5", system = {{text = system, cache = true}}, prompt = "Go", max_tokens = 10}
print("writes " .. r.usage.cache_creation_input_tokens .. " input " .. r.usage.input_tokens)
print("min " .. nyx.model("claude-sonnet-5-5").min_cache_tokens)
LUA
run_nyx "ANTHROPIC_API_KEY=k" "ANTHROPIC_BASE_URL=http://127.0.0.1:$port" -- run learn.lua
grep -q "^writes 0 input" <<<"$out"
check "a marked prefix under the simulator's minimum writes nothing" $? "$out $err"
input=$(sed -n 's/^writes 0 input \([0-9]*\)$/\1/p' <<<"$out")
learned=$(sed -n 's/^min \([0-9]*\)$/\1/p' <<<"$out")
[[ -n "$input" && -n "$learned" && $learned -gt 1024 && $learned -le $((input + 1)) ]]
check "the engine raises its unconfirmed minimum to what that call proved" $? "$out"
run_nyx -- models show claude-sonnet-5-5
check_grep "the learned minimum is kept in the database and shown by nyx models" "$out" -E "min_cache_tokens +$learned \(learned\)"
run_nyx -- config list
check_no_grep "learned minimums are not listed among the operator's settings" "$out" "models.min_cache"

# ---- a budget reserves at the tier a prompt may reach ----

# Haiku 5.5: a prompt that may hold more than 100,000 tokens (the estimate's upper bound, once
# calibrated by a first call: 90,000 words may be 108,000 tokens) may cross into the upper tier
# (5x), so its reservation is taken there; a budget that covers the standard tier only refuses
# it before sending. A prompt well under the tier fits the same budget.
cat >tier.lua <<'LUA'
local nyx = require "nyx"
local function words(n)
  local t = {}
  for i = 1, n do t[i] = "alpha" end
  return table.concat(t, " ")
end
nyx.call{ model = "claude-haiku-5-5", prompt = words(1000), max_tokens = 10, cache = false }
local s = nyx.session{ name = "tier", budget_usd = 0.03 }
local small_ok, small = pcall(nyx.call, { model = "claude-haiku-5-5", prompt = words(40000), max_tokens = 10,
                                          session = s, cache = false })
local big_ok, big = pcall(nyx.call, { model = "claude-haiku-5-5", prompt = words(90000), max_tokens = 10,
                                      session = s, cache = false })
print("small " .. tostring(small_ok) .. " " .. (small_ok and small.usage.input_tokens or small.type))
print("big " .. tostring(big_ok) .. " " .. (big_ok and big.usage.input_tokens or big.type))
LUA
run_nyx "NYX_DB=$work/tier.db" -- run tier.lua
grep -q "^small true" <<<"$out" && grep -q "^big false budget_exceeded" <<<"$out"
check "a prompt that may cross Haiku 5.5's tier reserves at the upper tier; one well under does not" $? "$out $err"
run_nyx "NYX_DB=$work/tier.db" -- log --json
[[ $(grep -c '"model":"claude-haiku-5-5","status":"ok"' <<<"$out") == 2 && $(grep -c budget_exceeded <<<"$out") == 1 ]]
check "the refused prompt was not sent" $? "$out"

# ---- stored costs are never re-priced; --reprice shows the table's figure beside them ----

cat >spend.lua <<'LUA'
local nyx = require "nyx"
local r = nyx.call{ model = "claude-sonnet-5-5", prompt = "Price this call", max_tokens = 20 }
print(("usage %d %d %.9f"):format(r.usage.input_tokens, r.usage.output_tokens, r.usage.cost_usd))
LUA
run_nyx "NYX_DB=$work/reprice.db" -- run spend.lua
read -r _ in_tok out_tok recorded <<<"$(grep '^usage' <<<"$out")"
[[ -n "$recorded" ]]
check "a call on Sonnet 5.5 is recorded with its cost" $? "$out $err"
# The output price doubles in the user's table: 2 input + 10 output -> 2 input + 20 output.
echo '{"models":[{"id":"claude-sonnet-5-5","output":20}]}' >dearer.json
run_nyx "NYX_DB=$work/reprice.db" "NYX_MODELS=$work/dearer.json" -- stats --reprice --json
want_table=$(awk -v i="$in_tok" -v o="$out_tok" 'BEGIN { printf "%.9f", (i * 2 + o * 20) / 1e6 }')
row=$(grep '"model":"claude-sonnet-5-5"' <<<"$out")
got_rec=$(sed -n 's/.*"recorded_usd":\([^,]*\).*/\1/p' <<<"$row")
got_tab=$(sed -n 's/.*"table_usd":\([^,]*\).*/\1/p' <<<"$row")
awk -v a="$got_rec" -v b="$recorded" -v c="$got_tab" -v d="$want_table" \
  'BEGIN { exit !((a - b) ^ 2 < 1e-18 && (c - d) ^ 2 < 1e-18 && c > a) }'
check "nyx stats --reprice shows the current table's cost beside the recorded one" $? "$out $err want $recorded / $want_table"
run_nyx "NYX_DB=$work/reprice.db" "NYX_MODELS=$work/dearer.json" -- stats --json
grep -q "\"cost_usd\":$got_rec[,}]" <<<"$out"
check "nyx stats still reports what was recorded" $? "$out (recorded $got_rec)"

finish
