#!/usr/bin/env bash
# nyx ask end to end on the simulator: the template is rendered with --var values and sent as
# one call (the stored request holds the rendered text), the answer is on stdout and usage and
# cost on stderr (on a terminal the answer streams to it; piped, it is asked for whole), the call
# is logged under the template's version, --model overrides the
# template's hint, and the exit codes are 0 answered, 1 failed (missing variable, unknown
# template, API error), 2 usage (a --var value that is not UTF-8 among them, named with its
# byte: it read as the rendered prompt's, exit 1); --json writes the result as one JSON object; an answer whose
# record the database never got (NYX_DURABILITY=degrade, no database) exits 1, as nyx run does.
set -uo pipefail

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
mkdir -p "$work/tpl" "$work/cwd"
clean_env+=("NYX_TEMPLATE_PATH=$work/tpl")
cd "$work/cwd" || exit 1
classify_template "$work/tpl" 'Classify this ticket in one word: {{ticket}}'

run_nyx ask classify --var "ticket=printer on fire"
check "nyx ask exits 0" "$rc" "$err"
[[ -n "$out" ]] && ! grep -q "claude-haiku-4-5:" <<<"$out"
check "the answer is on stdout, alone" $? "$out"
check_grep "model, usage and cost are on stderr (the template's model hint)" "$err" -E '^claude-haiku-4-5: [0-9]+ input, [0-9]+ output, 0 cache read, 0 cache write tokens; \$0\.[0-9]{6}$'

run_nyx log --last 1 --json
id=$(sed -n 's/^{"id":"\([^"]*\)".*/\1/p' <<<"$out")
run_nyx log --raw "$id"
check_grep "the request sent is the rendered template" "$out" 'Classify this ticket in one word: printer on fire'
run_nyx stats --by template
check_grep "the call is logged under the template's version" "$out" -E '^classify@1 +1 '

run_nyx ask classify --var "ticket=x" --model claude-sonnet-4-5
check_exit "--model overrides the template's hint" 0 "$err" '^claude-sonnet-4-5:'

# On a terminal the answer is written as it arrives (the request streams); piped, whole (it does
# not: a call cut short is retried rather than leaving half an answer in a file).
raw_request() { run_nyx log --last 1 --json; run_nyx log --raw "$(sed -n 's/^{"id":"\([^"]*\)".*/\1/p' <<<"$out")" --json; }
tty_out=$("${clean_env[@]}" script -qec "$NYX_BIN ask classify --var 'ticket=printer on fire'" /dev/null 2>&1 | tr -d '\r')
tty_rc=$?
raw_request
[[ $tty_rc == 0 ]] && grep -q '^As your assistant, regarding Classify this ticket' <<<"$tty_out" &&
  grep -Eq '^claude-haiku-4-5: [0-9]+ input' <<<"$tty_out" && grep -q 'stream\\*":true' <<<"$out"
check "on a terminal the answer is streamed to it, then the usage line" $? "rc=$tty_rc $tty_out"
run_nyx ask classify --var "ticket=printer on fire"
piped=$out
raw_request
[[ -n "$piped" ]] && ! grep -q 'stream\\*":true' <<<"$out"
check "piped, the answer is asked for whole" $? "$out"

run_nyx ask classify --var "ticket=printer on fire" --json
[[ $rc == 0 && $(wc -l <<<"$out") == 1 ]] && grep -Eq '^\{.*"interaction_id":"ix_[0-9a-f]+".*"model":"claude-haiku-4-5".*"text":"As your assistant, regarding Classify this ticket.*"usage":\{.*"cost_usd":[0-9.e-]+.*\}\}$' <<<"$out"
check "--json writes the result as one JSON object with text, model, interaction and usage with cost" $? "$out"
grep -q '"output_tokens"' <<<"$out" && grep -Eq '^claude-haiku-4-5: ' <<<"$err"
check "--json keeps the usage line on stderr" $? "$err"

run_nyx ask classify
check_exit "a missing variable exits 1 and is named" 1 "$err" "missing required variable 'ticket'"
run_nyx stats --by template
check_grep "nothing is sent when the template does not render" "$out" -E '^classify@1 +5 '
run_nyx ask classify --var $'ticket=caf\xe9'
check_exit "a --var value that is not UTF-8 is a usage error (2) naming --var and its byte" 2 "$err" \
  -x 'nyx ask: --var ticket is not valid UTF-8 (its byte 4 is 0xE9)'
run_nyx stats --by template
check_grep "nothing is sent for it" "$out" -E '^classify@1 +5 '

run_nyx ask no_such_template
check_exit "an unknown template exits 1, said as nyx templates show says it (no \"not_found: \")" 1 "$err" \
  "^nyx ask: template 'no_such_template' not found: no no_such_template.md in "

run_nyx ask classify --var ticket=x --model claude-nope-1
check_exit "an API error exits 1 with its type" 1 "$err" "not_found_error"
# The command's own Lua is no script of the user's: its failures read as one line, without a
# traceback or the command's internal line numbers.
for e in "$(run_nyx ask classify; echo "$err")" "$(run_nyx ask no_such_template; echo "$err")" "$err"; do
  check_no_grep "a failure of nyx ask shows no traceback" "$e" -e 'stack traceback' -e 'nyx ask:[0-9]'
done
check_grep "and says what failed" "$err" "^nyx ask: not_found_error: model: claude-nope-1"

check_usage_errors ask "" "classify --bogus" "classify --var novalue" "classify extra" "classify --model bad'name"
run_nyx ask "What is 2+2?"
check_exit "a question in place of a template is named as not a template" 2 "$err" \
  'nyx ask: "What is 2+2?" is not a template name (nyx ask renders a template: nyx templates lists them)'
run_nyx ask classify --model "bad'name"
check_exit "a bad --model is named as the model" 2 "$err" 'nyx ask: --model "bad'"'"'name" is not a model name'
run_nyx NYX_DURABILITY=degrade "NYX_DB=$work/tpl" -- ask classify --var ticket=x
[[ $rc == 1 && -n "$out" ]] && grep -q "1 interaction records could not be written and are lost" <<<"$err"
check "an answer whose record was lost exits 1" $? "rc=$rc $out $err"

run_nyx ask --help
check_exit "nyx ask --help exits 0" 0 "$out" "usage: nyx ask"

finish
