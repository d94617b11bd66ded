#!/usr/bin/env bash
# OpenTelemetry export against a stand-in OTLP/HTTP collector (tests/helpers/otlp_receiver.c):
# a `chat {model}` span per call with the GenAI attributes (input tokens counting cached ones,
# cost, the session as conversation id), an `invoke_agent` parent for an agent's call, an
# error.type for a failed call, the resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES,
# OTEL_EXPORTER_OTLP_HEADERS on each post, the GenAI metrics, batches leaving while the script
# still runs, no message text; OTEL_SDK_DISABLED; a collector that is down slows nothing and
# gives one warning; malformed variables are refused naming the variable.
set -uo pipefail

: "${NYX_BIN:?run through ctest}" "${OTLP_RECEIVER:?run through ctest}"
unset LD_PRELOAD
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-otel.XXXXXX")
recv_pid=
trap '[[ -n "$recv_pid" ]] && kill "$recv_pid" 2>/dev/null; rm -rf "$work"' EXIT

source "$NYX_SOURCE_DIR/tests/e2e/lib/check.sh"

base_env=("${clean_env[@]}" "NYX_SIM_TOKEN_MS=0.01") # NYX_DB: run_nyx names one per run

# run_nyx NAME [VAR=value...] -- ARGS...: output in $work/NAME.out and .err, seconds in $elapsed.
run_nyx() {
  local name=$1 vars=()
  shift
  while [[ $# -gt 0 && "$1" != "--" ]]; do vars+=("$1"); shift; done
  shift
  local t0 t1
  t0=$(date +%s.%N)
  "${base_env[@]}" "NYX_DB=$work/$name.db" "${vars[@]}" "$NYX_BIN" "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  t1=$(date +%s.%N)
  elapsed=$(echo "$t1 - $t0" | bc)
}

recv="$work/recv"
mkdir -p "$recv"
"$OTLP_RECEIVER" "$recv" &
recv_pid=$!
for _ in $(seq 100); do [[ -s "$recv/port" ]] && break; sleep 0.05; done
port=$(cat "$recv/port")
endpoint="http://127.0.0.1:$port"

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
local context = {}
for i = 1, 700 do context[i] = ("Line %d: the margin of growth shifts with pricing in the quarter."):format(i) end
context = table.concat(context, "\n")
local a = nyx.call { system = context, prompt = "First question", max_tokens = 20, session = "s-otel" }
-- The batch leaves from the loop about a second after the first span, while the script runs.
-- With WAIT_FOR_TRACES the script waits for the receiver to have it (up to 20 s: on a loaded
-- machine a fixed 1.6 s was missed), not for a fixed time; spans kept until the exit never show
-- up. The other runs (no collector, one that hangs, one that is down) spend 1.6 s here: long
-- enough for a batch to leave while the script runs.
local seen = ""
if os.getenv("WAIT_FOR_TRACES") then
  for _ = 1, 200 do
    seen = io.popen("ls " .. os.getenv("RECV_DIR")):read("a")
    if seen:find("traces") then break end
    nyx.sleep(0.1)
  end
else
  nyx.sleep(1.6)
end
local b = nyx.call { system = context, prompt = "Second question", max_tokens = 20, session = "s-otel" }
local analyst = nyx.agent { name = "analyst", session = "s-otel" }
local c = analyst:call { prompt = "Third question", max_tokens = 20 }
local weather = nyx.tool { name = "weather", description = "Weather in a city",
  input = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
  run = function(input) return "sunny in " .. input.city end }
local broken = nyx.tool { name = "broken", description = "Always fails",
  input = { type = "object", properties = { x = { type = "string" } }, required = { "x" } },
  run = function() error("out of order") end }
local d = nyx.call { prompt = "Pack for Oslo?", tools = { weather, broken }, tool_choice = "auto",
                     max_tokens = 200, max_iterations = 2, session = "s-otel" }
local streamed = nyx.call { prompt = "Fourth question", max_tokens = 30, session = "s-otel",
                           stream = function() end }
local u = b.usage
print("tools\t" .. tostring(d.iterations))
print(("second\t%d\t%d\t%d\t%d\t%.9f"):format(u.input_tokens, u.cache_read_input_tokens,
  u.cache_creation_input_tokens, u.output_tokens, u.cost_usd))
print("early\t" .. (seen:find("traces") and "yes" or "no"))
LUA

run_nyx live "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint/" "OTEL_SERVICE_NAME=nyx-test" \
  "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test,service.name=ignored" \
  "OTEL_EXPORTER_OTLP_HEADERS=x-collector-token=s3cr%20t, x-team=ml" "RECV_DIR=$recv" WAIT_FOR_TRACES=1 \
  -- run "$work/calls.lua"
check "a script with OTEL_EXPORTER_OTLP_ENDPOINT runs" "$rc" "$(cat "$work/live.err")"
check "spans leave in batches while the script runs, not only at exit" \
  "$(grep -qx $'early\tyes' "$work/live.out"; echo $?)" "$(cat "$work/live.out")"

# Every span and metric posted, merged.
jq -s '[.[].resourceSpans[].scopeSpans[].spans[]]' "$recv"/*.traces.json >"$work/spans.json" 2>/dev/null
jq -s '[.[].resourceSpans[].resource]' "$recv"/*.traces.json >"$work/resources.json" 2>/dev/null
jq -s '[.[].resourceMetrics[].scopeMetrics[].metrics[]]' "$recv"/*.metrics.json >"$work/metrics.json" 2>/dev/null
attr='def attr($k): (.attributes[] | select(.key == $k) | .value | (.stringValue // .intValue // .doubleValue // .boolValue // .arrayValue));'

# The tool loop's spans apart: the calls before it (each with its own trace) and the loop.
jq "$attr"' [.[] | select((.name | startswith("execute_tool")) or ([attr("gen_ai.request.max_tokens")] == ["200"]) or ([attr("gen_ai.request.max_tokens")] == ["30"]) | not)]' \
  "$work/spans.json" >"$work/plain.json"
jq "$attr"' [.[] | select((.name | startswith("execute_tool")) or ([attr("gen_ai.request.max_tokens")] == ["200"]))]' \
  "$work/spans.json" >"$work/loop.json"
names=$(jq -r '[.[].name] | sort | join(",")' "$work/plain.json")
check "one chat span per call and an invoke_agent span for the agent's call" \
  "$([[ "$names" == "chat claude-haiku-5-5,chat claude-haiku-5-5,chat claude-haiku-5-5,invoke_agent analyst" ]]; echo $?)" "$names"

jq -e "$attr"' all(.[] | select(.name | startswith("chat ")); .kind == 3
     and attr("gen_ai.operation.name") == "chat" and attr("gen_ai.provider.name") == "anthropic"
     and attr("gen_ai.request.model") == "claude-haiku-5-5" and attr("gen_ai.request.max_tokens") == "20"
     and attr("gen_ai.response.model") == "claude-haiku-5-5" and (attr("gen_ai.response.id") | startswith("msg_"))
     and attr("gen_ai.response.finish_reasons").values[0].stringValue == "max_tokens"
     and attr("gen_ai.conversation.id") == "s-otel" and attr("gen_ai.usage.output_tokens") == "20"
     and (attr("nyx.cost_usd") > 0) and (.status == null))' "$work/plain.json" >/dev/null
check "chat spans are CLIENT spans with the GenAI attributes, the session as conversation id, and a cost" $? \
  "$(jq -c "$attr"' .[] | [.name, .kind, [.attributes[] | .key]]' "$work/plain.json")"

jq -e 'all(.[]; (.traceId | test("^[0-9a-f]{32}$")) and (.spanId | test("^[0-9a-f]{16}$")))
       and ([.[].spanId] | unique | length) == length' "$work/spans.json" >/dev/null &&
  jq -e '([.[].traceId] | unique | length) == 3' "$work/plain.json" >/dev/null
check "trace and span ids are random hex of 16 and 8 bytes, unique" $? "$(jq -c '[.[] | [.traceId, .spanId]]' "$work/spans.json")"

jq -e "$attr"' (map(select(.name == "invoke_agent analyst"))[0]) as $a
       | (map(select(attr("gen_ai.agent.name") == "analyst" and (.name | startswith("chat "))))[0]) as $c
       | $a.kind == 1 and ($a | attr("gen_ai.operation.name")) == "invoke_agent"
         and $c.parentSpanId == $a.spanId and $c.traceId == $a.traceId
         and ($a | attr("gen_ai.conversation.id")) == "s-otel"' "$work/spans.json" >/dev/null
check "the agent's chat span is the child of its invoke_agent span" $? \
  "$(jq -c '.[] | [.name, .traceId, .spanId, .parentSpanId]' "$work/spans.json")"

IFS=$'\t' read -r _ in_tok read_tok write_tok out_tok cost < <(grep $'^second\t' "$work/live.out")
jq -e --arg in "$in_tok" --arg rd "$read_tok" --arg wr "$write_tok" --arg cost "$cost" "$attr"'
       (map(select(attr("gen_ai.usage.cache_read.input_tokens") != "0" and attr("gen_ai.request.max_tokens") == "20"))) as $hits
       | ($hits | length) == 1 and ($hits[0] | attr("gen_ai.usage.input_tokens") | tonumber)
             == ($in | tonumber) + ($rd | tonumber) + ($wr | tonumber)
         and ($hits[0] | attr("gen_ai.usage.cache_read.input_tokens")) == $rd
         and ($hits[0] | attr("gen_ai.usage.cache_creation.input_tokens")) == $wr
         and (($hits[0] | attr("nyx.cost_usd")) - ($cost | tonumber) | fabs) < 1e-9
         and ($rd | tonumber) > 0' "$work/spans.json" >/dev/null
check "gen_ai.usage.input_tokens counts cached tokens (input + cache read + cache write), cost as billed" $? \
  "second call: input $in_tok read $read_tok write $write_tok cost $cost; spans: $(jq -c "$attr"' .[] | [attr("gen_ai.usage.input_tokens"), attr("gen_ai.usage.cache_read.input_tokens"), attr("nyx.cost_usd")]' "$work/spans.json")"

jq -e "$attr"' all(.[]; attr("service.name") == "nyx-test" and attr("deployment.environment") == "test"
       and attr("telemetry.sdk.name") == "nyx")' "$work/resources.json" >/dev/null
check "the resource has OTEL_SERVICE_NAME as service.name and OTEL_RESOURCE_ATTRIBUTES" $? "$(cat "$work/resources.json")"

hdr_ok=0
for h in "$recv"/*.headers; do
  grep -qx 'x-collector-token: s3cr t' "$h" && grep -qx 'x-team: ml' "$h" &&
    grep -qix 'content-type: application/json' "$h" || hdr_ok=1
done
check "each post carries OTEL_EXPORTER_OTLP_HEADERS (percent-decoded) and is JSON" "$hdr_ok" "$(cat "$recv"/*.headers)"

! grep -q -e "margin of growth" -e "question" "$recv"/*.json
check "no message text is exported" $?

total_in=$(jq "$attr"' [.[] | select(.name | startswith("chat ")) | attr("gen_ai.usage.input_tokens") | tonumber] | add' "$work/spans.json")
chats=$(jq '[.[] | select(.name | startswith("chat "))] | length' "$work/spans.json")
jq -e --argjson total "$total_in" --argjson chats "$chats" '
  ([.[] | select(.name == "gen_ai.client.token.usage") | .histogram.dataPoints[]
    | select(any(.attributes[]; .key == "gen_ai.token.type" and .value.stringValue == "input"))]) as $in
  | ([.[] | select(.name == "gen_ai.client.operation.duration") | .histogram]) as $d
  | ($in | map(.sum) | add) == $total and ($in | map(.count | tonumber) | add) == $chats
    and ($d | map(.dataPoints[].count | tonumber) | add) == $chats and all($d[]; .aggregationTemporality == 1)
    and all(.[]; .name == "gen_ai.client.token.usage" or .unit == "s")
    and ([.[] | select(.name == "gen_ai.client.operation.time_to_first_chunk") | .histogram.dataPoints[].count
          | tonumber] | add) == 1' "$work/metrics.json" >/dev/null
check "the token usage and duration histograms add up to the spans; the streamed call has a time to first chunk" $? \
  "input tokens in spans: $total_in; metrics: $(jq -c '[.[] | {name, unit, p: [.histogram.dataPoints[] | {count, sum}]}]' "$work/metrics.json")"

# The tool loop: its chat spans, and an execute_tool span per tool run, the child of the chat
# span that asked for it, in its trace; a tool that raised has error.type.
jq -e "$attr"' (map(select(.name | startswith("chat ")))) as $chats
  | (map(select(.name | startswith("execute_tool ")))) as $tools
  | ($chats | length) == 2 and ($tools | length) >= 1
    and all($tools[]; . as $t | .kind == 1 and attr("gen_ai.operation.name") == "execute_tool"
        and (attr("gen_ai.tool.call.id") | startswith("toolu_")) and attr("gen_ai.conversation.id") == "s-otel"
        and any($chats[]; .spanId == $t.parentSpanId and .traceId == $t.traceId
                and (attr("gen_ai.response.finish_reasons").values[0].stringValue) == "tool_use"))
    and all($tools[] | select(attr("gen_ai.tool.name") == "broken"); attr("error.type") == "tool_error" and .status.code == 2)
    and all($tools[] | select(attr("gen_ai.tool.name") == "weather"); attr("error.type") == null)' \
  "$work/loop.json" >/dev/null
check "a tool loop's tools are execute_tool spans, children of the chat span that asked for them" $? \
  "$(grep tools "$work/live.out"); $(jq -c "$attr"' .[] | [.name, .traceId, .spanId, .parentSpanId, attr("gen_ai.tool.name"), attr("error.type")]' "$work/loop.json")"

# A failed call: its span carries error.type and an error status.
cat >"$work/fail.lua" <<'LUA'
local nyx = require "nyx"
local ok, err = pcall(nyx.call, { prompt = "hello", max_tokens = 20, session = "s-fail" })
print(ok, type(err) == "table" and err.type)
LUA
rm -f "$recv"/*.json "$recv"/*.headers
run_nyx fail "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-test \
  ANTHROPIC_BASE_URL=http://127.0.0.1:9 LLM_MAX_RETRIES=0 -- run "$work/fail.lua"
jq -s "$attr"' [.[].resourceSpans[].scopeSpans[].spans[]] | length == 1
       and (.[0] | attr("error.type") == "network_error" and .status.code == 2
            and attr("gen_ai.conversation.id") == "s-fail")' "$recv"/*.traces.json >/dev/null 2>&1
check "a failed call's span has error.type and an error status" $? \
  "$(cat "$work/fail.out" "$work/fail.err"; cat "$recv"/*.traces.json 2>/dev/null)"

# A call stopped by its stream callback after its response began is billed for the tokens it
# used (its record has the cost): they are in the token usage metric as in its span, without
# error.type (the conventions give that metric none); its duration keeps error.type.
cat >"$work/stopped.lua" <<'LUA'
local nyx = require "nyx"
local ok, err = pcall(nyx.call, { prompt = "stop me early", max_tokens = 40, stream = function() return false end })
print(ok, err.type, err.usage and err.usage.input_tokens)
LUA
rm -f "$recv"/*.json "$recv"/*.headers
run_nyx stopped "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" -- run "$work/stopped.lua"
in_span=$(jq -s "$attr"' [.[].resourceSpans[].scopeSpans[].spans[] | attr("gen_ai.usage.input_tokens") | tonumber] | add' \
  "$recv"/*.traces.json 2>/dev/null)
jq -s -e --argjson in "${in_span:-0}" '
  ([.[].resourceMetrics[].scopeMetrics[].metrics[]]) as $m
  | ([$m[] | select(.name == "gen_ai.client.token.usage") | .histogram.dataPoints[]]) as $tok
  | ([$tok[] | select(any(.attributes[]; .key == "gen_ai.token.type" and .value.stringValue == "input")) | .sum] | add) == $in
    and $in > 0 and all($tok[]; all(.attributes[]; .key != "error.type"))
    and any($m[] | select(.name == "gen_ai.client.operation.duration") | .histogram.dataPoints[];
            any(.attributes[]; .key == "error.type" and .value.stringValue == "cancelled"))' \
  "$recv"/*.metrics.json >/dev/null 2>&1
check "a stopped call's tokens are in the token usage metric as in its span (${in_span:-none} input)" $? \
  "$(cat "$work/stopped.out" "$work/stopped.err"; cat "$recv"/*.metrics.json 2>/dev/null)"

# OTEL_SDK_DISABLED: nothing is sent whatever the endpoint.
rm -f "$recv"/*.json "$recv"/*.headers
run_nyx disabled "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" OTEL_SDK_DISABLED=true "RECV_DIR=$recv" -- run "$work/calls.lua"
check "OTEL_SDK_DISABLED=true exports nothing" \
  "$([[ $rc == 0 ]] && ! compgen -G "$recv/*.json" >/dev/null; echo $?)" "$(ls "$recv"; cat "$work/disabled.err")"

kill "$recv_pid" 2>/dev/null
wait "$recv_pid" 2>/dev/null
recv_pid=

# A collector that takes posts and never answers: the calls are not held up, the exit waits for
# it at most a few seconds, and one warning says so.
run_nyx plain "RECV_DIR=$recv" -- run "$work/calls.lua"
plain=$elapsed
slow="$work/slow"
mkdir -p "$slow"
"$OTLP_RECEIVER" "$slow" hang &
recv_pid=$!
for _ in $(seq 100); do [[ -s "$slow/port" ]] && break; sleep 0.05; done
run_nyx slow "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$(cat "$slow/port")" "RECV_DIR=$slow" -- run "$work/calls.lua"
kill -KILL "$recv_pid" 2>/dev/null
wait "$recv_pid" 2>/dev/null
recv_pid=
check "with a collector that never answers the script succeeds" "$rc" "$(cat "$work/slow.err")"
check "and ends at most ~3 s later, the last batch's bounded wait (${elapsed}s against ${plain}s)" \
  "$(echo "$elapsed < $plain + 4.5" | bc | grep -qx 1; echo $?)"
check "and gives one warning" "$([[ $(grep -c "OpenTelemetry" "$work/slow.err") == 1 ]]; echo $?)" "$(cat "$work/slow.err")"

# The collector is down: the same script takes no longer than without export, and warns once
# (a batch dropped while it runs, more at exit: still one warning).
run_nyx dead "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" "RECV_DIR=$recv" -- run "$work/calls.lua"
check "with the collector down the script succeeds" "$rc" "$(cat "$work/dead.err")"
check "with the collector down the script is not slower (${elapsed}s against ${plain}s)" \
  "$(echo "$elapsed < $plain + 1.0" | bc | grep -qx 1; echo $?)"
warnings=$(grep -c "OpenTelemetry" "$work/dead.err")
check "a collector that is down gives one warning, with a count" \
  "$([[ $warnings == 1 ]] && grep -q "OpenTelemetry: the collector did not take a batch (.*); [0-9]* item(s) dropped" "$work/dead.err"; echo $?)" \
  "$(cat "$work/dead.err")"

# Malformed variables are refused, naming the variable.
run_nyx badheaders "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" "OTEL_EXPORTER_OTLP_HEADERS=novalue" -- run "$work/fail.lua"
check "a malformed OTEL_EXPORTER_OTLP_HEADERS is refused, naming it" \
  "$([[ $rc != 0 ]] && grep -q "OTEL_EXPORTER_OTLP_HEADERS" "$work/badheaders.err"; echo $?)" "$(cat "$work/badheaders.err")"
run_nyx baddisabled OTEL_SDK_DISABLED=maybe -- run "$work/fail.lua"
check "a malformed OTEL_SDK_DISABLED is refused, naming it" \
  "$([[ $rc != 0 ]] && grep -q "OTEL_SDK_DISABLED" "$work/baddisabled.err"; echo $?)" "$(cat "$work/baddisabled.err")"

finish
