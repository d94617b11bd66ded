#!/usr/bin/env bash
# A batch's results read the same from `nyx batch submit` and from `nyx batch results ID` of the
# same batch: each line byte for byte, and each cost_usd as the shortest text that reads back as
# the double the engine computed (cost/cost.c, once, for the call and for the record). submit
# printed its lines through cJSON, whose 15 digits read back as another double (3.83e-05 for
# 3.8299999999999996e-05), in the order id, ok, text, ...; results through nyx.json_encode, with
# every digit needed, in another key order.
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
trap '[[ -n "${sim_pid:-}" ]] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT

start_sim --api-key cost-key --batch-ms 100
check "nyx sim started" $? "$(cat "$work/sim.out")"
classify_template "$work/tpl"
cd "$work" || exit 1
for n in $(seq 1 30); do printf '{"id":"t%02d","ticket":"ticket %d %s"}\n' "$n" "$n" "$(printf '%*s' "$n" '' | tr ' ' x)"; done >rows.jsonl
clean_env+=("NYX_TEMPLATE_PATH=$work/tpl" "ANTHROPIC_API_KEY=cost-key" "ANTHROPIC_BASE_URL=$url")

run_nyx batch submit classify --input rows.jsonl --model claude-haiku-5-5 --out submit.jsonl
check "nyx batch submit exits 0" "$rc" "$err"
id=$(sqlite3 "$work/nyx.db" "SELECT DISTINCT provider_id FROM llm_batch_requests")
run_nyx batch results "$id" --out results.jsonl
check "nyx batch results ID of the same batch exits 0" "$rc" "$err"
[[ $(wc -l <results.jsonl) == 30 ]]
check "thirty results" $? "$(cat results.jsonl)"
cmp -s <(sort submit.jsonl) <(sort results.jsonl)
check "submit and results print every line the same" $? "$(diff <(sort submit.jsonl) <(sort results.jsonl) | head -6)"
# Each figure is the shortest text of the recorded double (python reads both as JSON).
python3 - "$work/nyx.db" submit.jsonl results.jsonl >"$work/py.out" 2>&1 <<'PY'
import json, sqlite3, sys
stored = dict(sqlite3.connect(sys.argv[1]).execute("SELECT custom_id, cost_usd FROM llm_interactions"))
long_ones = 0
for path in sys.argv[2:]:
    for line in open(path):
        o = json.loads(line)
        text = line.split('"cost_usd":', 1)[1].split(",", 1)[0].split("}", 1)[0]
        if float(text) != stored[o["id"]] or text != repr(stored[o["id"]]):
            sys.exit(f"{path} {o['id']}: {text}, recorded {stored[o['id']]!r}")
        long_ones += len(text.split("e")[0].replace(".", "").lstrip("0")) > 15
print(long_ones)
PY
check "every cost_usd is the recorded double in its shortest text" $? "$(cat "$work/py.out")"
[[ $(tail -1 "$work/py.out") =~ ^[0-9]+$ && $(tail -1 "$work/py.out") -gt 0 ]]
check "some costs need more than 15 digits (the case cJSON misprinted)" $? "$(cat "$work/py.out")"
finish
