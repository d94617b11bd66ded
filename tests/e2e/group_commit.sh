#!/usr/bin/env bash
# Group commit keeps the durability promise: the records of the calls that finish in one loop
# turn share one commit, and no script sees a result before its record is committed. 64 calls
# in flight against the simulator with no delay (many finish in each turn); the script writes
# each interaction id as it gets it and, at the 300th, kills its own process with SIGKILL on
# the spot: every id it wrote must be in the database.
set -uo pipefail
: "${NYX_BIN:?run through ctest}"
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-group-commit.XXXXXX")
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib/check.sh"
cat >"$work/run.lua" <<'LUA'
local nyx = require "nyx"
local f = assert(io.open("/proc/self/stat"))
local pid = f:read("a"):match("^(%d+)")
f:close()
local seen = 0
local tasks = {}
for w = 1, 64 do
  tasks[w] = nyx.spawn(function()
    for i = 1, 100000 do
      local r = nyx.call{ prompt = "group " .. w .. "/" .. i, max_tokens = 8 }
      io.stdout:write(r.interaction_id, "\n")
      io.stdout:flush()
      seen = seen + 1
      if seen == 300 then os.execute("kill -KILL " .. pid) end
    end
  end)
end
for w = 1, 64 do tasks[w]:wait() end
LUA
run_nyx NYX_PROVIDER=sim NYX_SIM_TTFT_MS=0 NYX_SIM_TOKEN_MS=0 run "$work/run.lua"
check "the process was killed by its own script (SIGKILL: exit 137)" "$([[ $rc == 137 ]]; echo $?)" "rc $rc: $err"
grep '^ix_' "$work/out" | sort >"$work/seen.txt" || true
seen=$(wc -l <"$work/seen.txt")
check "the script saw 300 results before the kill" "$([[ $seen -ge 300 ]]; echo $?)" "saw $seen"
run_nyx log --json
sed -n 's/.*"id":"\(ix_[^"]*\)".*/\1/p' <<<"$out" | sort >"$work/stored.txt"
missing=$(comm -23 "$work/seen.txt" "$work/stored.txt" | wc -l)
check "every result the script saw is in the database ($seen seen, $(wc -l <"$work/stored.txt") stored)" \
  "$([[ $missing -eq 0 ]]; echo $?)" "$missing missing: $(comm -23 "$work/seen.txt" "$work/stored.txt" | head -3)"
echo "$((3 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
