#!/usr/bin/env bash
# The nyx command end to end: `nyx run` exit codes and error output, --var, --help, malformed
# configuration, the council example, `nyx sim` serving plain HTTP on a loopback port and
# scripts reaching it through ANTHROPIC_BASE_URL, and the in-process simulator's notice.
set -uo pipefail

# nyx links the sanitizer runtime itself when built with it; curl can hang with it preloaded.
unset LD_PRELOAD
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
clean_env+=("NYX_RETRY_BASE_SECONDS=0.01" "NYX_RETRY_MAX_SECONDS=0.05")

cd "$work" || exit 1

# ---- what the build makes ----

bindir=$(dirname "$NYX_BIN")
[[ -f "$bindir/libnyx.a" && -e "$bindir/libnyx.so" ]]
check "the build makes libnyx, static and shared" $? "$(ls "$bindir")"
# The nyx command is a host like any other: it includes nyx.h and its own headers only.
stray=""
for inc in $(grep -ho '#include "[^"]*"' "$NYX_SOURCE_DIR"/engine/cli/*.[ch] | sed 's/#include "\(.*\)"/\1/' | sort -u); do
  [[ "$inc" == nyx.h || -f "$NYX_SOURCE_DIR/engine/cli/$inc" ]] || stray+="$inc "
done
[[ -z "$stray" ]]
check "the nyx command uses nothing but nyx.h" $? "includes: $stray"

# ---- nyx run: exit status and output ----

cat >ok.lua <<'EOF'
local nyx = require "nyx"
local r = nyx.call{ prompt = "Hello", max_tokens = 20 }
print("text:", #r.text > 0, "who:", nyx.vars.who, "n:", nyx.vars.n)
EOF
run_nyx -- run ok.lua --var who=world --var n=3
check "nyx run of a working script exits 0" $((rc != 0)) "$err"
check_grep "--var k=v reaches nyx.vars" "$out" "^text:	true	who:	world	n:	3$"

cat >fails.lua <<'EOF'
local nyx = require "nyx"
local function deeper()
  error("the plan has no budget")
end
deeper()
EOF
run_nyx -- run fails.lua
check_exit "a Lua error exits 1 and prints file:line and the message" 1 "$err" "fails.lua:3: the plan has no budget"
grep -q "stack traceback" <<<"$err" && grep -q "fails.lua:5: in main chunk" <<<"$err"
check "a Lua error prints a traceback" $? "$err"

cat >badcall.lua <<'EOF'
local nyx = require "nyx"
nyx.call{ prompt = "Hello", temperature = 3 }
EOF
run_nyx -- run badcall.lua
check_exit "a bad argument to nyx.call exits 1, reported with Lua's wording and the caller's line" 1 "$err" "badcall.lua:2: invalid_argument: bad argument #1 to 'call' (temperature"

cat >apierr.lua <<'EOF'
local nyx = require "nyx"
nyx.call{ model = "claude-no-such-model", prompt = "Hello", max_tokens = 20 }
EOF
run_nyx -- run apierr.lua
check_exit "an API error left unhandled exits 1 and names its type" 1 "$err" "not_found_error"

printf 'x = = 1\n' >syntax.lua
run_nyx -- run syntax.lua
check "a syntax error exits 1 and names file:line" $((rc != 1 || $(grep -c "syntax.lua:1:" <<<"$err") == 0)) "$err"

run_nyx -- run
check_exit "nyx run without a script is a usage error (2) that prints the usage" 2 "$err" "usage: nyx run"
run_nyx -- run ok.lua --no-such-flag
check "an unknown flag is a usage error (2)" $((rc != 2)) "rc=$rc"
run_nyx -- run ok.lua --var novalue
check "--var without k=v is a usage error (2)" $((rc != 2)) "rc=$rc"
run_nyx -- frobnicate
check_exit "an unknown command exits 2 and is named" 2 "$err" 'unknown command "frobnicate"'
run_nyx --
check "nyx without a command exits 2" $((rc != 2)) "rc=$rc"

run_nyx -- run --help
check "nyx run --help exits 0" $((rc != 0)) "rc=$rc"
grep -q "usage: nyx run SCRIPT" <<<"$out" && grep -q -- "--var" <<<"$out"
check "nyx run --help describes the command" $? "$out"
run_nyx -- sim --help
check "nyx sim --help exits 0" $((rc != 0)) "rc=$rc"
grep -q "usage: nyx sim" <<<"$out" && grep -q -- "--port" <<<"$out"
check "nyx sim --help describes the command" $? "$out"

# ---- configuration ----

for bad in "LLM_MAX_RETRIES=abc" "LLM_MAX_RETRIES=2.5" "CLAUDE_TIMEOUT_SECONDS=-1" \
           "LLM_RETRY_BACKOFF_FACTOR=fast" "LLM_ENABLE_CIRCUIT_BREAKER=maybe" "NYX_PROVIDER=openai" \
           "CLAUDE_MAX_TOKENS=0"; do
  name=${bad%%=*}
  run_nyx "$bad" -- run ok.lua
  check "malformed $bad stops nyx run at start (exit 1)" $((rc != 1)) "rc=$rc"
  check_grep "malformed $bad: the error names $name" "$err" "$name"
  [[ -z "$out" ]]
  check "malformed $bad: the script never ran" $? "$out"
done
run_nyx "LLM_MAX_RETRIES=5" "CLAUDE_TIMEOUT_SECONDS=30" "LLM_ENABLE_CIRCUIT_BREAKER=off" -- run ok.lua
check "well-formed settings are accepted" $((rc != 0)) "$err"
# A misspelt variable would leave its setting at the default, unsaid (a day without a budget):
# each is named with the one nyx reads; others of nyx's prefixes that are no slip are not.
run_nyx "LLM_DAILY_BUDGET_UDS=5" "NYX_DURABLITY=degrade" "NYX_BUILD_DIR=x" "CLAUDE_CODE_USE_BEDROCK=1" \
  "ANTHROPIC_MODEL=x" -- run ok.lua
check_exit "a misspelt variable is said, and the script runs" 0 "$err" -x \
  'nyx: LLM_DAILY_BUDGET_UDS is set, but nyx reads no variable of that name; did you mean LLM_DAILY_BUDGET_USD?'
check_grep "each misspelt variable is said" "$err" -x \
  'nyx: NYX_DURABLITY is set, but nyx reads no variable of that name; did you mean NYX_DURABILITY?'
[[ $(grep -c 'reads no variable' <<<"$err") == 2 ]]
check "variables of nyx's prefixes that are no slip of its own are not" $? "$err"
# Every variable the engine reads is one it knows: none of them is taken for a slip.
mapfile -t read_vars < <(grep -rhoE '"(NYX|LLM|CLAUDE|ANTHROPIC)_[A-Z0-9_]+"' "$NYX_SOURCE_DIR/engine" | tr -d '"' | sort -u)
run_nyx "${read_vars[@]/%/=}" -- run ok.lua
check_no_grep "no variable the engine reads (${#read_vars[@]}) is taken for a slip" "$err" 'reads no variable'

# ---- the in-process simulator ----

cat >three.lua <<'EOF'
local nyx = require "nyx"
for i = 1, 3 do nyx.call{ prompt = "Hello " .. i, max_tokens = 10 } end
print(nyx.provider())
EOF
run_nyx -- run three.lua
check "three calls without an API key succeed" $((rc != 0)) "$err"
[[ "$out" == "sim" ]]
check "without an API key the provider is the simulator" $? "$out"
[[ $(grep -c "built-in Claude simulator" <<<"$err") == 1 ]]
check "the in-process simulator's notice appears exactly once on stderr" $? "$err"

run_nyx -- run three.lua --db "$work/flag.db"
[[ $rc == 0 && -s "$work/flag.db" ]]
check "--db FILE puts the database in FILE" $? "rc=$rc $err"

# ---- the tool loop example ----

run_nyx -- run "$NYX_SOURCE_DIR/examples/tools.lua"
check "examples/tools.lua runs (exit 0)" $((rc != 0)) "$err"
check_grep "the tool loop takes two iterations and ends at end_turn" "$out" "^iterations: 2, stop: end_turn"
check_grep "the tool that fails once reaches the model as an error result" "$out" "result (error): .*timed out"
reads=$(grep -Eo "[0-9]+ cache reads" <<<"$out" | grep -Eo "^[0-9]+")
[[ ${reads:-0} -gt 1000 ]]
check "the second iteration reads the system prompt from the cache" $? "$out"

cat >toolcall.lua <<'LUA'
local nyx = require "nyx"
local w = nyx.tool{ name = "weather", input = { type = "object", properties = { city = { type = "string" } } } }
nyx.call{ prompt = "Weather for jane@example.com in Oslo", tools = { w } }
LUA
run_nyx -- run toolcall.lua --db "$work/toolcall.db"
run_nyx -- log --last 1 --json --db "$work/toolcall.db"
id=$(sed -n 's/^{"id":"\([^"]*\)".*/\1/p' <<<"$out")
run_nyx -- log --raw "$id" --db "$work/toolcall.db"
resp=$(sed -n '/^--- response/,$p' <<<"$out")
grep -q '"type":"tool_use".*"name":"weather".*"input":{"city":"Weather for \[EMAIL\] in Oslo"}' <<<"$resp"
check "a reply of tool calls is stored as its blocks, redacted like prompts" $? "$out"

# ---- the council example ----

run_nyx -- run "$NYX_SOURCE_DIR/examples/council.lua"
check "examples/council.lua runs (exit 0)" $((rc != 0)) "$err"
rows=$(grep -E "^(CFO|CMO|COO|CTO|Customer advocate) " <<<"$out")
[[ $(wc -l <<<"$rows") == 5 ]]
check "the council prints one row per persona" $? "$out"
first_hit=$(awk 'NR == 1 { print $(NF - 1) }' <<<"$rows")
later_hits=$(awk 'NR > 1 { print $(NF - 1) }' <<<"$rows" | sort -u)
[[ "$first_hit" == "no" && "$later_hits" == "yes" ]]
check "the first persona writes the cache, personas 2-5 hit it" $? "$out"
check_grep "the council prints its cost, the cost without caching and the saving" "$out" -E "^cost [0-9.]+ USD; without caching [0-9.]+ USD; saved [0-9.]+ USD \([0-9.]+%\)"
saving=$(grep -Eo "saved [0-9.]+ USD \([0-9.]+%\)" <<<"$out" | grep -Eo "\([0-9.]+" | tr -d '(')
awk -v s="${saving:-0}" 'BEGIN { exit !(s > 50) }'
check "the council saves more than half of the cost (got ${saving:-none}%)" $? "$out"

# ---- nyx sim over HTTP ----

start_sim --ttft-ms 5 --api-key sim-secret
check "nyx sim --port 0 prints the port it listens on" $? "$(cat "$work/sim.out")"

body='{"model":"claude-haiku-4-5","max_tokens":30,"messages":[{"role":"user","content":"Hello from curl"}]}'
reply=$(curl -s -S -D "$work/headers" -H "x-api-key: sim-secret" -H "anthropic-version: 2023-06-01" \
        -H "content-type: application/json" --data-binary "$body" "$url/v1/messages")
grep -q '"type":"message"' <<<"$reply" && grep -q '"input_tokens":' <<<"$reply" &&
  grep -q '"text":"' <<<"$reply" && grep -qi "^request-id: req_" "$work/headers"
check "nyx sim answers a plain curl POST /v1/messages" $? "$reply"
code=$(curl -s -o "$work/denied" -w "%{http_code}" -H "x-api-key: wrong" -H "anthropic-version: 2023-06-01" \
       -H "content-type: application/json" --data-binary "$body" "$url/v1/messages")
[[ "$code" == 401 ]] && grep -q '"authentication_error"' "$work/denied"
check "nyx sim refuses a wrong key with 401 authentication_error" $? "$code $(cat "$work/denied")"

curl -s -X POST -H "content-type: application/json" --data-binary '{"rpm":50}' "$url/sim/config" >/dev/null
curl -s -o /dev/null -D "$work/headers" -H "x-api-key: sim-secret" -H "anthropic-version: 2023-06-01" \
     -H "content-type: application/json" --data-binary "$body" "$url/v1/messages"
grep -qi "^anthropic-ratelimit-requests-limit: 50" "$work/headers" &&
  grep -qi "^anthropic-ratelimit-requests-remaining: " "$work/headers" &&
  grep -qi "^anthropic-ratelimit-requests-reset: " "$work/headers"
check "nyx sim sends anthropic-ratelimit-* headers under a limit" $? "$(cat "$work/headers")"
curl -s -X POST -H "content-type: application/json" --data-binary '{"rpm":0}' "$url/sim/config" >/dev/null

cat >http.lua <<'EOF'
local nyx = require "nyx"
local context = {}
for i = 1, 700 do context[i] = ("Line %d: the margin of growth shifts with pricing in the quarter."):format(i) end
context = table.concat(context, "\n")
local a = nyx.call{ system = context, prompt = "First", max_tokens = 20 }
local b = nyx.call{ system = context, prompt = "Second", max_tokens = 20 }
print(nyx.provider(), a.usage.cache_creation_input_tokens > 0, b.usage.cache_read_input_tokens > 0,
      b.usage.cost_usd < a.usage.cost_usd)
EOF
curl -s -X POST "$url/sim/reset" >/dev/null
run_nyx "ANTHROPIC_API_KEY=sim-secret" "ANTHROPIC_BASE_URL=$url" -- run http.lua
check "a script reaches nyx sim through ANTHROPIC_BASE_URL" $((rc != 0)) "$err"
[[ "$out" == "anthropic	true	true	true" ]]
check "over HTTP the second call reads the cache the first wrote, for less" $? "$out"
check_no_grep "with an API key there is no simulator notice" "$err" "built-in Claude simulator"
log=$(curl -s "$url/sim/requests")
[[ $(grep -o '"path":"/v1/messages"' <<<"$log" | wc -l) == 2 ]]
check "the server's log shows exactly the script's two requests" $? "$log"

run_nyx "ANTHROPIC_API_KEY=wrong-key" "ANTHROPIC_BASE_URL=$url" -- run ok.lua
check_exit "a wrong API key exits 1, reported as authentication_error" 1 "$err" "authentication_error"

finish
