#!/usr/bin/env bash
# A batch picked up by another process (`nyx batch submit` killed with SIGKILL once the API had
# it, the batch cancelled with `nyx batch cancel` part way) is logged as the process that
# submitted it would have logged it: every result with the batch's latency, a request the API
# cancelled at a known cost of 0 (not one of nyx stats' calls of unknown cost), and each result
# line of `nyx batch results` with the interaction id it is logged under, the second time as the
# first.
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"

start_sim --api-key pick-key --batch-ms 4000
pids+=("$sim_pid")
classify_template "$work/tpl"
for n in 1 2 3 4; do printf '{"id":"t%d","ticket":"ticket number %d"}\n' "$n" "$n"; done >"$work/rows.jsonl"
db="$work/pick.db"
clean_env+=("NYX_DB=$db" "NYX_TEMPLATE_PATH=$work/tpl" "ANTHROPIC_API_KEY=pick-key" "ANTHROPIC_BASE_URL=$url"
            "LLM_DAILY_BUDGET_USD=5")
sql() { sqlite3 "$db" "$1" 2>/dev/null; }
sql_is() { [[ $(sql "$1") == "$2" ]]; }

"${clean_env[@]}" "$NYX_BIN" batch submit classify --input "$work/rows.jsonl" >"$work/submit.out" 2>"$work/submit.err" &
submit=$!
pids+=($submit)
poll sql_is "SELECT count(*) FROM llm_batch_requests WHERE provider_id IS NOT NULL" 4
kill -KILL "$submit"
wait "$submit" 2>/dev/null
nid=$(sql "SELECT DISTINCT batch_id FROM llm_batch_requests")
pid=$(sql "SELECT DISTINCT provider_id FROM llm_batch_requests")

# One request processed (the simulator spreads the 4 s over the four), then cancelled.
one_done() { run_nyx batch list --json; jq -e --arg id "$pid" '.data[] | select(.id == $id) |
  .request_counts.succeeded >= 1' <<<"$out" >/dev/null; }
poll one_done
run_nyx batch cancel "$pid"
check "nyx batch cancel $pid" "$rc" "$out $err"

run_nyx batch results "$nid"
first=$out
check_exit "nyx batch results: exit 1, some requests were cancelled" 1 "$first" -F '"error_type":"batch_canceled"'
check "the batch's four results are logged once" \
  "$([[ $(sql "SELECT count(*), count(DISTINCT custom_id) FROM llm_interactions") == "4|4" ]]; echo $?)" \
  "$(sql "SELECT custom_id, status, error_type FROM llm_interactions")"
check "every picked-up result is logged with the batch's latency" \
  "$([[ $(sql "SELECT count(*) FROM llm_interactions WHERE latency_ms IS NULL OR latency_ms <= 0") == 0 ]]; echo $?)" \
  "$(sql "SELECT custom_id, status, latency_ms FROM llm_interactions")"
check "a cancelled request is logged at a known cost of 0" \
  "$([[ $(sql "SELECT count(*), sum(cost_usd IS NULL), sum(cost_usd) FROM llm_interactions WHERE error_type = 'batch_canceled'") =~ ^[1-3]\|0\|0(\.0)?$ ]]; echo $?)" \
  "$(sql "SELECT custom_id, status, error_type, cost_usd FROM llm_interactions")"
run_nyx stats --json
check "nyx stats counts no call of unknown cost" \
  "$(jq -e '.unknown_cost_calls == 0 and .calls == 4' <<<"$out" >/dev/null; echo $?)" "$out"

# Each line names the interaction its result is logged under, the second time as the first.
logged=$(sql "SELECT custom_id || ' ' || id FROM llm_interactions ORDER BY custom_id")
named=$(jq -r '.id + " " + (.interaction_id // "none")' <<<"$first" | sort)
check "nyx batch results gives each result the interaction id it is logged under" \
  "$([[ "$named" == "$logged" ]]; echo $?)" "lines: $named
log: $logged"
run_nyx batch results "$pid"
again=$(jq -r '.id + " " + (.interaction_id // "none")' <<<"$out" | sort)
check "picked up again, nothing more is logged and each line names the same interaction" \
  "$([[ "$again" == "$logged" && $(sql "SELECT count(*) FROM llm_interactions") == 4 ]]; echo $?)" \
  "lines: $again
log: $logged"
check "the reservation is settled" "$([[ $(sql "SELECT count(*) FROM budget_holds") == 0 ]]; echo $?)" \
  "$(sql "SELECT * FROM budget_holds")"
finish
