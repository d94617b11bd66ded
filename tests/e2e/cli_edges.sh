#!/usr/bin/env bash
# Command-line edges: one rule for a --var given twice (a list, in nyx run as in nyx render),
# `nyx run --watch` ended by Ctrl-C exits 130 as a run does, a bad option value of nyx sim is a
# usage error (2) as everywhere, a huge id given to `nyx log --raw` is not echoed back whole, and
# ANTHROPIC_BASE_URL alone (no API key) takes a script to a `nyx sim` server; `nyx stats` reads
# at a glance (--wide for every column), --help lists each option's values with an example,
# `nyx audit --kind` picks one kind of event, `nyx config set` confirms in one line, and `nyx log`
# of any length prints as it reads.
set -uo pipefail

unset LD_PRELOAD
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-cli-edges.XXXXXX")
watch_pid=""
sim_pid=""
cleanup() {
  [[ -n "$watch_pid" ]] && kill "$watch_pid" 2>/dev/null
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1

# ---- --var given twice ----
cat > vars.lua <<'LUA'
local nyx = require "nyx"
local k = nyx.vars.k
print(type(k) == "table" and ("list " .. table.concat(k, ",")) or ("string " .. tostring(k)), nyx.vars.one)
LUA
run_nyx run vars.lua --var k=a --var one=x --var k=b --var k=c
check "nyx run: a --var given three times is the list of its values" $([[ $rc == 0 && "$out" == "list a,b,c"$'\t'"x" ]]; echo $?) "rc=$rc out=$out $err"
mkdir -p templates
printf -- '---\nvariables:\n  k: {}\n---\n{{#k}}[{{.}}]{{/k}}\n' > templates/listed.md
run_nyx render listed --var k=a --var k=b --var k=c
check "nyx render: the same --vars render as the same list" $([[ $rc == 0 && "$out" == "[a][b][c]" ]]; echo $?) "rc=$rc out=$out $err"
for cmd in "run vars.lua" "render listed" "ask listed" "batch submit listed --input rows.jsonl"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $cmd --var =nokey
  check "nyx ${cmd%% *}: a --var without k= is a usage error saying so" \
    $([[ $rc == 2 && "$err" == *"nyx ${cmd%% *}: --var needs k=v, got \"=nokey\""* ]]; echo $?) "rc=$rc $err"
done

# ---- nyx run --watch and Ctrl-C ----
echo 'print("ran")' > watched.lua
"${clean_env[@]}" "$NYX_BIN" run --watch watched.lua >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!
for _ in $(seq 200); do grep -q "watching for changes" "$work/watch.err" && break; sleep 0.05; done
kill -INT "$watch_pid"
wait "$watch_pid"
rc=$?
watch_pid=""
check "nyx run --watch ended by SIGINT exits 130" $((rc != 130)) "rc=$rc $(cat "$work/watch.err")"

# ---- usage errors of nyx sim ----
check_usage_errors sim "--ttft-ms -5" "--rpm abc" "--token-ms 1e999" "--faults notjson"

run_nyx sim --faults '[{"fault":"nope"}]'
check "nyx sim with an unknown fault is a usage error (2) naming it" \
  $([[ $rc == 2 ]] && grep -q "unknown fault 'nope'" <<<"$err"; echo $?) "rc=$rc $err"

# ---- a huge id ----
big=$(head -c 100000 /dev/zero | tr '\0' 'x')
run_nyx log --raw "$big"
check "nyx log --raw with a 100 KB id fails (1) without echoing it whole" \
  $([[ $rc == 1 && ${#err} -lt 300 ]]; echo $?) "rc=$rc, ${#err} bytes on stderr"

# ---- ANTHROPIC_BASE_URL alone reaches nyx sim ----
start_sim --ttft-ms 5
check "nyx sim says how a script reaches it" \
  $(grep -q "ANTHROPIC_BASE_URL=$url nyx run" "$work/sim.out"; echo $?) "$(cat "$work/sim.out")"
echo 'local nyx = require "nyx"; print(nyx.provider(), nyx.call{ prompt = "Hello", max_tokens = 5 }.text ~= nil)' > base.lua
run_nyx_env() { "${clean_env[@]}" "$@" >"$work/out" 2>"$work/err"; rc=$?; out=$(cat "$work/out"); err=$(cat "$work/err"); }
run_nyx_env "ANTHROPIC_BASE_URL=$url" "$NYX_BIN" run base.lua
log=$(curl -s "$url/sim/requests")
check "ANTHROPIC_BASE_URL without a key reaches nyx sim" \
  $([[ $rc == 0 && "$out" == "anthropic"$'\t'"true" && $(grep -o '"path":"/v1/messages"' <<<"$log" | wc -l) == 1 ]]; echo $?) \
  "rc=$rc out=$out $err $log"
check "it says where calls go, and the built-in simulator is not started" \
  $(grep -q "no API key set; calls go to ANTHROPIC_BASE_URL ($url)" <<<"$err" && ! grep -q "built-in" <<<"$err"; echo $?) "$err"

# ---- output a person reads ----
run_nyx_env "$NYX_BIN" stats
header=$(head -1 <<<"$out")
row=$(sed -n 2p <<<"$out")
check "nyx stats: the main columns, at most 100 characters wide" \
  $([[ $rc == 0 && "$header" =~ ^group\ +calls\ +errors\ +hit_rate\ +input\ +output\ +cache_read\ +cache_write\ +cost_usd\ +saved_usd$ && ${#header} -le 100 ]]; echo $?) "$out"
check "nyx stats: rates in %, dollars to 4 places" \
  $([[ "$row" =~ \ [0-9]+\.[0-9]%\ .*\ [0-9]+\.[0-9]{4}\ +-?[0-9]+\.[0-9]{4}$ ]]; echo $?) "$out"
run_nyx_env "$NYX_BIN" stats --wide
check "nyx stats --wide: every column" \
  $(grep -q "cost_without_cache_usd.*unknown_cost_calls" <<<"$out"; echo $?) "$out"
run_nyx_env "$NYX_BIN" stats --help
check "nyx stats --help lists each option's values and an example" \
  $([[ $rc == 0 ]] && grep -q "total (default), model, session, agent, template or day" <<<"$out" &&
    grep -q "2026-12-01T09:30:00" <<<"$out" && grep -q "^example: nyx stats" <<<"$out"; echo $?) "$out"
for cmd in stats log thoughts budget audit run render stop config templates sim; do
  run_nyx_env "$NYX_BIN" $cmd --help
  check "nyx $cmd --help exits 0 with an example" $([[ $rc == 0 ]] && grep -q "^example: nyx $cmd" <<<"$out"; echo $?) "$out"
done
run_nyx_env "$NYX_BIN" budget --help
check "nyx budget --help names its reset subcommand" \
  $([[ $rc == 0 ]] && grep -q "^       nyx budget reset SCOPE" <<<"$out" && grep -q "^  reset " <<<"$out"; echo $?) "$out"
run_nyx_env "$NYX_BIN" audit --kind config --json
kinds=$(grep -o '"kind":"[a-z_]*"' <<<"$out" | sort -u)
check "nyx audit --kind config shows config events only" \
  $([[ $rc == 0 && "$kinds" == '"kind":"config"' ]]; echo $?) "$out"
# every kind of event nyx itself records is one --help names
cat > audited.lua <<'LUA'
local nyx = require "nyx"
local a = nyx.agent { name = "careful", policy = "policies.careful", budget_usd = 1 }
local t = nyx.tool { name = "wipe", input = { type = "object" }, run = function() return "done" end }
a:call { prompt = "tidy up", tools = { t }, max_iterations = 2 }
LUA
run_nyx_env "$NYX_BIN" run audited.lua
run_nyx_env "$NYX_BIN" budget reset "$("$NYX_BIN" budget --json | grep -o 'agent:careful/[0-9-]*')"
run_nyx_env "$NYX_BIN" audit --json
kinds=$(grep -o '"kind":"[a-z_]*"' <<<"$out" | cut -d'"' -f4 | sort -u)
run_nyx_env "$NYX_BIN" audit --help
missing=$(for k in $kinds; do grep -qw "$k" <<<"$out" || echo "$k"; done)
check "nyx audit --help names every kind nyx records (tool_denied, budget_reset among them)" \
  $([[ -z "$missing" ]] && grep -qx tool_denied <<<"$kinds" && grep -qx budget_reset <<<"$kinds"; echo $?) \
  "kinds: $(echo $kinds); not in --help: $(echo $missing)"
run_nyx_env "$NYX_BIN" audit --kind no_such_kind
check "nyx audit --kind of a kind never recorded shows nothing" \
  $([[ $rc == 0 && "$out" == "(nothing recorded)" ]]; echo $?) "$out"
run_nyx_env "$NYX_BIN" config set budget.daily_usd 2.50
check "nyx config set confirms in one line" \
  $([[ $rc == 0 && $(wc -l <<<"$out") == 1 && "$out" == "budget.daily_usd = 2.5 (saved in the database"* ]]; echo $?) "$out"
# nyx config --help names every key nyx config list shows (budget.{daily,...}_hard spelt out)
keys=$("${clean_env[@]}" "$NYX_BIN" config list --json | grep -o '"key":"[a-z_.]*"' | cut -d'"' -f4)
run_nyx_env "$NYX_BIN" config --help
named=$(python3 -c '
import re, sys
text = " ".join(sys.stdin.read().split()).replace(", ", ",")
for m in re.finditer(r"([a-z_.]*)\{([a-z_,]*)\}([a-z_.]*)", text):
    text += " " + " ".join(m.group(1) + w + m.group(3) for w in m.group(2).split(","))
print(text)' <<<"$out")
missing=$(for k in $keys; do grep -Eq "(^|[^a-z_.])${k//./\\.}\.?([^a-z_.]|$)" <<<"$named" || echo "$k"; done)
check "nyx config --help names every key of nyx config list" \
  $([[ -n "$keys" && -z "$missing" ]]; echo $?) "not named: $(echo $missing)"

# A malformed --since is a usage error (2) in nyx report as in nyx stats, and no page is left.
run_nyx_env "$NYX_BIN" stats --since garbage
check "nyx stats --since garbage is a usage error (2) naming since" \
  $([[ $rc == 2 ]] && grep -q "since must be a date" <<<"$err"; echo $?) "rc=$rc $err"
run_nyx_env "$NYX_BIN" report --since garbage --out "$work/since.html"
check "nyx report --since garbage is a usage error (2) naming since, and writes no page" \
  $([[ $rc == 2 ]] && grep -q "since must be a date" <<<"$err" && [[ ! -e "$work/since.html" ]]; echo $?) "rc=$rc $err"

# --since takes an instant as nyx prints it: a row's created_at copied from nyx log (rounded to
# the millisecond, trailing Z) keeps that row and those after it; 2026-12-01T09:30 and its Z form
# are read too. Each was a usage error ("since must be a date ...").
run_nyx_env "$NYX_BIN" log --json
stamps=$(grep -o '"created_at":"[^"]*"' <<<"$out" | cut -d'"' -f4 | sort)
mid=$(sed -n 2p <<<"$stamps")
want=$(awk -v t="$mid" '$0 >= t' <<<"$stamps" | wc -l)
run_nyx_env "$NYX_BIN" log --since "$mid" --json
got=$(grep -c '"created_at"' <<<"$out")
check "nyx log --since $mid (a created_at nyx log printed) keeps that row and the $((want - 1)) after it" \
  $([[ $rc == 0 && -n "$mid" && "$got" == "$want" ]]; echo $?) "rc=$rc got $got of $want: $err"
for since in "${mid%.*}Z" "${mid:0:16}" "${mid:0:16}Z"; do
  run_nyx_env "$NYX_BIN" stats --since "$since" --json
  check "nyx stats --since $since is read" $([[ $rc == 0 && "$out" == *'"calls":'* ]]; echo $?) "rc=$rc $err"
done
for since in "${mid:0:10}Z" "${mid}x" "${mid:0:19}.Z"; do
  run_nyx_env "$NYX_BIN" stats --since "$since"
  check "nyx stats --since $since is a usage error" $([[ $rc == 2 ]]; echo $?) "rc=$rc $err"
done

# ---- nyx log of any length ----
# Printed a thousand rows at a time, not held whole (a million rows held ~800 MB): one header,
# every row once, in order, the columns aligned as wide as any cell printed before.
cat > many.lua <<'LUA'
local nyx = require "nyx"
local next_call = 1
local function worker()
  while next_call <= 2500 do
    local i = next_call
    next_call = next_call + 1
    nyx.call { prompt = "q" .. i, max_tokens = 5, session = i > 2400 and "a-much-longer-session-name" or "s" }
  end
end
local tasks = {}
for w = 1, 32 do tasks[w] = nyx.spawn(worker) end
for _, t in ipairs(tasks) do t:wait() end
LUA
run_nyx NYX_SIM_TTFT_MS=0 NYX_SIM_TOKEN_MS=0 -- run many.lua --db "$work/many.db"
check "2,500 calls recorded for the log" $([[ $rc == 0 ]]; echo $?) "rc=$rc $err"
run_nyx log --db "$work/many.db"
header=$(head -1 <<<"$out")
session_col=$(awk '{ print index($0, "session") }' <<<"$header")
check "nyx log prints 2,500 rows in order under one header, each once, aligned" \
  $([[ $rc == 0 && $(grep -c '^id ' <<<"$out") == 1 && $(wc -l <<<"$out") == 2501 \
       && $(awk 'NR > 1 { print $1 }' <<<"$out" | sort -u | wc -l) == 2500 \
       && $(awk 'NR > 1 { print $2 }' <<<"$out" | sort -c && echo sorted) == sorted \
       && $(awk -v c="$session_col" 'NR > 1 && substr($0, c, 1) == " " { bad++ } END { print bad + 0 }' <<<"$out") == 0 \
       && $(grep -c 'a-much-longer-session-name' <<<"$out") == 100 ]]; echo $?) "rc=$rc $(head -3 <<<"$out") $err"
# The first thousand were printed before the long session names were read: narrower there.
check "nyx log printed its first rows before it read the last" \
  $([[ $(sed -n 2p <<<"$out" | awk '{ print index($0, "claude-") }') -lt \
       $(tail -1 <<<"$out" | awk '{ print index($0, "claude-") }') ]]; echo $?) "$(sed -n 2p <<<"$out") / $(tail -1 <<<"$out")"

# nyx thoughts --session: a node of the session whose parent is another session's node is a top
# of the session's tree (it was listed by --json and left out of the tree).
cat > trees.lua <<'LUA'
local nyx = require "nyx"
local root = nyx.thought{ label = "plan", session = "one" }
local kid = nyx.thought{ label = "delegated", parent = root, session = "two" }
local leaf = nyx.thought{ label = "step", parent = kid, session = "two" }
nyx.call{ prompt = "x", max_tokens = 5, thought = leaf, session = "two" }
LUA
run_nyx run trees.lua --db "$work/trees.db" --quiet
run_nyx thoughts --db "$work/trees.db" --session two
check "nyx thoughts --session shows a session's nodes under another session's node, as a tree" \
  $([[ $rc == 0 && $(sed -n 1p <<<"$out") == "#2  label=delegated  calls=1 "* \
       && $(sed -n 2p <<<"$out") == "  #3  label=step  calls=1 "* && $(wc -l <<<"$out") == 2 ]]; echo $?) "rc=$rc out=$out $err"
run_nyx thoughts --db "$work/trees.db"
check "nyx thoughts without --session shows the whole tree from its root" \
  $([[ $rc == 0 && $(sed -n 1p <<<"$out") == "#1  label=plan  calls=1 "* \
       && $(sed -n 2p <<<"$out") == "  #2  label=delegated  calls=1 "* && $(wc -l <<<"$out") == 3 ]]; echo $?) "rc=$rc out=$out $err"

finish
