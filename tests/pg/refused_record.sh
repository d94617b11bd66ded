#!/usr/bin/env bash
# A record the database refuses for good (PostgreSQL takes no text that is not valid UTF-8; a
# script can no longer send such bytes, they are refused before sending, but a server or a
# proxy can answer with them: here `nyx sim` fails the first call with an error message holding
# them, which the record keeps) is dropped as lost, said and counted, and the records after it
# are written: it used to stay at the head of the waiting queue, every later record waited
# behind it, every later call failed under strict, and all of them were lost at exit.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
pg_database refused

cat >"$work/refused.lua" <<'LUA'
local nyx = require "nyx"
local ok, err = pcall(nyx.call, { prompt = "the first question", max_tokens = 8 })
print("bad", ok, type(err) == "table" and err.type or tostring(err))
local good = 0
for i = 1, 5 do
  if pcall(nyx.call, { prompt = "a fine question " .. i, max_tokens = 8 }) then good = good + 1 end
end
print("good", good, "degraded", nyx.stats().storage_degraded)
LUA
"$NYX_BIN" sim --port 0 --ttft-ms 0 --token-ms 0 \
  --faults "$(printf '[{"fault":"bad_request","count":1,"message":"bytes that are not UTF-8: \xff\xfe"}]')" \
  >"$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 250); do grep -qs 'listening on' "$work/sim.out" && break; sleep 0.02; done
url="http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$work/sim.out" | head -1)"
NYX_DB="$db" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=k ANTHROPIC_BASE_URL="$url" LLM_MAX_RETRIES=0 \
  "$NYX_BIN" run "$work/refused.lua" >"$work/out" 2>"$work/err"
rc=$?
grep -q "^bad	false	invalid_request_error" "$work/out"
check "the call whose record is refused fails with the API's error, not held waiting for the record" $?
grep -q "^good	5	degraded	false" "$work/out"; st=$?
check "the five calls after it succeed and storage is not left degraded: $(cat "$work/out")" $st
rows=$(env -u LD_PRELOAD psql -q -X -t -A "$db" -c "SELECT count(*) FROM llm_interactions WHERE status = 'ok'")
[ "$rows" = 5 ]
check "their five records are written (found $rows)" $?
grep -q "refuses a record for good and it is lost" "$work/err"; st=$?
check "the loss is said: $(cat "$work/err")" $st
[ "$rc" -eq 1 ]
check "nyx run exits 1 for the lost record (exit $rc)" $?
pg_finish
