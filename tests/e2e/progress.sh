#!/usr/bin/env bash
# The live status line of `nyx run`, driven under a pseudo-terminal (script from util-linux):
# it shows calls, cost, the cache, the nearest budget and nyx.progress text; the script's
# print and the engine's notices are never written into it; it is erased at exit; at most ten
# draws a second; plain without colour under NO_COLOR and without escapes under TERM=dumb;
# absent when stderr is piped and with --quiet.
set -uo pipefail

unset LD_PRELOAD
command -v script >/dev/null || { echo "script (util-linux) is needed"; exit 1; }

source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"

base_env=("${clean_env[@]}" "NYX_SIM_TTFT_MS=150" "TERM=xterm")

cat >"$work/s.lua" <<'LUA'
local nyx = require "nyx"
nyx.budget.limit("day", 1)
nyx.progress("phase one")
local tasks = {}
for i = 1, 4 do
  tasks[i] = nyx.spawn(function()
    return nyx.call { model = "claude-haiku-4-5", max_tokens = 20,
                      messages = { { role = "user", content = "question " .. i } } }
  end)
end
for i = 1, 4 do tasks[i]:wait() end
nyx.sleep(0.3)
print("printed by the script")
nyx.log("a notice from the script", "info")
for i = 1, 30 do
  nyx.progress("step " .. i .. " of 30")
  nyx.sleep(0.01)
end
nyx.sleep(0.3)
LUA

# run_tty [VAR=value...] -- ARGS...: nyx run on a pseudo-terminal; the transcript in $work/tty.
run_tty() {
  local vars=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do vars+=("$1"); shift; done
  shift
  local cmd
  printf -v cmd '%q ' "${base_env[@]}" "${vars[@]}" "$NYX_BIN" run "$@"
  local t0 t1
  t0=$(date +%s.%N)
  script -qfec "stty cols 200; $cmd" /dev/null >"$work/tty" 2>&1 </dev/null
  rc=$?
  t1=$(date +%s.%N)
  elapsed=$(echo "$t1 - $t0" | bc)
}

# tty_parts FINAL GONE WANT...: whether, in $work/tty, a status line ends with each WANT and the
# last ends with FINAL and no longer holds GONE (the part was taken away); else what was drawn.
tty_parts() {
  python3 - "$work/tty" "$@" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode()
final, gone, wants = sys.argv[2], sys.argv[3], sys.argv[4:]
lines = re.findall(r"\r\x1b\[2m(nyx: [^\x1b]*)\x1b\[0m", data)
fails = ["no line ending with %r" % w for w in wants if not any(l.endswith(w) for l in lines)]
if not lines or not lines[-1].endswith(final) or gone in lines[-1].replace(final, ""):
    fails.append("the part stayed: %r" % (lines[-1:],))
if fails:
    print("\n".join(fails + lines[-8:])); sys.exit(1)
PY
}

run_tty -- "$work/s.lua"
check "nyx run on a terminal succeeds" "$rc" "$(cat -v "$work/tty")"
python3 - "$work/tty" "$elapsed" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode()
elapsed = float(sys.argv[2])
fails = []
draws = [m.start() for m in re.finditer(r"\r\x1b\[2mnyx: \d+ in flight", data)]
if not draws:
    fails.append("no status line drawn")
for want in ("4 in flight, 0 done", "phase one", "step 30 of 30", "4 done | $0.0", ", saved $0.",
             "cache 0%", "| budget day ", "% left"):
    if want not in data:
        fails.append("status line lacks %r" % want)
# Whatever else was written began on a clean line: the status line was erased first (or the
# line before it ended).
for text in ("printed by the script", "a notice from the script"):
    i = data.find(text)
    if i < 0:
        fails.append("%r missing" % text)
    elif not (data[:i].endswith("\r\x1b[K") or data[:i].endswith("\n")):
        fails.append("%r written into the status line: %r" % (text, data[max(0, i - 60):i + len(text)]))
# Erased at exit: after the last draw comes the erasing sequence and nothing else visible.
if draws:
    tail = data[draws[-1]:]
    end = tail.find("\x1b[0m\x1b[K")
    rest = tail[end + len("\x1b[0m\x1b[K"):] if end >= 0 else tail
    if not rest.startswith("\r\x1b[K") or rest[len("\r\x1b[K"):].strip():
        fails.append("status line not erased at exit: %r" % tail[-200:])
# At most ten draws a second: the process lived less than the time measured around it.
if len(draws) > elapsed * 10 + 1:
    fails.append("%d draws in %.2f s" % (len(draws), elapsed))
print("draws=%d elapsed=%.2f" % (len(draws), elapsed))
if fails:
    print("\n".join(fails))
    sys.exit(1)
PY
check "the status line shows calls, cost, cache, budget and nyx.progress, steps aside for output and is erased at exit, at most 10 draws/s" $? "$(cat -v "$work/tty" | tail -c 2000)"

# A council adds its own part, beside the script's, while it runs (1 s to the first token: the
# line is drawn many times between two answers), and takes it away when it is done.
cat >"$work/council.lua" <<'LUA'
local nyx = require "nyx"
nyx.progress("my words")
nyx.council { context = string.rep("Shared context. ", 300), personas = { "CFO", "CTO", "CEO" },
              question = "Should we?", max_tokens = 20 }
nyx.progress("after the council")
nyx.sleep(0.3)
LUA
run_tty NYX_SIM_TTFT_MS=1000 -- "$work/council.lua"
tty_parts "| after the council" "council " "| my words | council 0 of 3 answered" \
  "| my words | council 1 of 3 answered"
check "a council shows its personas answered beside the script's words, and removes it when done" $? "$(cat -v "$work/tty" | tail -c 1500)"

# A tool loop shows how far it is: "iteration n of max", the agent's name first, gone when it
# ends. tool_choice "any" makes the model ask for the tool on every turn, so the loop runs to
# its max_iterations; the tool takes 0.3 s, so every iteration is drawn.
cat >"$work/loop.lua" <<'LUA'
local nyx = require "nyx"
local dig = nyx.tool { name = "dig", input = { type = "object", properties = {} },
                       run = function() nyx.sleep(0.3) return "a coin" end }
local scout = nyx.agent { name = "scout" }
local ok, e = pcall(scout.call, scout, { prompt = "Dig", tools = { dig }, tool_choice = "any", max_iterations = 3 })
assert(not ok and e.type == "max_iterations", tostring(e))
nyx.progress("after the loop")
nyx.sleep(0.3)
LUA
run_tty NYX_SIM_TTFT_MS=50 -- "$work/loop.lua"
tty_parts "| after the loop" "iteration" "| scout: iteration 1 of 3" "| scout: iteration 2 of 3" \
  "| scout: iteration 3 of 3"
check "a tool loop shows iteration n of max under nyx run, and removes it when done" $? "$(cat -v "$work/tty" | tail -c 1500)"

run_tty NO_COLOR=1 -- "$work/s.lua"
grep -q "in flight" "$work/tty" && ! grep -q $'\e\[2m' "$work/tty"
check "NO_COLOR: the line without colour" $? "$(cat -v "$work/tty" | head -c 600)"

run_tty TERM=dumb -- "$work/s.lua"
grep -q "in flight" "$work/tty" && ! grep -q $'\e' "$work/tty"
check "TERM=dumb: the line without escape sequences" $? "$(cat -v "$work/tty" | head -c 600)"

run_tty -- --quiet "$work/s.lua"
[[ $rc == 0 ]] && ! grep -q "in flight" "$work/tty" && grep -q "printed by the script" "$work/tty"
check "--quiet: no status line" $? "$(cat -v "$work/tty" | head -c 600)"

"${base_env[@]}" "$NYX_BIN" run "$work/s.lua" >"$work/out" 2>"$work/err"
rc=$?
[[ $rc == 0 ]] && ! grep -q "in flight" "$work/err" && ! grep -q $'\e' "$work/err" &&
  grep -q "printed by the script" "$work/out" && grep -q "a notice from the script" "$work/err"
check "stderr piped: no status line, output and notices as before" $? "$(cat -v "$work/err")"

finish
