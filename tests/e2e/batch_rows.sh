#!/usr/bin/env bash
# nyx batch submit reads every row of its input as written, or stops naming the line: a second
# JSON object (or anything else) after a row's object on the same line, and a NUL byte in a
# field (which the template would see cut short), a field that is not UTF-8 (which the API
# refuses, the whole batch with it), a field name that is not UTF-8 or not usable as a
# variable's, and an id two rows share, are errors before
# anything is sent; a UTF-8 byte-order mark (as spreadsheets write it) is not part of the first
# column's name.
set -uo pipefail

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
mkdir -p "$work/tpl" "$work/cwd"
clean_env+=("NYX_TEMPLATE_PATH=$work/tpl" "NYX_SIM_BATCH_MS=50")
cd "$work/cwd" || exit 1
classify_template "$work/tpl"

batches() { sqlite3 "$work/nyx.db" "SELECT count(*) FROM llm_batches" 2>/dev/null || echo 0; }

# refused FILE CONTENT WHAT PATTERN: FILE (CONTENT, printf's escapes read) is refused by
# nyx batch submit with exit 1 and an error matching PATTERN.
refused() {
  # shellcheck disable=SC2059 # CONTENT is the format: its escapes are the bytes
  printf "$2" >"$1"
  run_nyx batch submit classify --input "$1"
  check_exit "$3" 1 "$err" "$4"
}

refused two.jsonl '{"id":"a","ticket":"x"}{"id":"b","ticket":"y"}\n' "two JSON objects on one line are refused, naming the line" \
  'two.jsonl: line 1: .*after the JSON object'
refused trail.jsonl '{"id":"a","ticket":"x"}\n{"id":"c","ticket":"z"} trailing\n' "text after a row's object is refused, naming the line" \
  'trail.jsonl: line 2: .*after the JSON object'

refused nul.csv 'id,ticket\na,x\0y\n' "a NUL byte in a CSV field is refused, naming the line and field" \
  'nul.csv: line 2: field "ticket" holds a NUL byte'
refused nul.jsonl '{"id":"a","ticket":"x\\u0000y"}\n' "a NUL byte in a JSON string is refused, naming the line and field" \
  'nul.jsonl: line 1: field "ticket" holds a NUL byte'
refused dup.jsonl '{"id":"a","ticket":"x"}\n\n{"id":"b","ticket":"y"}\n{"id":"a","ticket":"z"}\n' "a repeated id is named with both its lines" \
  'dup.jsonl line 4: the id "a" is not unique (line 1 has it too)'
check_no_grep "and with no Lua traceback" "$err" 'stack traceback'
refused latin1.csv 'id,ticket\nok,caf\xc3\xa9\nl1,caf\xe9 au lait\n' "a field that is not UTF-8 (a Latin-1 CSV) is named with its line, before the API refuses the batch" \
  'latin1.csv: line 3: field "ticket" is not UTF-8 text (its byte 4 is 0xE9)'
refused latin1.jsonl '{"id":"j","ticket":"caf\xe9"}\n' "and in a JSON string alike" \
  'latin1.jsonl: line 1: field "ticket" is not UTF-8 text (its byte 4 is 0xE9)'
# A field's name becomes a template variable's, "name=value": one that is not UTF-8, is empty
# or holds '=' is named by its place, where a JSON name passed unchecked and '=' was reported
# as a value that "must be a string, number, boolean or list of them".
refused name.jsonl '{"id":"a","tick\xe9t":"x"}\n' "a JSON field name that is not UTF-8 is named by its place" \
  "name.jsonl: line 1: field 2's name is not UTF-8 text (its byte 5 is 0xE9)"
refused eq.jsonl '{"id":"a"}\n{"id":"b","a=b":"x"}\n' "a JSON field name holding '=' is refused as a name, not as a value" \
  "eq.jsonl: line 2: field 2's name \"a=b\" is not usable"
refused name.csv 'id,tick\xe9t\na,x\n' "a CSV column name that is not UTF-8 is named by its column" \
  "name.csv: line 1: column 2's name is not UTF-8 text (its byte 5 is 0xE9)"
# A line of NUL bytes read as a C string is empty: it was skipped as a blank line, unseen.
refused nulline.csv 'id\na\n\0\0\nb\n' "a CSV line of NUL bytes is no blank line: it is refused, naming the line" \
  'nulline.csv: line 3: field "id" holds a NUL byte'
# A row nyx.batch refuses (a prompt over NYX_MAX_PROMPT_TOKENS) fails the command with that
# error alone: no "0 succeeded, 0 failed" summary after it, as if a batch had run.
printf '{"id":"a","ticket":"short"}\n{"id":"b","ticket":"%s"}\n' "$(printf 'word %.0s' $(seq 400))" >long.jsonl
run_nyx NYX_MAX_PROMPT_TOKENS=100 -- batch submit classify --input long.jsonl
check_exit "a row over NYX_MAX_PROMPT_TOKENS: exit 1 naming it" 1 "$err" 'requests\[2\] (id "b"): the prompt is about'
check_no_grep "and no summary of a batch that never ran" "$err" 'succeeded'
[[ $(batches) == 0 ]]
check "nothing was sent for the refused inputs" $? "$(batches) batches"
printf '{"id":"a","ticket":"x"}   \r\n' >space.jsonl
run_nyx batch submit classify --input space.jsonl
check "white space after a row's object is fine" "$rc" "$err"

printf '\xef\xbb\xbfid,ticket\r\nb1,printer on fire\r\nb2,lost badge\r\n' >bom.csv
run_nyx batch submit classify --input bom.csv
grep -q '"id":"b1","ok":true' <<<"$out" && grep -q '"id":"b2","ok":true' <<<"$out"
check "a CSV's byte-order mark is not part of its first column's name: the ids are the rows'" $? "rc=$rc $out $err"
check_no_grep "and no column named with the mark is reported as undeclared" "$err" 'is given but not declared'
printf '\xef\xbb\xbf{"id":"j1","ticket":"printer on fire"}\n' >bom.jsonl
run_nyx batch submit classify --input bom.jsonl
check_grep "a JSON Lines file may begin with a byte-order mark too" "$out" '"id":"j1","ok":true'

# A row's number reaches the template as nyx writes numbers (the simulator's answer repeats the
# prompt): 0.30000000000000004 came through cJSON's print as 0.3. Every number of a results
# line reads back as itself in its shortest digits (nyx_json_number), as Python writes it.
printf '{"id":"n","ticket":0.30000000000000004}\n{"id":"b","ticket":true}\n{"id":"i","ticket":-12}\n' >numbers.jsonl
run_nyx batch submit classify --input numbers.jsonl
check_grep "a JSON row's float reaches the template with every digit" "$out" 'regarding 0\.30000000000000004:'
check_grep "a boolean as JSON writes it" "$out" 'regarding true:'
check_grep "an integer as its digits" "$out" 'regarding -12:'
python3 -c '
import json, sys
for line in sys.stdin:
    for text in __import__("re").findall(r"\"(?:cost_usd|[a-z_]*tokens)\":([-0-9.e+]+)", line):
        assert repr(float(text)) in (text, text + ".0"), text
' <<<"$out"
check "the numbers of a results line are their shortest digits" $? "$out"

finish
