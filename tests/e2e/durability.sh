#!/usr/bin/env bash
# Killing nyx with SIGKILL mid-run loses no interaction whose result a script had received:
# the script prints each interaction id as it gets it; after the kill, every printed id must
# be in the database.
set -euo pipefail
dir=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/run.lua" <<'LUA'
local nyx = require "nyx"
local tasks = {}
for w = 1, 8 do
  tasks[w] = nyx.spawn(function()
    for i = 1, 100000 do
      local r = nyx.call{ prompt = "durable " .. w .. "/" .. i, max_tokens = 8 }
      io.stdout:write(r.interaction_id, "\n")
      io.stdout:flush()
    end
  end)
end
for w = 1, 8 do tasks[w]:wait() end
LUA
NYX_DB="$dir/nyx.db" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=2 "$NYX_BIN" run "$dir/run.lua" > "$dir/seen.txt" 2>/dev/null &
pid=$!
# Let it get well into the run, then kill it without warning.
for _ in $(seq 1 100); do
  [ "$(wc -l < "$dir/seen.txt")" -ge 300 ] && break
  sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null || true
seen=$(grep -c '^ix_' "$dir/seen.txt" || true)
[ "$seen" -ge 300 ] || { echo "FAIL: the script received only $seen results before the kill"; exit 1; }
"$NYX_BIN" log --db "$dir/nyx.db" --json | sed -n 's/.*"id":"\(ix_[^"]*\)".*/\1/p' | sort > "$dir/stored.txt"
sort "$dir/seen.txt" | grep '^ix_' > "$dir/seen_sorted.txt"
missing=$(comm -23 "$dir/seen_sorted.txt" "$dir/stored.txt" | wc -l)
echo "received $seen results before SIGKILL; $(wc -l < "$dir/stored.txt") interactions stored; missing $missing"
[ "$missing" -eq 0 ] || { echo "FAIL: $missing interactions the script had seen are not in the database"; exit 1; }
echo "1 passed, 0 failed"
