#!/usr/bin/env bash
# One `nyx stop` heard by three running processes on one database stops each (stopped, with the
# reason, or its call cancelled) and is one emergency_stop row in the audit trail (the process
# that gives the stop writes it; those that hear of it do not). A reason that cannot be kept whole
# is refused and stops nothing.
set -euo pipefail
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export NYX_DB="$dir/shared.db" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=20
cat > "$dir/loop.lua" <<'LUA'
local nyx = require "nyx"
for i = 1, 100000 do
  local ok, r = pcall(nyx.call, { prompt = "loop " .. i, max_tokens = 5 })
  if not ok then print("stopped by", r.type, r.message) return end
  if i == 2 then io.stdout:write("RUNNING\n") io.stdout:flush() end
end
LUA
for n in 1 2 3; do
  "$NYX_BIN" run "$dir/loop.lua" > "$dir/loop$n.out" 2>"$dir/loop$n.err" & pids+=($!)
done
for n in 1 2 3; do
  for _ in $(seq 1200); do grep -q RUNNING "$dir/loop$n.out" && break; sleep 0.05; done
  grep -q RUNNING "$dir/loop$n.out" || fail "process $n did not start: $(cat "$dir/loop$n.err")"
done
"$NYX_BIN" stop --reason "drill" > /dev/null
for n in 1 2 3; do
  wait "${pids[$((n - 1))]}" || true
  grep -q "stopped by	stopped	emergency stop: drill" "$dir/loop$n.out" || grep -q "stopped by	cancelled" \
    "$dir/loop$n.out" || fail "process $n did not stop: $(cat "$dir/loop$n.out")"
done
rows=$(sqlite3 "$NYX_DB" "SELECT count(*) FROM audit_events WHERE kind = 'emergency_stop'")
[ "$rows" = 1 ] || fail "one stop, $rows emergency_stop audit rows"
"$NYX_BIN" stop --clear > /dev/null
cleared=$(sqlite3 "$NYX_DB" "SELECT count(*) FROM audit_events WHERE kind = 'emergency_stop_cleared'")
[ "$cleared" = 1 ] || fail "one clear, $cleared emergency_stop_cleared rows"
# A reason that cannot be kept whole as one line of text is refused (2), named, and no stop is
# set: cut at 255 bytes it would read as another reason, or end inside a character.
long=$(head -c 300 /dev/zero | tr '\0' x)
for reason in "$long" $'over\nplan' $'caf\xe9'; do
  if "$NYX_BIN" stop --reason "$reason" > "$dir/bad.out" 2> "$dir/bad.err"; then rc=0; else rc=$?; fi
  [ "$rc" = 2 ] && grep -q "^nyx stop: --reason \(is 300 bytes\|holds a control character\|is not valid UTF-8\)" \
    "$dir/bad.err" || fail "a bad --reason: rc=$rc $(cat "$dir/bad.err")"
done
rows=$(sqlite3 "$NYX_DB" "SELECT count(*) FROM audit_events WHERE kind = 'emergency_stop'")
[ "$rows" = 1 ] || fail "a refused reason set a stop: $rows emergency_stop audit rows"
echo 'local nyx = require "nyx"; print(nyx.call{ prompt = "x", max_tokens = 5 }.text ~= nil)' > "$dir/one.lua"
[ "$("$NYX_BIN" run "$dir/one.lua" 2>/dev/null)" = true ] || fail "a call after refused reasons did not go"
# A stop that cannot be written to the database (opened read-only) reaches no other process:
# nyx stop fails (1) and says so, where it printed "emergency stop set" and exited 0.
if "$NYX_BIN" stop --db "file:$NYX_DB?mode=ro" > "$dir/ro.out" 2> "$dir/ro.err"; then rc=0; else rc=$?; fi
[ "$rc" = 1 ] && [ ! -s "$dir/ro.out" ] && grep -q "^nyx stop: stopped in this process only: the stop could not reach the database: .*readonly" \
  "$dir/ro.err" || fail "a stop not written: rc=$rc $(cat "$dir/ro.out" "$dir/ro.err")"
[ "$("$NYX_BIN" run "$dir/one.lua" 2>/dev/null)" = true ] || fail "a stop not written stopped the next run"
echo "1 passed, 0 failed"
