#!/usr/bin/env bash
# Values keep the database's type on their way out: `nyx stats --json` gives a session named
# "007" and an agent named "1e3" as strings (they are text in the database) and counts and
# costs as numbers, as `nyx log --json` does for a call's fields.
set -uo pipefail

unset LD_PRELOAD
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
clean_env+=("NYX_PROVIDER=sim")
cd "$work" || exit 1

cat >calls.lua <<'LUA'
local nyx = require "nyx"
local s = nyx.session{ name = "007" }
nyx.call{ prompt = "hello", max_tokens = 8, session = s, agent = "1e3" }
nyx.call{ prompt = "again", max_tokens = 8, session = s, agent = "1e3" }
LUA
run_nyx run calls.lua
check "a script calls in session 007 as agent 1e3" "$rc" "$err"

run_nyx stats --by session --json
jq -e 'select(.group == "007") | (.group | type) == "string" and (.calls | type) == "number" and .calls == 2
       and (.cost_usd | type) == "number"' <<<"$out" >/dev/null
check "stats by session: the session \"007\" is a string, calls and cost are numbers" $? "$out"

run_nyx stats --by agent --json
jq -e 'select(.group == "1e3") | (.group | type) == "string" and .calls == 2' <<<"$out" >/dev/null
check "stats by agent: the agent \"1e3\" is a string, not 1000" $? "$out"

run_nyx log --last 1 --json
jq -e '(.session | type) == "string" and .session == "007" and (.agent | type) == "string"
       and (.tokens | type) == "number" and (.cost | type) == "number"' <<<"$out" >/dev/null
check "log: session and agent are strings, token counts numbers" $? "$out"

finish
