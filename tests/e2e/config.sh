#!/usr/bin/env bash
# Settings in the database through the command line, end to end:
#  1. nyx config list | get | set | unset: every key with its value and source, canonical
#     values, malformed values refused with the key and the reason (exit 2), an unknown key
#     with the key meant (its words in another order, its environment variable, a slip), the
#     environment over the database, --json;
#  2. a setting changed by `nyx config set` reaches a script that is already running;
#  3. budget.hard: a hard daily budget refuses a run's call, a soft one lets it go with one
#     warning and an audit event, and `nyx budget` still shows the limit;
#  4. every change is in `nyx audit`.
set -u

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh" # $work, $pids killed at exit, pass, fail
T=$work

# A clean environment: the simulator, a database of our own, no key or budget from outside.
BASE=("PATH=$PATH" "HOME=$T" "NYX_PROVIDER=sim" "NYX_DB=$T/nyx.db" "NYX_SIM_TTFT_MS=2"
      "ASAN_OPTIONS=${ASAN_OPTIONS:-}" "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}")
NYX=(env -i "${BASE[@]}" "$NYX_BIN")
# nyx_with VAR=VALUE...: the nyx command with these variables added
nyx_with() { local vars=(); while [[ "${1:-}" == *=* ]]; do vars+=("$1"); shift; done; env -i "${BASE[@]}" "${vars[@]}" "$NYX_BIN" "$@"; }

# expect NAME STATUS PATTERN -- COMMAND...: COMMAND exits with STATUS and its output (stdout
# and stderr) matches PATTERN (grep -E).
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" != "$want" ]; then fail "$name: exit $status, expected $want: $out"; return; fi
  if ! grep -qE -- "$pattern" <<<"$out"; then fail "$name: output does not match /$pattern/: $out"; return; fi
  pass "$name"
}

# ---------------------------------------------------------------- 1. the command
out=$("${NYX[@]}" config list)
rows=$(grep -cE '^(alert|budget|cache|templates)\.' <<<"$out")
[ "$rows" = 15 ] && pass "list shows every key ($rows)" || fail "list shows $rows keys: $out"
grep -qE '^key +value +source$' <<<"$out" || fail "list has no header: $out"
grep -qE '^cache\.ttl\.persistent +86400 +default$' <<<"$out" && pass "defaults come with their source" \
  || fail "default of cache.ttl.persistent: $out"

expect "set a number, confirmed in one line" 0 '^budget\.daily_usd = 2\.5 \(saved in the database' -- "${NYX[@]}" config set budget.daily_usd 2.50
expect "get it back, canonical" 0 '^2\.5$' -- "${NYX[@]}" config get budget.daily_usd
expect "set a boolean" 0 '^budget\.session_hard = false \(saved' -- "${NYX[@]}" config set budget.session_hard No
expect "booleans are canonical" 0 '^false$' -- "${NYX[@]}" config get budget.session_hard
expect "set a list" 0 '^templates\.writers = analyst,editor \(saved' -- "${NYX[@]}" config set templates.writers " analyst, editor "
expect "lists are canonical" 0 '^analyst,editor$' -- "${NYX[@]}" config get templates.writers
out=$("${NYX[@]}" config list)
grep -qE '^budget\.daily_usd +2\.5 +database$' <<<"$out" && pass "list shows the database as source" \
  || fail "list after set: $out"

expect "a malformed number is refused" 2 'budget\.daily_usd: must be a number of USD, got "plenty"' \
  -- "${NYX[@]}" config set budget.daily_usd plenty
expect "a negative budget is refused" 2 'budget\.monthly_usd: must be at least 0' \
  -- "${NYX[@]}" config set budget.monthly_usd -5
expect "a malformed boolean is refused" 2 'budget\.hard: must be true or false' \
  -- "${NYX[@]}" config set budget.hard perhaps
expect "a rate above 1 is refused" 2 'alert\.error_rate: must be at least 0 and at most 1, got 3' \
  -- "${NYX[@]}" config set alert.error_rate 3
expect "a malformed list is refused" 2 'templates\.writers: "bad name" is not an agent name' \
  -- "${NYX[@]}" config set templates.writers "ok,bad name"
expect "an unknown key is refused" 2 'unknown setting "cache.size"' -- "${NYX[@]}" config set cache.size 3
out=$("${NYX[@]}" config set cache.size 3 2>&1)
grep -q "did you mean" <<<"$out" && fail "a key near none suggests nothing: $out" || pass "a key near none suggests nothing"
# A key typed as its words in another order, as its environment variable, or with a letter
# slipped names the setting meant (it gave the list of every key alone).
meant='; did you mean "budget\.daily_usd"\? \(settings: alert\.'
expect "get of its words in another order suggests the key" 2 "^nyx config: unknown setting \"daily_budget_usd\"$meant" \
  -- "${NYX[@]}" config get daily_budget_usd
expect "set of its words in another order suggests the key" 2 "^nyx config: unknown setting \"daily_budget_usd\"$meant" \
  -- "${NYX[@]}" config set daily_budget_usd 3
expect "its environment variable typed as a key suggests the key" 2 "^nyx config: unknown setting \"LLM_DAILY_BUDGET_USD\"$meant" \
  -- "${NYX[@]}" config get LLM_DAILY_BUDGET_USD
expect "a slip of its letters suggests the key" 2 "^nyx config: unknown setting \"budget\.daily_ud\"$meant" \
  -- "${NYX[@]}" config unset budget.daily_ud
expect "config get hard_budget_session: suggests budget.session_hard" 2 'did you mean "budget\.session_hard"\?' \
  -- "${NYX[@]}" config get hard_budget_session
expect "a refusal changes nothing" 0 '^2\.5$' -- "${NYX[@]}" config get budget.daily_usd
expect "usage errors exit 2" 2 'usage: nyx config' -- "${NYX[@]}" config set budget.hard

# The environment wins, and says so.
out=$(nyx_with LLM_DAILY_BUDGET_USD=9 config list)
grep -qE '^budget\.daily_usd +9 +environment$' <<<"$out" && pass "the environment takes precedence" \
  || fail "environment precedence: $out"
expect "set under an environment value notes it" 0 'the environment sets budget\.daily_usd here \(9\)' \
  -- nyx_with LLM_DAILY_BUDGET_USD=9 config set budget.daily_usd 3
expect "...and still stores it" 0 '^3$' -- "${NYX[@]}" config get budget.daily_usd
expect "a malformed environment value stops nyx at start" 1 'NYX_ALERT_LATENCY_MS \(alert\.latency_ms\): must be a number of milliseconds' \
  -- nyx_with NYX_ALERT_LATENCY_MS=soon config list
expect "list --json" 0 '^\{"key":"budget\.daily_usd","value":3,"source":"database"\}$' -- "${NYX[@]}" config list --json
expect "unset" 0 '^budget\.daily_usd unset \(removed from the database' -- "${NYX[@]}" config unset budget.daily_usd
expect "unset brings the default back" 0 '^$' -- "${NYX[@]}" config get budget.daily_usd

# ---------------------------------------------------------------- 2. a running script
R="$T/run"
mkdir -p "$R"
cat >"$R/watch.lua" <<'EOF'
local nyx = require "nyx"
io.stdout:setvbuf("line")
nyx.call{ prompt = "start", max_tokens = 5 } -- the engine is running
print("started", nyx.config.get("alert.latency_ms"))
-- 10 s from the moment the change is made (the test creates "set" once `nyx config set` has
-- returned), not from the start: on a loaded machine that command alone can take seconds.
local after = 0
while after < 400 do
  local v, source = nyx.config.get("alert.latency_ms")
  if v then print("seen", v, source) return end
  local set = io.open("set")
  if set then set:close() after = after + 1 end
  nyx.sleep(0.025)
end
print("never seen")
EOF
(cd "$R" && exec "${NYX[@]}" run watch.lua >out 2>err) &
pid=$!
pids+=("$pid")
for _ in $(seq 200); do grep -q started "$R/out" 2>/dev/null && break; sleep 0.05; done
"${NYX[@]}" config set alert.latency_ms 750
touch "$R/set"
wait "$pid"
grep -qE '^seen	750(\.0)?	database$' "$R/out" && pass "a running script sees another process's change" \
  || fail "running script: $(cat "$R/out" "$R/err")"

# ---------------------------------------------------------------- 3. hard and soft budgets
cat >"$R/spend.lua" <<'EOF'
local nyx = require "nyx"
for i = 1, 3 do
  local r = nyx.call{ prompt = "spend " .. i, max_tokens = 20 }
  print("ok", r.model)
end
EOF
"${NYX[@]}" config set budget.daily_usd 0.000001
(cd "$R" && "${NYX[@]}" run spend.lua >hard.out 2>hard.err)
status=$?
[ "$status" = 1 ] && grep -q "budget_exceeded" "$R/hard.err" && ! grep -q "^ok" "$R/hard.out" \
  && pass "a hard budget refuses the call" || fail "hard budget: exit $status: $(cat "$R/hard.out" "$R/hard.err")"
"${NYX[@]}" config set budget.hard false
(cd "$R" && "${NYX[@]}" run spend.lua >soft.out 2>soft.err)
status=$?
calls=$(grep -c "^ok" "$R/soft.out")
warnings=$(grep -c "over its soft limit" "$R/soft.err")
[ "$status" = 0 ] && [ "$calls" = 3 ] && [ "$warnings" = 1 ] \
  && pass "a soft budget lets the calls go with one warning" \
  || fail "soft budget: exit $status, $calls calls, $warnings warnings: $(cat "$R/soft.out" "$R/soft.err")"
budget=$("${NYX[@]}" budget)
grep -qE '^day:[0-9-]+ +0\.000001 ' <<<"$budget" && pass "the ledger still shows the soft limit" \
  || fail "nyx budget after a soft overrun: $budget"

# ---------------------------------------------------------------- 4. the audit trail
audit=$("${NYX[@]}" audit)
for want in 'config_set .*budget\.daily_usd=2\.5' 'config_set .*templates\.writers=analyst,editor' \
            'config_set .*budget\.daily_usd removed' 'config_set .*budget\.hard=false' \
            'budget_refused ' 'budget_soft_exceeded '; do
  grep -qE -- "$want" <<<"$audit" || fail "audit has no /$want/"
done
pass "changes, refusals and soft overruns are audited"

if grep -lE "Sanitizer|runtime error:" "$R"/*.err 2>/dev/null; then fail "sanitizer reports above"; fi
finish
