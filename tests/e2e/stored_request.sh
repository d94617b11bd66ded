#!/usr/bin/env bash
# Requests stored in parts read back exactly: every request `nyx sim` received (its request
# log keeps the bodies) equals what `nyx log --raw` shows for that call once the planted
# e-mail address is redacted, while the text the calls share (a system prompt, the turns of a
# conversation, a tool list) is stored once and the database holds the address nowhere. The
# system prompt makes requests of over 64 KB, which libcurl sends through its upload buffer.
set -uo pipefail

unset LD_PRELOAD
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"

start_sim --ttft-ms 0 --api-key sim-key
curl -s -X POST -H "content-type: application/json" --data-binary '{"keep_bodies":100}' "$url/sim/config" \
  | grep -q '"keep_bodies":100'
check "nyx sim keeps request bodies when asked" $? "$(cat "$work/sim.out")"

run_nyx NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=sim-key "ANTHROPIC_BASE_URL=$url" -- \
  run "$NYX_SOURCE_DIR/tests/e2e/stored_request_run.lua"
check "the calls run" "$rc" "$err"
mapfile -t ids <<<"$out"
curl -s "$url/sim/requests" > "$work/requests.json"
received=$(jq '[.requests[] | select(.path == "/v1/messages")] | length' "$work/requests.json")
[[ "${#ids[@]}" == 9 && "$received" == 9 ]]
check "nine calls, nine requests received" $? "ids=${#ids[@]} received=$received"

same=0
for i in "${!ids[@]}"; do
  jq -r "[.requests[] | select(.path == \"/v1/messages\")][$i].body" "$work/requests.json" |
    sed 's/alice\.dedupe@example\.com/[EMAIL]/g' > "$work/sent.$i"
  run_nyx -- log --raw "${ids[$i]}" --json
  jq -r .request <<<"$out" > "$work/stored.$i"
  if cmp -s "$work/sent.$i" "$work/stored.$i"; then
    same=$((same + 1))
  else
    echo "    ${ids[$i]}: $(diff <(fold -w 100 "$work/sent.$i") <(fold -w 100 "$work/stored.$i") | head -5)"
  fi
done
[[ "$same" == 9 ]]
check "nyx log --raw shows each request as sent, redacted" $? "$same of 9 equal"
grep -q '\[EMAIL\]' "$work/stored.0"
check "the stored system prompt is redacted" $? "$(head -c 300 "$work/stored.0")"

db="$work/nyx.db"
parts=$(sqlite3 "$db" "SELECT count(*) FROM llm_content")
whole=$(sqlite3 "$db" "SELECT count(*) FROM llm_interactions WHERE prompt_text IS NOT NULL")
# The system prompt, the three turns (each with and without its cache mark is the same string),
# the answers are short, and the tool list: five parts for nine requests.
[[ "$parts" == 5 && "$whole" == 0 ]]
check "shared text is stored once (5 parts, no request stored whole)" $? "parts=$parts whole=$whole"
dump=$(sqlite3 "$db" .dump) # whole: under pipefail a grep -q that stops early fails the pipe
grep -q 'alice\.dedupe@example\.com' <<<"$dump"
check "the database holds the address nowhere" $((1 - $?)) ""

# Under storage mode full, a call's record holds the very bytes of the last request it sent
# (the record takes the body that was sent rather than make it again): a body over 64 KB, a
# stream, one stopped by its callback, a call sent three times (two 500s), and one whose model
# was overloaded until it fell back to another, whose record holds the fallback's request, not
# the first route's. Each call runs alone, so the simulator's last request is its own.
curl -s -X DELETE "$url/sim/faults" >/dev/null
curl -s -d '{"faults":[{"fault":"server_error","count":2,"model":"claude-opus-4-8"},
                      {"fault":"overloaded","count":0,"model":"claude-opus-4-7"}]}' "$url/sim/faults" >/dev/null
big='("Context for the record, sent whole. "):rep(2000)'
calls=(
  "nyx.call{ system = $big, prompt = 'Big.', max_tokens = 16 }"
  "nyx.call{ system = 'Be brief.', prompt = 'Stream.', max_tokens = 30, stream = function() end }"
  "pcall(nyx.call, { system = 'Be brief.', prompt = 'Stop.', max_tokens = 30, stream = function() return false end })"
  "nyx.call{ model = 'claude-opus-4-8', system = 'Be brief.', prompt = 'Again.', max_tokens = 16 }"
  "nyx.call{ model = 'claude-opus-4-7', fallback = { 'claude-sonnet-5-5' }, system = 'Be brief.', prompt = 'Fall back.', max_tokens = 16 }"
)
names=(big stream stopped retried fallback)
seen=$(jq '.requests | length' "$work/requests.json")
for i in "${!calls[@]}"; do
  printf 'local nyx = require "nyx"\n%s\n' "${calls[$i]}" > "$work/one.lua"
  run_nyx NYX_STORAGE_MODE=full NYX_DB="$work/full.db" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=sim-key \
    "ANTHROPIC_BASE_URL=$url" -- run "$work/one.lua"
  curl -s "$url/sim/requests?since=$seen" > "$work/since.json"
  sent=$(jq '[.requests[] | select(.path == "/v1/messages")] | length' "$work/since.json")
  seen=$(jq '.requests | last | .n' "$work/since.json")
  jq -r '[.requests[] | select(.path == "/v1/messages")] | last | .body' "$work/since.json" > "$work/sent.${names[$i]}"
  id=$(sqlite3 "$work/full.db" "SELECT id FROM llm_interactions ORDER BY rowid DESC LIMIT 1")
  run_nyx NYX_DB="$work/full.db" -- log --raw "$id" --json
  jq -r .request <<<"$out" > "$work/stored.${names[$i]}"
  cmp -s "$work/sent.${names[$i]}" "$work/stored.${names[$i]}"
  check "full mode, ${names[$i]} ($sent sent): the record holds the last request's bytes" $? \
    "$(diff <(fold -w 100 "$work/sent.${names[$i]}") <(fold -w 100 "$work/stored.${names[$i]}") | head -5)"
done
[[ $(wc -c < "$work/stored.big") -gt 65536 ]] && grep -q '"model":"claude-sonnet-5-5"' "$work/stored.fallback"
check "the big request is over 64 KB; the fallback's record is of the model it fell back to" $? ""

finish
