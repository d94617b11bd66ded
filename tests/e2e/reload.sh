#!/usr/bin/env bash
# Hot reload, end to end, on the built-in simulator:
#  1. a running `nyx run` script sees an edited module on its next use (same table, state
#     carried by on_reload), engine statistics survive, a broken edit keeps the old version
#     serving and is reported once with file:line, and nyx.reload forces a reload;
#  2. `nyx run --watch` runs the script again after it or a module it loaded changes, on the
#     same engine (its statistics go on);
#  3. the embedding example (a C host with its own frame loop) uses an edited policy on its
#     next call. It runs on a copy: tests never edit tracked files.
# Sleeps only sequence the edits; waits are bounded so that a broken build fails, not hangs.
set -u
: "${NYX_BIN:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
EMBED_BIN="${NYX_EMBED_BIN:-$(dirname "$NYX_BIN")/nyx_embed_example}"

# shellcheck source=lib/check.sh
source "$NYX_SOURCE_DIR/tests/e2e/lib/check.sh" # $work, $pids killed at exit, pass, fail
T=$work

# A clean environment: the simulator, a database of our own, no key from outside.
NYX_ENV=(env -i "PATH=$PATH" "HOME=$T" "NYX_PROVIDER=sim" "NYX_DB=$T/nyx.db"
         "ASAN_OPTIONS=${ASAN_OPTIONS:-}" "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}")

# wait_for FILE PATTERN [COUNT]: until COUNT lines of FILE match PATTERN (grep -E).
wait_for() {
  local file=$1 pattern=$2 want=${3:-1} n
  for _ in $(seq 1 1200); do
    n=$(grep -cE -- "$pattern" "$file" 2>/dev/null)
    [ "${n:-0}" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "--- timed out waiting for /$pattern/ in $file:"
  cat "$file"
  return 1
}

# save FILE: stdin becomes FILE the way editors save, through a temporary file and a rename.
save() {
  cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

# ---------------------------------------------------------------- 1. nyx run: hot reload
A="$T/app"
mkdir -p "$A/lua"
save "$A/lua/counter.lua" <<'EOF'
local M = {}
M.n = 0
function M.version() return "v1" end
function M.bump() M.n = M.n + 1 return M.n end
return M
EOF
save "$A/main.lua" <<'EOF'
local nyx = require "nyx"
local counter = require "counter" -- held for the whole run: reloads must update this table
io.stdout:setvbuf("line")
local i = 0
while true do
  i = i + 1
  nyx.call{ prompt = "tick " .. i, max_tokens = 8 }
  print(("tick %d version=%s bumps=%d calls=%d"):format(i, counter.version(), counter.bump(), nyx.stats().calls))
  local stop = io.open("stop")
  if stop then stop:close() break end
  nyx.sleep(0.05)
end
print("stopped")
EOF
(cd "$A" && exec "${NYX_ENV[@]}" "$NYX_BIN" run main.lua >out 2>err) &
app=$!
pids+=("$app")

if wait_for "$A/out" "version=v1" 2; then
  save "$A/lua/counter.lua" <<'EOF'
local M = {}
M.n = 0
function M.version() return "v2" end
function M.bump() M.n = M.n + 100 return M.n end
function M.on_reload(old) M.n = old.n end -- carry the count over
return M
EOF
  wait_for "$A/out" "version=v2" 2 && pass "the running script uses the edited module"
  # The first v2 line goes on from the last v1 count: one table, state carried over.
  last_v1=$(grep "version=v1" "$A/out" | tail -1 | sed -E 's/.*bumps=([0-9]+).*/\1/')
  first_v2=$(grep "version=v2" "$A/out" | head -1 | sed -E 's/.*bumps=([0-9]+).*/\1/')
  if [ "$first_v2" = "$((last_v1 + 100))" ]; then pass "on_reload carried the state over ($last_v1 -> $first_v2)"
  else fail "bumps went from $last_v1 (v1) to $first_v2 (v2), expected $((last_v1 + 100))"; fi

  # A broken edit (line 3): the old version keeps serving, reported once with file:line,
  # even when the same broken text is saved twice.
  broken='local M = {}
M.n = 0
function M.version( return "v3" end
return M'
  printf '%s\n' "$broken" | save "$A/lua/counter.lua"
  wait_for "$A/err" "counter\.lua:3:" 1
  sleep 0.3
  printf '%s\n' "$broken" | save "$A/lua/counter.lua"
  n_before=$(grep -c "version=v2" "$A/out")
  wait_for "$A/out" "version=v2" $((n_before + 3)) && pass "after a broken edit the old version keeps serving"
  if grep -q "version=v3" "$A/out"; then fail "the broken version was used"; fi

  save "$A/lua/counter.lua" <<'EOF'
local M = {}
M.n = 0
function M.version() return "v3" end
function M.bump() M.n = M.n + 1 return M.n end
function M.on_reload(old) M.n = old.n end
return M
EOF
  wait_for "$A/out" "version=v3" 1 && pass "a fixed edit is picked up"
  touch "$A/stop"
  wait_for "$A/out" "^stopped" 1
fi
wait "$app"
status=$?
[ "$status" = 0 ] || fail "nyx run exited with $status"
reports=$(grep -c "counter\.lua:3:" "$A/err")
if [ "$reports" = 1 ]; then pass "the broken edit was reported once, with file:line"
else fail "the broken edit was reported $reports times"; cat "$A/err"; fi
grep -q "not reloaded, the loaded version keeps serving" "$A/err" || fail "the report does not say the old version serves"
# Statistics live in the engine: every tick made one call, and the count never restarted.
bad=$(awk '/^tick/ { split($1, a, " "); i = $2; c = $NF; sub("calls=", "", c); if (c != i) print }' "$A/out")
ticks=$(grep -c "^tick" "$A/out")
if [ -z "$bad" ] && [ "$ticks" -gt 5 ]; then pass "nyx.stats() totals survived the reloads ($ticks calls)"
else fail "statistics did not survive the reloads: $bad"; fi

# nyx.reload forces a reload: same table (objects of a class module see new methods), the
# hook gets the old state, a broken file is refused with file:line and changes nothing.
F="$T/force"
mkdir -p "$F/lua"
save "$F/lua/greeter.lua" <<'EOF'
local M = { v = 1 }
M.__index = M
function M.new(name) return setmetatable({ name = name }, M) end
function M:hello() return "hello " .. self.name end
return M
EOF
save "$F/force.lua" <<'EOF'
local nyx = require "nyx"
local g = require "greeter"
local bob = g.new("bob")
local function write(text)
  local f = assert(io.open("lua/greeter.lua", "w")); f:write(text); f:close()
end
write([[
local M = { v = 2 }
M.__index = M
function M.new(name) return setmetatable({ name = name }, M) end
function M:hello() return "good day " .. self.name end
function M.on_reload(old) M.was = old.v end
return M
]])
local ok = nyx.reload("greeter")
print(("forced %s %s %s %s %s"):format(ok, g.v, g.was, bob:hello(), require("greeter") == g))
write("local M = {}\nreturn M +\n")
local ok2, err = nyx.reload("greeter")
print(("broken %s %s %s %s"):format(ok2, g.v, bob:hello(), err))
local ok3, err3 = pcall(nyx.reload, "never_loaded")
print(("unknown %s %s"):format(ok3, tostring(err3)))
EOF
(cd "$F" && "${NYX_ENV[@]}" "$NYX_BIN" run force.lua >out 2>err) || fail "force.lua failed: $(cat "$F/err")"
grep -q "^forced true 2 1 good day bob true$" "$F/out" && pass "nyx.reload updates the module in place" \
  || { fail "nyx.reload: $(cat "$F/out" "$F/err")"; }
grep -qE "^broken false 2 good day bob \./lua/greeter\.lua:[0-9]+:" "$F/out" && pass "nyx.reload refuses a broken file" \
  || fail "nyx.reload of a broken file: $(cat "$F/out")"
grep -q "^unknown false .*not loaded from a Lua file" "$F/out" && pass "nyx.reload of an unknown module raises" \
  || fail "nyx.reload of an unknown module: $(cat "$F/out")"

# ---------------------------------------------------------------- 2. nyx run --watch
W="$T/watch"
mkdir -p "$W/lua"
save "$W/lua/helper.lua" <<'EOF'
return { word = "one" }
EOF
save "$W/w.lua" <<'EOF'
local nyx = require "nyx"
io.stdout:setvbuf("line")
local helper = require "helper"
nyx.call{ prompt = "run", max_tokens = 8 }
print(("run says A helper=%s calls=%d"):format(helper.word, nyx.stats().calls))
EOF
(cd "$W" && exec timeout 300 "${NYX_ENV[@]}" "$NYX_BIN" run --watch w.lua >out 2>err) &
watcher=$!
pids+=("$watcher")
if wait_for "$W/out" "run says A helper=one calls=1$" 1 && wait_for "$W/err" "watching for changes" 1; then
  sed 's/run says A/run says B/' "$W/w.lua" | save "$W/w.lua"
  wait_for "$W/out" "run says B helper=one calls=2$" 1 && pass "--watch runs an edited script again, engine state kept"
  save "$W/lua/helper.lua" <<'EOF'
return { word = "two" }
EOF
  wait_for "$W/out" "run says B helper=two calls=3$" 1 && pass "--watch runs the script again after a module changed"
fi
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
runs=$(grep -c "^run says" "$W/out")
[ "$runs" = 3 ] || fail "--watch ran the script $runs times, expected 3: $(cat "$W/out" "$W/err")"

# ---------------------------------------------------------------- 3. the embedding example
E="$T/embed"
mkdir -p "$E"
cp "$NYX_SOURCE_DIR/examples/embed/policy.lua" "$NYX_SOURCE_DIR/examples/embed/driver.lua" "$E/"
(exec "${NYX_ENV[@]}" "$EMBED_BIN" "$E" 300 >"$E/out" 2>"$E/err") &
host=$!
pids+=("$host")
if wait_for "$E/out" "policy patrol .*model claude-haiku-5-5" 1; then
  sed -e 's/M.name = "patrol"/M.name = "roam"/' -e 's/claude-haiku-5-5/claude-sonnet-5-5/' \
      "$E/policy.lua" | save "$E/policy.lua"
  wait_for "$E/out" "policy roam .*model claude-sonnet-5-5" 1 \
    && pass "the embedded host's next call used the edited policy" \
    || fail "the embedded host never used the edited policy"
  # The policy's own count went on across the reload: turn N is the policy's Nth call.
  line=$(grep "policy roam" "$E/out" | head -1)
  [[ "$line" =~ ^turn\ ([0-9]+):\ policy\ roam\ \(call\ ([0-9]+)\ of\ it\) ]] && \
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && pass "the policy's state survived its reload" \
    || fail "policy state after reload: $line"
else
  fail "the embedded host never called with its policy: $(cat "$E/out" "$E/err")"
fi
kill -TERM "$host" 2>/dev/null
wait "$host"
status=$?
[ "$status" = 0 ] || fail "the embedding host exited with $status: $(cat "$E/err")"
grep -q "^host: [0-9]* frames" "$E/out" || fail "the host did not finish its frame loop cleanly"
grep -q "reloaded module 'policy'" "$E/err" || fail "the host's log did not report the reload"

# Under the sanitizer build, any report in a child's stderr is a failure.
if grep -lE "Sanitizer|runtime error:" "$A/err" "$F/err" "$W/err" "$E/err" 2>/dev/null; then
  fail "sanitizer reports above"
fi

finish
