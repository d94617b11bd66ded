#!/usr/bin/env bash
# nyx on a bad network: a Messages API on loopback that never answers, stalls mid-answer, resets
# the connection, closes a kept-alive connection as nyx reuses it (tests/helpers/bad_api.py); a
# port that refuses; IPv6; a base URL with a path prefix; and, in a network namespace of its own
# (nothing leaves the machine), a nameserver that never answers. What `nyx run` sees each time:
# the error's type and message, the attempts, and the call's record (failed, at no cost).
# Timeouts are short (1 s) and retries immediate, so the whole script takes a few seconds.
set -uo pipefail
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1
unset LD_PRELOAD # the python servers are not instrumented; nyx gets it back through clean_env

clean_env+=("NYX_PROVIDER=anthropic" "ANTHROPIC_API_KEY=bad-net-key" "NYX_RETRY_BASE_SECONDS=0.01"
            "NYX_RETRY_MAX_SECONDS=0.05" "CLAUDE_TIMEOUT_SECONDS=1" "NYX_CONNECT_TIMEOUT_SECONDS=1"
            "LLM_MAX_RETRIES=1")
nyx_timeout=60

# start_bad MODE [--ipv6]: tests/helpers/bad_api.py serving MODE; sets $bad (its base URL) and
# $bad_log (its log of connections and requests).
start_bad() {
  bad_log="$work/bad-$1.log"
  : >"$work/bad.port"
  python3 "$NYX_SOURCE_DIR/tests/helpers/bad_api.py" "$@" >"$work/bad.port" 2>"$bad_log" &
  pids+=($!)
  local p=""
  for _ in $(seq 200); do
    p=$(cat "$work/bad.port")
    [[ -n $p ]] && break
    sleep 0.02
  done
  if [[ "${2:-}" == --ipv6 ]]; then bad="http://[::1]:$p"; else bad="http://127.0.0.1:$p"; fi
  [[ -n $p ]]
}
requests() { grep -c '^request' "$bad_log"; }
# record FIELD: the field of the newest call's record
record() { sqlite3 "$work/nyx.db" "SELECT $1 FROM llm_interactions ORDER BY rowid DESC LIMIT 1"; }

cat >call.lua <<'EOF'
local nyx = require "nyx"
local stream = nyx.vars.stream and function() end or nil
for i = 1, tonumber(nyx.vars.calls or 1) do
  local ok, r = pcall(nyx.call, { prompt = "Hello over a bad network " .. i, max_tokens = 16, stream = stream })
  if ok then
    print("ok", r.text, "attempts=" .. r.attempts, "cost=" .. r.usage.cost_usd)
  else
    print("error", r.type, "retryable=" .. tostring(r.retryable), "attempts=" .. tostring(r.attempts), r.message)
  end
end
EOF

# ---- a server that never answers, or stops answering ----

start_bad silent
check "a server that accepts and never answers starts" $? "$(cat "$bad_log")"
run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua
check_grep "no answer at all: a timeout, retried once (LLM_MAX_RETRIES=1), naming the limit and its setting" "$out" \
  -E "^error	timeout	retryable=true	attempts=2	.*timed out after 1[0-9]{3} milliseconds with 0 bytes received\); each attempt has 1 s \(CLAUDE_TIMEOUT_SECONDS\)$"
[[ $(requests) == 2 && $(record status) == error && $(record cost_usd) == 0.0 && $(record error_type) == timeout ]]
check "its two requests reached the server; the call is logged failed, at no cost" $? \
  "requests=$(requests) $(record 'status, cost_usd, error_type')"

# A request of 16 MB going up at 4 MB a second to a stream bounded by 2 s of silence: bytes
# sent are no silence (it ended at 2 s, having received nothing yet). The last seconds' worth
# waits in the kernel's buffers, where nothing moves for the client: hence 2 s, not 1.
start_bad slowread
cat >big.lua <<'EOF'
local nyx = require "nyx"
local ok, r = pcall(nyx.call, { prompt = string.rep("slow uplink ", 1400000), max_tokens = 16, stream = function() end })
print(ok and "ok" or "error", ok and r.text or r.message)
EOF
start=$(date +%s.%N)
run_nyx "ANTHROPIC_BASE_URL=$bad" LLM_MAX_RETRIES=0 CLAUDE_TIMEOUT_SECONDS=2 NYX_MAX_PROMPT_TOKENS=100000000 -- run big.lua
took=$(echo "$(date +%s.%N) - $start" | bc)
[[ $rc == 0 && "$out" == "ok	hello over a bad network" ]] && (( $(echo "$took > 2.5" | bc) ))
check "a 16 MB request sent slowly (${took:0:4} s) to a stream bounded by 2 s of silence is answered" $? "rc=$rc $out $err"

start_bad stall
run_nyx "ANTHROPIC_BASE_URL=$bad" "LLM_MAX_RETRIES=0" -- run call.lua --var stream=1
check_grep "headers, then a stream that stalls: a timeout after CLAUDE_TIMEOUT_SECONDS without a byte, naming that limit" "$out" \
  -E "^error	timeout	retryable=true	attempts=1	.*no byte received for 1[0-9]{3} milliseconds, [0-9]+ bytes of the answer in 1[0-9]{3} milliseconds\); a stream ends after no byte for 1 s \(CLAUDE_TIMEOUT_SECONDS\)$"
cat >timeout.lua <<'EOF'
local nyx = require "nyx"
local ok, r = pcall(nyx.call, { prompt = "Hello", max_tokens = 16, timeout = 0.5 })
print(ok and "ok" or r.type, ok and "" or r.message)
EOF
run_nyx "ANTHROPIC_BASE_URL=$bad" "LLM_MAX_RETRIES=0" -- run timeout.lua
check_grep "a call's own timeout is named as the limit" "$out" \
  -E "^timeout	.*timed out after [0-9]+ milliseconds.*; each attempt has 0.5 s \(the call's timeout\)$"

start_bad trickle
run_nyx "ANTHROPIC_BASE_URL=$bad" "LLM_MAX_RETRIES=0" -- run call.lua
check_grep "an answer trickling a byte a second: a timeout within CLAUDE_TIMEOUT_SECONDS" "$out" \
  -E "^error	timeout	retryable=true	attempts=1	.*timed out after 1[0-9]{3} milliseconds"

start_bad reset
run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua
check_grep "a connection reset mid-body: a retried network_error naming the reset" "$out" \
  -E "^error	network_error	retryable=true	attempts=2	.*Connection reset by peer"
[[ $(requests) == 2 && $(record cost_usd) == 0.0 ]]
check "both requests were sent, the call costs nothing" $? "requests=$(requests) cost=$(record cost_usd)"

start_bad gzcut
run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua
check_grep "a gzip body cut short (libcurl passes what it decoded): a retried network_error saying so" "$out" \
  -E "^error	network_error	retryable=true	attempts=2	the gzip-encoded answer was cut short on its way"
[[ $(requests) == 2 && $(record error_type) == network_error ]]
check "both requests were sent, the record says network_error" $? "requests=$(requests) $(record error_type)"

start_bad closecut
run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua
check_grep "a body with no length cut by the connection's close: a retried network_error saying so" "$out" \
  -E "^error	network_error	retryable=true	attempts=2	the answer was cut short on its way: the connection closed"

# A captive portal (or a proxy's own page) answering 200 in the API's place: a stream read it as
# an event stream that ended early (a retried network_error, "stream ended before message_stop"),
# a plain call as "malformed Messages response: not valid JSON".
for stream in "" 1; do
  start_bad portal
  run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua ${stream:+--var stream=1}
  check_grep "a captive portal's page${stream:+ (stream)}: an api_error naming its type and first words, not retried" \
    "$out" -E "^error	api_error	retryable=false	attempts=1	the answer \(HTTP 200, text/html\) is not .*something other than the API answered.*It begins: \"<html><head><title>Hotel WiFi</title></head> <body>"
  start_bad mislabelled
  run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua ${stream:+--var stream=1}
  check_exit "a whole answer labelled text/plain${stream:+ (stream)} is still read" 0 "$out" "^ok	hello over a bad network	attempts=1"
done

start_bad redirect
run_nyx "ANTHROPIC_BASE_URL=$bad/anthropic" -- run call.lua
check_grep "a redirect to https:// is not followed, and the error says where it pointed (it said: HTTP 301 with an empty body)" \
  "$out" -E "^error	api_error	retryable=false	attempts=1	HTTP 301 with an empty body; it redirects to https://127.0.0.1/anthropic/v1/messages, which nyx does not follow"

# ---- a host that never lets a connection be set up ----

start_bad unaccepted
run_nyx "ANTHROPIC_BASE_URL=$bad" "CLAUDE_TIMEOUT_SECONDS=5" -- run call.lua
check_grep "no connection set up: a timeout at NYX_CONNECT_TIMEOUT_SECONDS (1 s of 5), retried, naming the connect" \
  "$out" -E "^error	timeout	retryable=true	attempts=2	.*Failed to connect to 127.0.0.1 port [0-9]+ after 1[0-9]{3} ms.*\); a connection has 1 s to be set up \(NYX_CONNECT_TIMEOUT_SECONDS\)$"
# A message batch's requests kept to curl's own connect timeout (300 s, so here the whole 5 s), and
# said only "Timeout was reached".
mkdir -p templates
printf -- '---\ndescription: one word\nvariables:\n  ticket: {required: true}\n---\nClassify {{ticket}}.\n' >templates/cls.md
printf '{"id":"r1","ticket":"a"}\n' >rows.jsonl
run_nyx "ANTHROPIC_BASE_URL=$bad" "CLAUDE_TIMEOUT_SECONDS=5" -- batch submit cls --input rows.jsonl
check_grep "a batch's submission keeps to NYX_CONNECT_TIMEOUT_SECONDS too, and says what timed out" "$out" \
  -E '"error_type":"timeout","error":"Timeout was reached \(Failed to connect to 127.0.0.1 port [0-9]+ after 1[0-9]{3} ms'

# A submission the API answered with an error made no batch, nor did one that never left: both are
# tried again (LLM_MAX_RETRIES, after retry-after); one that may have reached it (sent, then no
# answer) is not, as a second could make a second batch. A submission used to be tried once.
start_bad overloaded
run_nyx "ANTHROPIC_BASE_URL=$bad" "LLM_MAX_RETRIES=2" -- batch submit cls --input rows.jsonl
[[ $rc == 1 && $(grep -c '^request .* /v1/messages/batches ' "$bad_log") == 3 ]] &&
  grep -q '"error_type":"overloaded_error"' <<<"$out"
check "a batch's submission answered 529 is tried again, LLM_MAX_RETRIES times" $? "rc=$rc $out $(cat "$bad_log")"
start_bad silent
run_nyx "ANTHROPIC_BASE_URL=$bad" "LLM_MAX_RETRIES=2" -- batch submit cls --input rows.jsonl
[[ $rc == 1 && $(requests) == 1 ]] && grep -q '"error_type":"timeout"' <<<"$out"
check "a batch's submission sent and never answered is not sent again (it may have made a batch)" $? \
  "rc=$rc $out $(cat "$bad_log")"

# A batch's requests read their answers as a call's are read: a body cut short (gzip, or ended by
# the close), a captive portal's page and a redirect are named, not taken for a batch without an
# id or a status. A submission that was answered is not sent again (the API may have made it).
for mode in gzcut closecut portal redirect; do
  start_bad $mode
  run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch submit cls --input rows.jsonl
  case $mode in
    gzcut) want='"error_type":"network_error","error":"the gzip-encoded answer was cut short on its way' ;;
    closecut) want='"error_type":"network_error","error":"the answer was cut short on its way: the connection closed' ;;
    portal) want='"error_type":"api_error","error":"the answer (HTTP 200, text/html) is not JSON: something other than the API answered' ;;
    redirect) want='"error_type":"api_error","error":"HTTP 301 with an empty body; it redirects to https://127.0.0.1/v1/messages/batches, which nyx does not follow' ;;
  esac
  [[ $rc == 1 && $(requests) == 1 ]] && grep -qF "$want" <<<"$out"
  check "a batch's submission answered $mode is named as a call's answer is, and sent once" $? "rc=$rc $out $(cat "$bad_log")"
done
# Its polls and its results' download answered 529 with retry-after: 1 wait that second, and the
# batch goes on: a download that failed once detached every row, and polls kept their 0.5 s.
start_bad batchpoll
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch submit cls --input rows.jsonl
at() { grep -E "^request .* /v1/messages/batches/msgbatch_bad$1 " "$bad_log" | grep -Eo 'at=[0-9.]+' | cut -d= -f2; }
polls=($(at "")) downloads=($(at /results))
[[ $rc == 0 && ${#polls[@]} == 4 && ${#downloads[@]} == 2 ]] && grep -q '"id":"r1","ok":true' <<<"$out" &&
  awk -v p0="${polls[0]}" -v p1="${polls[1]}" -v d0="${downloads[0]}" -v p2="${polls[2]}" \
    'BEGIN { exit !(p1 - p0 >= 1 && p2 - d0 >= 1) }'
check "a batch's poll and results answered 529 wait their retry-after, and the batch's rows arrive" $? \
  "rc=$rc $out $err $(cat "$bad_log")"
# So do another process's (nyx batch results picks the batch up): it raised the first 529.
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch results msgbatch_bad
polls=($(at "")) downloads=($(at /results))
[[ $rc == 0 && ${#polls[@]} == 6 && ${#downloads[@]} == 4 ]] && grep -q '"id":"r1","ok":true' <<<"$out" &&
  awk -v p4="${polls[4]}" -v p5="${polls[5]}" -v d2="${downloads[2]}" -v d3="${downloads[3]}" \
    'BEGIN { exit !(p5 - p4 >= 1 && d3 - d2 >= 1) }'
check "a batch picked up waits out its poll's and download's 529 (retry-after), and gives its rows" $? \
  "rc=$rc $out $err $(cat "$bad_log")"
# Polls answered 529 for ever stop at the batch's expiry (its expires_at, here 1.5 s after it was
# made, and a margin of 5 minutes a day): its rows end with a timeout naming the last poll's
# error, the batch kept for a pickup, which gives its rows once the API answers. They polled on.
start_bad batchexpiry
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch submit cls --input rows.jsonl
polls=$(grep -cE '^request .* /v1/messages/batches/msgbatch_expiry ' "$bad_log")
[[ $rc == 1 && $polls -ge 2 && $polls -le 6 ]] &&
  grep -qF '"error_type":"timeout","error":"the batch msgbatch_expiry could not be asked about until past its expiry: its polls failed, the last with overloaded_error: Overloaded; its batch nb_' <<<"$out" &&
  grep -qF 'nyx batch results nb_' <<<"$out" &&
  [[ $(sqlite3 "$work/nyx.db" "SELECT count(*) FROM llm_batch_requests WHERE provider_id = 'msgbatch_expiry'") == 1 ]]
check "a batch whose polls meet 529 for ever stops at its expiry, its rows a timeout naming it, the batch kept" $? \
  "rc=$rc polls=$polls $out $err $(cat "$bad_log")"
# Picked up past its expiry (made 25 hours ago) from a server answering 529 for ever: three
# polls, backing off, then the error (it polled every 0.25 s for ever).
sqlite3 "$work/nyx.db" "UPDATE llm_batches SET created_at = created_at - 90000
  WHERE id IN (SELECT batch_id FROM llm_batch_requests WHERE provider_id = 'msgbatch_expiry')"
before=$(grep -cE '^request .* /v1/messages/batches/msgbatch_expiry ' "$bad_log")
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch results msgbatch_expiry
polls=$(( $(grep -cE '^request .* /v1/messages/batches/msgbatch_expiry ' "$bad_log") - before ))
[[ $rc == 1 && $polls == 3 ]] && grep -q "overloaded_error\|Overloaded" <<<"$err"
check "a batch picked up past its expiry from a server answering 529 for ever: three polls, then the error" $? \
  "rc=$rc polls=$polls $out $err"
curl -s "$bad/heal" >/dev/null
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch results msgbatch_expiry
[[ $rc == 0 ]] && grep -q '"id":"r1","ok":true' <<<"$out"
check "the batch that outlived its polls is picked up later, its row whole" $? "rc=$rc $out $err $(cat "$bad_log")"
# So do polls that say, past its expiry, that the batch is still in progress.
start_bad batchexpiry
curl -s "$bad/stuck" >/dev/null
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch submit cls --input rows.jsonl
polls=$(grep -cE '^request .* /v1/messages/batches/msgbatch_expiry ' "$bad_log")
[[ $rc == 1 && $polls -ge 2 && $polls -le 6 ]] &&
  grep -qF '"error_type":"timeout","error":"the batch msgbatch_expiry was still in progress past its expiry; its batch nb_' <<<"$out"
check "a batch still in progress past its expiry stops being polled, its rows a timeout saying so" $? \
  "rc=$rc polls=$polls $out $err $(cat "$bad_log")"
# A poll refused for good (401) ends the wait at once, naming the error; the batch goes on.
start_bad batchdenied
run_nyx "ANTHROPIC_BASE_URL=$bad" -- batch submit cls --input rows.jsonl
[[ $rc == 1 && $(grep -cE '^request .* /v1/messages/batches/msgbatch_denied ' "$bad_log") == 1 ]] &&
  grep -qF '"error_type":"authentication_error","error":"invalid x-api-key; its batch nb_' <<<"$out"
check "a batch's poll refused for good (401) ends the wait at once, naming the error" $? \
  "rc=$rc $out $err $(cat "$bad_log")"

# ---- a kept-alive connection closed as it is reused ----

rm -f "$work/nyx.db"*
for stream in "" 1; do
  start_bad stale
  run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua --var calls=2 ${stream:+--var stream=1}
  [[ $(grep -c "^ok	hello over a bad network" <<<"$out") == 2 ]] && grep -q "attempts=2" <<<"$out"
  check "stale connection${stream:+ (stream)}: the second call is sent again on a new connection and answered" $? "$out"
  [[ $(requests) == 3 && $(grep -c '^accept' "$bad_log") == 2 ]]
  check "stale connection${stream:+ (stream)}: three requests on the wire, two connections" $? "$(cat "$bad_log")"
  again=$(record attempts_json)
  [[ $(record attempts) == 2 && $(record status) == ok ]] && grep -q '"sent_again_by_libcurl":true' <<<"$again" &&
    [[ $(record 'printf("%.7f", cost_usd)') == "$(sqlite3 "$work/nyx.db" \
      'SELECT printf("%.7f", cost_usd) FROM llm_interactions ORDER BY rowid LIMIT 1')" ]]
  check "stale connection${stream:+ (stream)}: both requests are attempts, the answer billed once" $? \
    "$(sqlite3 "$work/nyx.db" 'SELECT attempts, cost_usd, attempts_json FROM llm_interactions')"
  rm -f "$work/nyx.db"*
done

# ---- where the endpoint is ----

run_nyx "ANTHROPIC_BASE_URL=http://127.0.0.1:1" -- run call.lua
check_grep "a port that refuses: a retried network_error saying it could not connect" "$out" \
  -E "^error	network_error	retryable=true	attempts=2	.*Failed to connect to 127.0.0.1 port 1"

start_bad ok
run_nyx "ANTHROPIC_BASE_URL=$bad/anthropic" -- run call.lua
[[ $rc == 0 ]] && grep -q "^request 1.0 /anthropic/v1/messages " "$bad_log"
check "a base URL with a path prefix: requests go under it" $? "$out $err $(cat "$bad_log")"

# libcurl speaks what a URL's scheme says: to ftp:// it logged in and uploaded the request as a
# file, to dict:// or gopher:// it sent the path as a command (and the call failed as "HTTP 0 with
# an empty body"); a query swallowed the path nyx adds ("/anthropic?k=1/v1/messages").
start_bad ok
port=${bad##*:}
for base in "ftp://127.0.0.1:$port/" "dict://127.0.0.1:$port/" "$bad/anthropic?key=1" "$bad/#top"; do
  run_nyx "ANTHROPIC_BASE_URL=$base" -- run call.lua
  [[ $rc == 1 && $(grep -c '^accept' "$bad_log") == 0 ]] &&
    grep -Eq "ANTHROPIC_BASE_URL: .* (is not an http:// or https:// URL|has a (query|fragment))" <<<"$err"
  check "a base URL $base is refused at start, naming why, and nothing is sent" $? \
    "rc=$rc $out $err $(cat "$bad_log")"
done

if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  start_bad ok --ipv6
  run_nyx "ANTHROPIC_BASE_URL=$bad" -- run call.lua
  check_exit "IPv6 localhost ([::1]) is reached" 0 "$out" "^ok	hello over a bad network"
else
  echo "ok - SKIP: no IPv6 loopback here"
fi

# ---- a nameserver that never answers ----

# In a network and mount namespace of their own (only a loopback there, so no query leaves the
# machine), /etc/resolv.conf names a nameserver on 127.0.0.1 that logs each query and answers
# none; the system's resolver asks twice, 3 s apart (RES_OPTIONS). The lookup's timeout (1 s) must
# end the call then and there: libcurl used to wait for the lookup's thread, holding the loop (and
# every other call, timer and task) until the resolver gave up, 6 s later, after its second try.
cat >"$work/in_ns.sh" <<'EOF'
#!/usr/bin/env bash
ip link set lo up && echo "nameserver 127.0.0.1" >"$NS_WORK/resolv.conf" &&
  mount --bind "$NS_WORK/resolv.conf" /etc/resolv.conf || exit 97
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
open(sys.argv[1] + ".up", "w").close()
while True:
    s.recvfrom(2048)
    with open(sys.argv[1], "a") as f: f.write("query\n")
' "$NS_WORK/dns.log" &
dns=$!
for _ in $(seq 200); do [[ -e "$NS_WORK/dns.log.up" ]] && break; sleep 0.02; done
"$@"
rc=$?
kill $dns
exit $rc
EOF
chmod +x "$work/in_ns.sh"
cat >dns.lua <<'EOF'
local nyx = require "nyx"
local ok, r = pcall(nyx.call, { prompt = "Hello", max_tokens = 16 })
local queries = 0
for _ in io.lines(nyx.vars.dnslog) do queries = queries + 1 end
print(ok and "ok" or r.type, "queries=" .. queries, ok and "" or r.message)
EOF
if NS_WORK=$work unshare -n -m "$work/in_ns.sh" true 2>/dev/null; then
  : >"$work/dns.log"
  rm -f "$work/dns.log.up"
  saved_env=("${clean_env[@]}")
  clean_env=(env "NS_WORK=$work" unshare -n -m "$work/in_ns.sh" "${clean_env[@]}" "RES_OPTIONS=timeout:3 attempts:2")
  run_nyx "ANTHROPIC_BASE_URL=http://api.nyx-test.example" "LLM_MAX_RETRIES=0" -- run dns.lua --var "dnslog=$work/dns.log"
  clean_env=("${saved_env[@]}")
  check_grep "a nameserver that never answers: a timeout naming the lookup" "$out" -E "^timeout	.*Resolving timed out.*\(NYX_CONNECT_TIMEOUT_SECONDS\)"
  queries=$(grep -Eo 'queries=[0-9]+' <<<"$out" | cut -d= -f2)
  [[ -n $queries && $queries -ge 1 && $queries -lt 4 ]]
  check "the call ended at its connect timeout, before the resolver's second try (the loop was not held)" $? \
    "$out $err"
else
  echo "ok - SKIP: no network namespace here (unshare -n -m needs root): the nameserver check did not run"
fi

finish
