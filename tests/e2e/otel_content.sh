#!/usr/bin/env bash
# Message content on OpenTelemetry spans is opt-in: without
# OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT no span carries a word of it; with =true a
# chat span has gen_ai.system_instructions, gen_ai.input.messages and gen_ai.output.messages
# after the GenAI conventions (roles and parts; a tool loop's tool_call and tool_call_response
# parts, tied by id), redacted as stored prompts are: an e-mail address in the prompt (which the
# simulator echoes in its reply) is exported as [EMAIL], as written only under
# NYX_STORAGE_MODE=full, and no content at all under "none"; a long text is cut; a value that is
# not true or false is refused, naming the variable.
set -uo pipefail

: "${NYX_BIN:?run through ctest}" "${OTLP_RECEIVER:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
unset LD_PRELOAD
source "$NYX_SOURCE_DIR/tests/e2e/lib/check.sh"

recv="$work/recv"
mkdir -p "$recv"
"$OTLP_RECEIVER" "$recv" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$recv/port" ]] && break; sleep 0.05; done
endpoint="http://127.0.0.1:$(cat "$recv/port")"
clean_env+=("OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" "OTEL_METRICS_EXPORTER=none")

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
local r = nyx.call { system = "You are terse.", prompt = "Write to jane.doe@example.com about the plan",
                     max_tokens = 40, session = "s-content" }
local weather = nyx.tool { name = "weather", description = "Weather in a city",
  input = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
  run = function(input) return "sunny in " .. input.city end }
nyx.call { prompt = "Pack for Oslo?", tools = { weather }, tool_choice = "auto", max_tokens = 200,
           max_iterations = 2, session = "s-tools" }
nyx.call { prompt = string.rep("long text ", 4000), max_tokens = 5, session = "s-long" }
print(r.text)
LUA

# spans NAME [VAR=value...]: runs the script, its spans merged into $work/NAME.json.
spans() {
  local name=$1
  shift
  rm -f "$recv"/*.json "$recv"/*.headers
  run_nyx "$@" -- run "$work/calls.lua"
  echo "$out" >"$work/$name.out"
  if [[ $rc != 0 ]]; then echo "[]" >"$work/$name.json"; fail "the script runs ($name)" "$err"; return; fi
  jq -s '[.[].resourceSpans[].scopeSpans[].spans[]]' "$recv"/*.traces.json >"$work/$name.json"
  cat "$recv"/*.traces.json >"$work/$name.raw"
}
attr='def attr($k): (.attributes[] | select(.key == $k) | .value.stringValue);
      def msgs($k): (attr($k) // "null" | fromjson);
      def convo($s): map(select(any(.attributes[]; .key == "gen_ai.conversation.id" and .value.stringValue == $s)));'

spans off
jq -e 'length >= 4 and all(.[]; all(.attributes[].key; startswith("gen_ai.input") or startswith("gen_ai.output")
                                    or startswith("gen_ai.system_instructions") | not))' "$work/off.json" >/dev/null &&
  ! grep -q -e "jane" -e "Write to" -e "You are terse" -e "sunny in" "$work/off.raw"
check "without the opt-in no span carries content" $? "$(jq -c '[.[].attributes[].key] | unique' "$work/off.json")"

spans on OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true
reply=$(cat "$work/on.out")
jq -e --arg reply "${reply//jane.doe@example.com/[EMAIL]}" "$attr"' convo("s-content")[0] as $s
  | ($s | msgs("gen_ai.system_instructions")) == [{"type": "text", "content": "You are terse."}]
    and ($s | msgs("gen_ai.input.messages"))
        == [{"role": "user", "parts": [{"type": "text", "content": "Write to [EMAIL] about the plan"}]}]
    and ($s | msgs("gen_ai.output.messages"))
        == [{"role": "assistant", "parts": [{"type": "text", "content": $reply}],
             "finish_reason": ($s.attributes[] | select(.key == "gen_ai.response.finish_reasons")
                               | .value.arrayValue.values[0].stringValue)}]' "$work/on.json" >/dev/null
check "with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true a chat span has its system instructions, input and output messages" $? \
  "$(jq -c "$attr"' convo("s-content")[] | [attr("gen_ai.system_instructions"), attr("gen_ai.input.messages"), attr("gen_ai.output.messages")]' "$work/on.json")"

! grep -q "jane" "$work/on.raw" && grep -q '\[EMAIL\]' "$work/on.raw" && [[ "$reply" == *jane.doe@example.com* ]]
check "the e-mail address in the prompt and in the reply is exported as [EMAIL], as stored prompts are" $? \
  "$(grep -o '.\{60\}jane.\{40\}' "$work/on.raw" | head -3)"

jq -e "$attr"' convo("s-tools") | sort_by(.startTimeUnixNano) | map(select(.name | startswith("chat "))) as $chats
  | ($chats | length) == 2
  and ($chats[0] | msgs("gen_ai.output.messages")[0]) as $ask
  | ($ask.finish_reason == "tool_use")
  and ($ask.parts | map(select(.type == "tool_call"))[0]) as $call
  | ($call.name == "weather" and ($call.id | startswith("toolu_")) and ($call.arguments.city | type) == "string")
  and ($chats[1] | msgs("gen_ai.input.messages")) as $in
  | ($in | map(.role)) == ["user", "assistant", "user"]
  and ($in[2].parts[0] | .type == "tool_call_response" and .id == $call.id
       and (tostring | contains("sunny in " + $call.arguments.city)))' "$work/on.json" >/dev/null
check "a tool loop's messages carry tool_call and tool_call_response parts, tied by the call's id" $? \
  "$(jq -c "$attr"' convo("s-tools")[] | [.name, attr("gen_ai.input.messages"), attr("gen_ai.output.messages")]' "$work/on.json" | head -c 3000)"

jq -e "$attr"' convo("s-long")[0] | msgs("gen_ai.input.messages")[0].parts[0].content
  | (length <= 16384 + 11) and endswith("[truncated]") and startswith("long text long text")' "$work/on.json" >/dev/null
check "a long text is cut at 16 KiB and says so" $? \
  "$(jq -c "$attr"' convo("s-long")[0] | attr("gen_ai.input.messages") | length' "$work/on.json")"

spans full OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=TRUE NYX_STORAGE_MODE=full
jq -e "$attr"' convo("s-content")[0] | msgs("gen_ai.input.messages")[0].parts[0].content
  == "Write to jane.doe@example.com about the plan"' "$work/full.json" >/dev/null
check "under NYX_STORAGE_MODE=full the content is exported as written, as it is stored" $? \
  "$(jq -c "$attr"' convo("s-content")[] | attr("gen_ai.input.messages")' "$work/full.json")"

spans none OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true NYX_STORAGE_MODE=none
jq -e 'length >= 4' "$work/none.json" >/dev/null && ! grep -q -e "gen_ai.input.messages" -e "Write to" "$work/none.raw"
check "under NYX_STORAGE_MODE=none no content is exported, as none is stored" $?

run_nyx OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=maybe -- run "$work/calls.lua"
[[ $rc != 0 ]] && grep -q "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" <<<"$err"
check "a value that is not true or false is refused, naming the variable" $? "rc=$rc $err"

finish
