#!/usr/bin/env bash
# Requests stored in parts read back exactly: every request `nyx sim` received (its request
# log keeps the bodies) equals what `nyx log --raw` shows for that call once the planted
# e-mail address is redacted, while the text the calls share (a system prompt, the turns of a
# conversation, a tool list) is stored once and the database holds the address nowhere. The
# system prompt makes requests of over 64 KB, which libcurl sends through its upload buffer.
set -uo pipefail

: "${NYX_BIN:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
unset LD_PRELOAD
source "$NYX_SOURCE_DIR/tests/e2e/lib/check.sh"

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

finish
