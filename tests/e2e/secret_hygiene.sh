#!/usr/bin/env bash
# Secret hygiene and the debug view (issue 9.4, issue 11.3), end to end over HTTP:
#  1. `nyx run --debug` writes each raw request and response (method, URL, headers, body;
#     status, headers, body or the SSE text) to stderr with the API key masked;
#  2. the key then never appears anywhere after a run through every error path (401 from a
#     fault and from a server that refuses the key, 429, 500, 529, timeout, malformed body,
#     cut stream, unreachable server, an uncaught error's traceback): not in stdout, stderr,
#     the debug dump, the database file (and its WAL), `nyx log`, `nyx log --json`,
#     `nyx log --raw ID` of every interaction, `nyx audit` or `nyx stats`;
#  3. the debug view follows the storage mode (redacted by default, none: sizes only), and
#     NYX_DEBUG=1 with NYX_DEBUG_FILE writes to that file instead of stderr;
#  4. `nyx log --raw ID` shows a stored exchange: request, response, attempts, status, error.
set -u

KEY="sk-ant-test-SECRETSECRETSECRET"
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh" # $work, $pids killed at exit, pass, fail
T=$work

# start_sim NAME ARGS...: `nyx sim` on a free port; sets PORT.
start_sim() {
  local name=$1
  shift
  (exec env -i "PATH=$PATH" "ASAN_OPTIONS=${ASAN_OPTIONS:-}" timeout 300 "$NYX_BIN" sim --port 0 --ttft-ms 2 "$@" \
     >"$T/$name.out" 2>&1) &
  pids+=("$!")
  PORT=""
  for _ in $(seq 200); do
    PORT=$(grep -oE '127\.0\.0\.1:[0-9]+' "$T/$name.out" 2>/dev/null | head -1 | cut -d: -f2)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "nyx sim did not start: $(cat "$T/$name.out")"
  exit 1
}

start_sim open # accepts any key
SIM="http://127.0.0.1:$PORT"
start_sim strict --api-key "sk-ant-the-right-one-0000000000" # refuses ours: a real 401
STRICT="http://127.0.0.1:$PORT"

faults() { env -u LD_PRELOAD curl -s -S -X POST -H 'content-type: application/json' --data-binary "$1" "$SIM/sim/faults" >/dev/null; }
clear_faults() { env -u LD_PRELOAD curl -s -S -X DELETE "$SIM/sim/faults" >/dev/null; }

BASE=("PATH=$PATH" "HOME=$T" "ANTHROPIC_API_KEY=$KEY" "NYX_DB=$T/nyx.db" "LLM_MAX_RETRIES=1"
      "NYX_RETRY_BASE_SECONDS=0.01" "NYX_RETRY_MAX_SECONDS=0.05" "ASAN_OPTIONS=${ASAN_OPTIONS:-}"
      "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}")
# run NAME VAR=VALUE... -- ARGS...: nyx with the base environment, output kept as NAME.out/.err
run() {
  local name=$1 vars=()
  shift
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  (cd "$T" && env -i "${BASE[@]}" "${vars[@]}" "$NYX_BIN" "$@" >"$T/$name.out" 2>"$T/$name.err")
}

cat >"$T/calls.lua" <<'EOF'
-- One call of each kind the case names, catching its error and printing every field of it.
local nyx = require "nyx"
local what = nyx.vars.what or "ok"
local function show(label, ok, r)
  if ok then
    print(label, "ok", r.model, r.interaction_id, r.text)
  else
    local fields = {}
    for k, v in pairs(r) do fields[#fields + 1] = k .. "=" .. tostring(v) end
    table.sort(fields)
    print(label, "error", tostring(r), table.concat(fields, " "))
  end
end
if what == "ok" then
  show("plain", pcall(nyx.call, { prompt = "Write to alice@example.com about the quarter.", max_tokens = 30 }))
  local parts = {}
  show("stream", pcall(nyx.call, { prompt = "Stream a short line.", max_tokens = 30,
                                   stream = function(t) parts[#parts + 1] = t end }))
elseif what == "stream_error" then
  show(what, pcall(nyx.call, { prompt = "Stream a line.", max_tokens = 30, stream = function() end }))
elseif what == "timeout" then
  show(what, pcall(nyx.call, { prompt = "Hello", max_tokens = 30, timeout = 0.3 }))
else
  show(what, pcall(nyx.call, { prompt = "Hello", max_tokens = 30 }))
end
if nyx.vars.raise then
  nyx.call{ prompt = "and now fail for real", max_tokens = 30 } -- uncaught: nyx run prints a traceback
end
EOF

# ---------------------------------------------------------------- 1. the debug view
run ok ANTHROPIC_BASE_URL="$SIM" -- run --debug calls.lua
err="$T/ok.err"
grep -q "^plain	ok" "$T/ok.out" && grep -q "^stream	ok" "$T/ok.out" || fail "the ok calls failed: $(cat "$T/ok.out" "$err")"
requests=$(grep -c '^nyx debug: >>> request ix_' "$err")
responses=$(grep -c '^nyx debug: <<< response ix_.*HTTP 200' "$err")
[ "$requests" = 2 ] && [ "$responses" = 2 ] && pass "--debug writes both requests and both responses" \
  || fail "--debug wrote $requests requests and $responses responses: $(cat "$err")"
grep -q "^POST $SIM/v1/messages$" "$err" && pass "the request line has method and URL" || fail "no request line"
grep -qE '^x-api-key: sk-ant\*+ET$' "$err" && pass "the key header is masked" || fail "no masked key header: $(grep -i api-key "$err")"
grep -q '^anthropic-version: 2023-06-01$' "$err" || fail "the request headers are missing"
grep -q '"max_tokens":30' "$err" || fail "the request body is missing"
grep -qi '^content-type: application/json' "$err" || fail "the response headers are missing"
grep -q '^request-id: req_sim_' "$err" || fail "the response's request-id header is missing"
grep -q '"usage":{' "$err" || fail "the response body is missing"
grep -q '^event: message_start$' "$err" && grep -q '^event: message_stop$' "$err" \
  && pass "a stream shows its SSE text" || fail "no SSE text in the debug view"
grep -q '\[EMAIL\]' "$err" && ! grep -q 'alice@example.com' "$err" \
  && pass "bodies are redacted (the default storage mode)" || fail "the e-mail address was not redacted"

# ---------------------------------------------------------------- 2. every error path
n=0
error_case() { # NAME FAULT_JSON [VAR=VALUE...]
  local name=$1 rule=$2
  shift 2
  clear_faults
  [ -n "$rule" ] && faults "$rule"
  run "$name" ANTHROPIC_BASE_URL="$SIM" "$@" -- run --debug calls.lua --var "what=$name"
  if grep -q "^$name	error" "$T/$name.out"; then n=$((n + 1)); else fail "$name did not fail: $(cat "$T/$name.out" "$T/$name.err")"; fi
}
error_case unauthorized '{"fault":"unauthorized","count":5}'
error_case rate_limit '{"fault":"rate_limit","retry_after":0,"count":5}'
error_case server_error '{"fault":"server_error","count":5}'
error_case overloaded '{"fault":"overloaded","count":5}'
error_case malformed '{"fault":"malformed","count":5}'
error_case timeout '{"fault":"hang","hang_ms":2000,"count":2}'
error_case stream_error '{"fault":"cut","stream":true,"after_events":3,"count":5}'
clear_faults
run refused ANTHROPIC_BASE_URL="$STRICT" -- run --debug calls.lua --var what=refused
grep -q "^refused	error	.*authentication_error" "$T/refused.out" && n=$((n + 1)) \
  || fail "the strict server did not refuse the key: $(cat "$T/refused.out" "$T/refused.err")"
run unreachable ANTHROPIC_BASE_URL="http://127.0.0.1:9" -- run --debug calls.lua --var what=unreachable
grep -q "^unreachable	error	.*network_error" "$T/unreachable.out" && n=$((n + 1)) \
  || fail "an unreachable server: $(cat "$T/unreachable.out" "$T/unreachable.err")"
faults '{"fault":"unauthorized","count":5}'
run traceback ANTHROPIC_BASE_URL="$SIM" -- run --debug calls.lua --var what=unauthorized --var raise=1
grep -q "authentication_error" "$T/traceback.err" && n=$((n + 1)) || fail "no uncaught error: $(cat "$T/traceback.err")"
clear_faults
[ "$n" = 10 ] && pass "every error path ran ($n)"
grep -q "^nyx debug: <<< response .*HTTP 401" "$T/unauthorized.err" || fail "the 401 response is not in the debug view"
grep -q "^nyx debug: <<< response .*no HTTP response" "$T/timeout.err" || fail "the timeout is not in the debug view"

# Everything the key could have reached.
C="$T/corpus"
mkdir -p "$C"
cat "$T"/*.out "$T"/*.err >"$C/runs.txt"
NYXQ=(env -i "${BASE[@]}" "$NYX_BIN")
"${NYXQ[@]}" log >"$C/log.txt" 2>&1
"${NYXQ[@]}" log --json >"$C/log.json" 2>&1
"${NYXQ[@]}" audit >"$C/audit.txt" 2>&1
"${NYXQ[@]}" audit --json >>"$C/audit.txt" 2>&1
"${NYXQ[@]}" stats --by model >"$C/stats.txt" 2>&1
ids=$(grep -oE '"id":"ix_[0-9a-f]+"' "$C/log.json" | cut -d'"' -f4)
nids=0
for id in $ids; do
  "${NYXQ[@]}" log --raw "$id" >>"$C/raw.txt" 2>&1
  "${NYXQ[@]}" log --raw "$id" --json >>"$C/raw.txt" 2>&1
  nids=$((nids + 1))
done
[ "$nids" -ge 12 ] && pass "$nids interactions logged" || fail "only $nids interactions logged"
env -u LD_PRELOAD sqlite3 "$T/nyx.db" .dump >"$C/dump.sql" 2>&1
cat "$T"/nyx.db* >"$C/db-files.bin"
leaks=$(grep -rlaF -e "$KEY" -e "SECRETSECRET" "$C" "$T"/*.out "$T"/*.err)
if [ -z "$leaks" ]; then pass "the key appears nowhere ($(du -sh "$C" | cut -f1) searched)"
else fail "the key leaked into: $leaks"; grep -aF "SECRETSECRET" $leaks | head -5; fi
grep -q "api_key=set" "$C/audit.txt" && pass "the audit trail records that a key was set" || fail "no config audit event"

# ---------------------------------------------------------------- 3. modes and the debug file
run none ANTHROPIC_BASE_URL="$SIM" NYX_STORAGE_MODE=none -- run --debug calls.lua
grep -qE '^\[request body: [0-9]+ bytes, not shown: NYX_STORAGE_MODE=none\]$' "$T/none.err" \
  && grep -qE '^\[response body: [0-9]+ bytes, not shown' "$T/none.err" && ! grep -q "quarter" "$T/none.err" \
  && pass "storage mode none shows sizes only" || fail "storage mode none: $(cat "$T/none.err")"
run full ANTHROPIC_BASE_URL="$SIM" NYX_STORAGE_MODE=full -- run --debug calls.lua
grep -q 'alice@example.com' "$T/full.err" && pass "storage mode full shows the bodies as sent" \
  || fail "storage mode full: $(cat "$T/full.err")"
run file ANTHROPIC_BASE_URL="$SIM" NYX_DEBUG=1 NYX_DEBUG_FILE="$T/debug.txt" -- run calls.lua
grep -c '^nyx debug: >>> request' "$T/debug.txt" 2>/dev/null | grep -qx 2 && ! grep -q "nyx debug" "$T/file.err" \
  && pass "NYX_DEBUG=1 with NYX_DEBUG_FILE writes to the file" || fail "debug file: $(cat "$T/debug.txt" "$T/file.err")"
grep -qF "$KEY" "$T/debug.txt" && fail "the key is in the debug file"
run quiet ANTHROPIC_BASE_URL="$SIM" -- run calls.lua
grep -q "nyx debug" "$T/quiet.err" && fail "debug output without --debug"

# ---------------------------------------------------------------- 4. nyx log --raw
ok_id=$(grep -oE '^plain	ok	[^	]+	ix_[0-9a-f]+' "$T/ok.out" | cut -f4)
raw=$("${NYXQ[@]}" log --raw "$ok_id")
grep -qE '^status +ok$' <<<"$raw" && grep -q -- "--- request (as stored) ---" <<<"$raw" \
  && grep -q '"max_tokens":30' <<<"$raw" && grep -q '\[EMAIL\]' <<<"$raw" && grep -qE '^attempts_json +\[\{"model"' <<<"$raw" \
  && pass "nyx log --raw shows the stored exchange" || fail "nyx log --raw $ok_id: $raw"
err_id=$(grep -oE 'interaction_id=ix_[0-9a-f]+' "$T/server_error.out" | head -1 | cut -d= -f2)
raw=$("${NYXQ[@]}" log --raw "$err_id")
grep -qE '^status +error$' <<<"$raw" && grep -qE '^error_type +api_error$' <<<"$raw" && grep -qE '^attempts +2$' <<<"$raw" \
  && grep -qE '"status":500.*"status":500' <<<"$raw" \
  && pass "nyx log --raw shows a failed exchange's error and attempts" || fail "nyx log --raw $err_id: $raw"
"${NYXQ[@]}" log --raw ix_nope >/dev/null 2>"$T/nope.err"
[ $? = 1 ] && grep -q 'no interaction "ix_nope"' "$T/nope.err" && pass "an unknown id is an error" \
  || fail "unknown id: $(cat "$T/nope.err")"

if grep -lE "Sanitizer|runtime error:" "$T"/*.err 2>/dev/null; then fail "sanitizer reports above"; fi
finish
