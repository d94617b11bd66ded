#!/usr/bin/env bash
# nyx batch submit end to end on the in-process simulator: JSON Lines and CSV inputs (quoted
# fields with commas and quotes), one request per row rendered from the row's fields and the
# shared --var values, results as JSON Lines matched to their rows by id, each logged once at
# batch prices (half the standard cost of the same answer, from the model table), a bad row
# named with its line and field before anything is sent, and the exit codes (0 all succeeded,
# 1 some failed, 2 usage).
set -uo pipefail

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
mkdir -p "$work/tpl" "$work/cwd"
clean_env+=("NYX_TEMPLATE_PATH=$work/tpl" "NYX_SIM_BATCH_MS=100")
cd "$work/cwd" || exit 1
classify_template "$work/tpl" '{{ticket}}: classify this {{team}} ticket in one word.' team
printf '{"id":"t1","ticket":"printer on fire"}\n\n{"id":"t2","ticket":"invoice overdue"}\n{"id":"t3","ticket":"lost badge"}\n' >rows.jsonl
printf 'key,ticket\nc1,"printer, on fire"\nc2,"say ""hi"""\n' >rows.csv
printf '{"id":"a","ticket":"x"}\n{"id":"b","tikcet":"y"}\n' >bad.jsonl

run_nyx batch submit classify --input rows.jsonl --var team=support --wait --out results.jsonl
check "nyx batch submit (JSON Lines) exits 0 when every row succeeded" "$rc" "$err"
[[ $(wc -l <results.jsonl) == 3 ]]
check "one result line per row" $? "$(cat results.jsonl)"
for n in 1 2 3; do
  topic=$(sed -n "${n}p" <(printf 'printer on fire\ninvoice overdue\nlost badge\n'))
  grep -q "\"id\":\"t$n\",\"ok\":true,\"text\":\"As your assistant, regarding $topic" results.jsonl
  check "row t$n's result answers its own prompt" $? "$(cat results.jsonl)"
done
check_grep "the summary is on stderr" "$err" "3 succeeded, 0 failed"
check_no_grep "the rows' id field is their custom id, not an undeclared template variable" "$err" "variable 'id' is given but not declared"
run_nyx stats --by template
check_grep "each row is logged once, under the template's version" "$out" -E '^classify@1 +3 '
run_nyx stats
check_grep "nyx stats counts the batch calls and what they saved" "$out" '^batches: 3 calls at batch prices'

# The same first row as a standard call: the simulator gives it the same usage.
id=$(sed -n '1s/.*"interaction_id":"\([^"]*\)".*/\1/p' results.jsonl)
batch_cost=$(sed -n '1s/.*"cost_usd":\([0-9.e-]*\).*/\1/p' results.jsonl)
run_nyx log --raw "$id"
grep -q '"content":"printer on fire: classify this support ticket in one word.\\n"}' <<<"$out" && ! grep -q cache_control <<<"$out"
check "the row's fields and --var fill the template; rows that share no beginning are not marked" $? "$out"
cat >"$work/tpl/route.md" <<'T'
---
description: a queue for a ticket
model: claude-haiku-4-5
variables:
  ticket: {required: true}
---
You route support tickets.
Printers go to facilities.

Ticket: {{ticket}}
T
printf '{"id":"p1","ticket":"printer on fire"}\n{"id":"p2","ticket":"payroll late"}\n' >route.jsonl
run_nyx batch submit route --input route.jsonl --out "$work/route.out"
id=$(sed -n '1s/.*"interaction_id":"\([^"]*\)".*/\1/p' "$work/route.out")
run_nyx log --raw "$id"
check_grep "the rows' shared beginning is one block marked for an hour, the row's rest after it" "$out" '"content":\[{"type":"text","text":"You route support tickets.\\nPrinters go to facilities.\\n\\n","cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"Ticket: printer on fire\\n"}\]'
# Rows the same to their last newline: the shared block stops a line short of it, no row is left
# an empty block (which the API refuses: every such row failed).
printf '{"id":"s1","ticket":"printer on fire"}\n{"id":"s2","ticket":"printer on fire"}\n' >same.jsonl
run_nyx batch submit route --input same.jsonl --out "$work/same.out"
check "rows the same to their end succeed" "$rc" "$err $(cat "$work/same.out")"
id=$(sed -n '1s/.*"interaction_id":"\([^"]*\)".*/\1/p' "$work/same.out")
run_nyx log --raw "$id"
check_grep "and share their beginning to the line before the last" "$out" '"content":\[{"type":"text","text":"You route support tickets.\\nPrinters go to facilities.\\n\\n","cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"Ticket: printer on fire\\n"}\]'
run_nyx ask classify --var "ticket=printer on fire" --var team=support
std_cost=$(sed -n 's/.*; \$\([0-9.]*\)$/\1/p' <<<"$err")
awk -v b="$batch_cost" -v s="$std_cost" 'BEGIN { exit !(b > 0 && (b * 2 - s) < 1e-6 && (s - b * 2) < 1e-6) }'
check "a row costs half the standard call (batch $batch_cost, standard $std_cost)" $? "$err"

run_nyx batch submit classify --input rows.csv --id-field key --var team=it --var colour=red
check "nyx batch submit (CSV) exits 0" "$rc" "$err"
grep -q "variable 'colour' is given but not declared" <<<"$err" &&
  ! grep -q "variable 'key' is given but not declared" <<<"$err"
check "a --var the template does not declare is still named, the --id-field is not" $? "$err"
grep -q '"id":"c1","ok":true' <<<"$out" && grep -q '"id":"c2","ok":true' <<<"$out"
check "CSV rows take their ids from --id-field and the results go to stdout" $? "$out"
c2=$(grep '"id":"c2"' <<<"$out" | sed -n 's/.*"interaction_id":"\([^"]*\)".*/\1/p')
run_nyx log --raw "$c2"
check_grep "a quoted CSV field with doubled quotes is read whole" "$out" 'say \\"hi\\": classify this it ticket'

run_nyx stats --by template
before=$(sed -n 's/^classify@1 \+\([0-9]*\) .*/\1/p' <<<"$out")
run_nyx batch submit classify --input bad.jsonl --var team=x
check_exit "a row missing a variable is named with its line and field, exit 1" 1 "$err" "bad.jsonl line 2 (id b): .*missing required variable 'ticket'"
run_nyx stats --by template
after=$(sed -n 's/^classify@1 \+\([0-9]*\) .*/\1/p' <<<"$out")
[[ "$before" == "$after" ]]
check "nothing is sent when a row does not render" $? "$before -> $after"
run_nyx batch submit classify --input rows.jsonl --var $'team=\xc3('
check_exit "a --var value that is not UTF-8 is a usage error (2) naming --var and its byte" 2 "$err" \
  -x 'nyx batch: --var team is not valid UTF-8 (its byte 1 is 0xC3)'

printf '{"id":"ok1","ticket":"fine"}\n{"id":"no1","ticket":"x"}\n' >mixed.jsonl
run_nyx batch submit classify --input mixed.jsonl --var team=x --model claude-nope-9
[[ $rc == 1 ]] && grep -q '"id":"no1","ok":false,"error_type":"not_found_error"' <<<"$out" && grep -q "0 succeeded, 2 failed" <<<"$err"
check "failed rows are reported per id and exit 1" $? "rc=$rc $out $err"

printf '{"id":"bad id","ticket":"x"}\n' >badid.jsonl
run_nyx batch submit classify --input badid.jsonl --var team=x
check_exit "an id the API would refuse is named before sending" 1 "$err" 'line 1: the id field "id" must be'
printf 'ticket\n"open\n' >open.csv
run_nyx batch submit classify --input open.csv --var team=x
check_exit "a CSV quote left open is named with its line" 1 "$err" 'line 2: a quoted field is not closed'

check_usage_errors batch "" "submit" "submit classify" "submit classify --input" "frobnicate" "submit classify --input rows.jsonl --bogus"
# On a terminal (a pseudo-terminal from script(1)), a progress bar on stderr; without one, none.
if command -v script >/dev/null; then
  script -qec "$(printf '%q ' "${clean_env[@]}" "$NYX_BIN" batch submit classify --input "$work/cwd/rows.jsonl" \
    --var team=x --out "$work/p.jsonl")" /dev/null >"$work/pty.out" 2>&1
  grep -q '\[##############################\] 3/3 done, 0 errored, \$0\.[0-9]\{4\}, [0-9]*s' "$work/pty.out"
  check "a terminal shows a progress bar: requests done, errored, dollars, time" $? "$(cat -A "$work/pty.out" | head -5)"
fi
# nyx run on a terminal: a batch's wait feeds the live status line.
if command -v script >/dev/null; then
  cat >"$work/wait.lua" <<'LUA'
local nyx = require "nyx"
local b = nyx.batch{ name = "nightly", requests = { { id = "a", prompt = "one", max_tokens = 20 },
  { id = "b", prompt = "two", max_tokens = 20 }, { id = "c", prompt = "three", max_tokens = 20 } } }
b:wait()
LUA
  script -qec "stty cols 200; $(printf '%q ' "${clean_env[@]}" "NYX_SIM_BATCH_MS=1500" "TERM=xterm" "$NYX_BIN" run "$work/wait.lua")" \
    /dev/null >"$work/wait.tty" 2>&1
  grep -q 'batch nightly: 0 of 3 done, 0 errored, \$0\.0000, [0-9]s' "$work/wait.tty"
  check "b:wait() shows the batch on nyx run's status line: done, errored, dollars, time" $? \
    "$(cat -v "$work/wait.tty" | head -5)"
fi
run_nyx batch submit classify --input rows.jsonl --var team=x --out "$work/np.jsonl"
check_no_grep "no progress bar when stderr is not a terminal" "$err" 'done, 0 errored'

# ---- list, status, results, cancel: the API's view, from nyx sim over HTTP ----
start_sim --batch-ms 600000
base=$url
# A database of its own: the batches above were the in-process simulator's, whose ids repeat.
clean_env+=("ANTHROPIC_BASE_URL=$base" "ANTHROPIC_API_KEY=test-key" "NYX_DB=$work/api.db")
run_nyx batch list
check_exit "nyx batch list says so when the API has no batch" 0 "$out" -x '(no batches)'
curl -s -H "x-api-key: test-key" -H "anthropic-version: 2023-06-01" "$base/v1/messages/batches" \
  -d '{"requests":[{"custom_id":"a","params":{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]}},{"custom_id":"b","params":{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"y"}]}}]}' >/dev/null
run_nyx batch list
[[ $rc == 0 ]] && grep -Eq '^msgbatch_sim_000001 +in_progress +processing 2, succeeded 0' <<<"$out"
check "nyx batch list shows the API's batches with their counts" $? "rc=$rc $out $err"
run_nyx batch status msgbatch_sim_000001 --json
[[ $rc == 0 ]] && grep -q '^{"id":"msgbatch_sim_000001","type":"message_batch","processing_status":"in_progress"' <<<"$out"
check "nyx batch status ID --json prints the API's object" $? "rc=$rc $out $err"
run_nyx batch results msgbatch_sim_000001
check_exit "nyx batch results of a batch still processing exits 1 with the API's reason" 1 "$err" "still processing"
run_nyx batch cancel msgbatch_sim_000001
[[ $rc == 0 ]] && grep -Eq '^msgbatch_sim_000001 +canceling' <<<"$out"
check "nyx batch cancel ID asks the API to cancel" $? "rc=$rc $out $err"
run_nyx batch status msgbatch_sim_000001
check_grep "the cancelled batch ends with its requests canceled" "$out" -E 'ended +processing 0, succeeded 0, errored 0, canceled 2'
run_nyx batch results msgbatch_sim_000001 --out "$work/api.jsonl"
[[ $rc == 0 ]] && grep -q '{"custom_id":"a","result":{"type":"canceled"}}' "$work/api.jsonl" && grep -q '"custom_id":"b"' "$work/api.jsonl"
check "nyx batch results ID --out writes the API's JSON Lines" $? "rc=$rc $err"
run_nyx batch status msgbatch_nope
check_exit "an unknown batch exits 1 with not_found_error" 1 "$err" "not_found_error"
check_usage_errors batch "status" "status bad/id" "cancel" "list extra" "results a --bogus"

# More batches than one page of the API's list (100): every one is listed, once.
for n in $(seq 2 105); do
  curl -s -H "x-api-key: test-key" -H "anthropic-version: 2023-06-01" "$base/v1/messages/batches" \
    -d "{\"requests\":[{\"custom_id\":\"a\",\"params\":{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"$n\"}]}}]}" >/dev/null
done
run_nyx batch list
listed=$(grep -c '^msgbatch_sim_' <<<"$out")
distinct=$(grep -o '^msgbatch_sim_[0-9]*' <<<"$out" | sort -u | wc -l)
[[ $rc == 0 && $listed == 105 && $distinct == 105 ]]
check "nyx batch list lists all 105 batches, past the API's page of 100" $? "rc=$rc listed $listed, distinct $distinct $err"
run_nyx batch list --json
check "nyx batch list --json: one object whose data holds all 105, as the API wrote them (nulls kept)" \
  "$(jq -e '(.data | length) == 105 and ([.data[].id] | unique | length) == 105 and .has_more == false and (.data | all(has("ended_at")))' <<<"$out" >/dev/null; echo $?)" \
  "$(head -c 300 <<<"$out") $err"

run_nyx batch --help
check_exit "nyx batch --help exits 0" 0 "$out" "usage: nyx batch submit"

finish
