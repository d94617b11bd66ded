#!/usr/bin/env bash
# SIGINT and SIGTERM to `nyx batch submit` while it waits (and SIGINT to a script in b:wait(),
# and an API that refuses the polls for good): the batch the API accepted goes on,
# nothing is logged for its requests and its reservation stays with it; stderr says how to pick
# it up, and `nyx batch results ID` then logs each result exactly once (not once as cancelled
# and again as its result).
set -uo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-batch-int.XXXXXX")
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT

start_sim --api-key int-key --batch-ms 4000 || { echo "nyx sim did not start: $(cat "$work/sim.out")"; exit 1; }
pids+=("$sim_pid")

classify_template "$work/tpl"
for n in 1 2 3 4; do printf '{"id":"t%d","ticket":"ticket number %d"}\n' "$n" "$n"; done >"$work/rows.jsonl"

# sql QUERY: its rows in $db, the database of the case at hand; sql_is QUERY WANT: whether they are WANT.
sql() { sqlite3 "$db" "$1" 2>/dev/null; }
sql_is() { [[ $(sql "$1") == "$2" ]]; }
for sig in INT TERM; do
  db="$work/$sig.db"
  run=("${clean_env[@]}" "NYX_DB=$db" "NYX_TEMPLATE_PATH=$work/tpl" "ANTHROPIC_API_KEY=int-key"
       "ANTHROPIC_BASE_URL=$url" "LLM_DAILY_BUDGET_USD=5" "$NYX_BIN")
  "${run[@]}" batch submit classify --input "$work/rows.jsonl" >"$work/$sig.out" 2>"$work/$sig.err" &
  submit=$!
  pids+=($submit)
  # The signal goes once the API's id of every request is recorded: waited for, not timed, and
  # named when it never comes (else every check below fails for that one reason).
  poll sql_is "SELECT count(*) FROM llm_batch_requests WHERE provider_id IS NOT NULL" 4
  check "SIG$sig: the batch's submission is recorded with the API's id" $? \
    "$(cat "$work/$sig.err"; sql "SELECT custom_id, provider_id FROM llm_batch_requests")"
  kill -"$sig" "$submit"
  wait "$submit"
  rc=$?
  [[ $rc == $((128 + $(kill -l "$sig"))) ]]
  check "SIG$sig: nyx batch submit exits with 128 + the signal" $? "rc $rc: $(cat "$work/$sig.err")"
  nid=$(sql "SELECT DISTINCT batch_id FROM llm_batch_requests")
  pid=$(sql "SELECT DISTINCT provider_id FROM llm_batch_requests")
  grep -q "nyx batch results $nid" "$work/$sig.err" && ! grep -q "nobody waited" "$work/$sig.err"
  check "SIG$sig: stderr says how to pick the batch up, and nothing else failed" $? "$(cat "$work/$sig.err")"
  [[ $(sql "SELECT count(*) FROM llm_interactions") == 0 ]]
  check "SIG$sig: nothing is logged for the requests it stopped waiting for" $? \
    "$(sql "SELECT custom_id, status, error_type FROM llm_interactions")"
  [[ $(sql "SELECT count(*) FROM budget_holds WHERE pid IS NULL AND amount > 0") == 1 ]]
  check "SIG$sig: the reservation stays with the batch" $? "$(sql "SELECT * FROM budget_holds")"
  # Picked up by the API's id once, by nyx's id the other time.
  [[ $sig == INT ]] && want=$pid || want=$nid
  "${run[@]}" batch results "$want" >"$work/$sig.res" 2>"$work/$sig.rerr"
  rc=$?
  [[ $rc == 0 && $(grep -c '"ok":true' "$work/$sig.res") == 4 ]]
  check "SIG$sig: the API processed the batch and nyx batch results $want gets every result" $? \
    "rc $rc: $(cat "$work/$sig.res" "$work/$sig.rerr")"
  [[ $(sql "SELECT count(*), count(DISTINCT custom_id) FROM llm_interactions WHERE status = 'ok' AND service_tier = 'batch'") == "4|4" &&
     $(sql "SELECT count(*) FROM llm_interactions") == 4 ]]
  check "SIG$sig: each result is logged exactly once" $? \
    "$(sql "SELECT custom_id, status, error_type FROM llm_interactions")"
  [[ $(sql "SELECT count(*) FROM budget_holds") == 0 ]]
  check "SIG$sig: the reservation is settled" $? "$(sql "SELECT * FROM budget_holds")"
  # The batch took 4 s: its template's uses count that, not 0 ms.
  [[ $(sql "SELECT uses, latency_ms_total >= 4 * 4000 FROM template_usage WHERE name = 'classify'") == "4|1" ]]
  check "SIG$sig: the picked-up results count the batch's latency in template_usage" $? \
    "$(sql "SELECT * FROM template_usage")"
done

# A script's b:wait() interrupted (nyx run): the same.
cat >"$work/wait.lua" <<'LUA'
local nyx = require "nyx"
local reqs = {}
for i = 1, 3 do reqs[i] = { id = "w" .. i, prompt = "waiting " .. i, max_tokens = 20 } end
local b = nyx.batch{ requests = reqs }
while not b.id do nyx.sleep(0.01) end
io.stdout:write("WAITING\n")
io.stdout:flush()
b:wait()
LUA
db="$work/run.db"
run=("${clean_env[@]}" "NYX_DB=$db" "ANTHROPIC_API_KEY=int-key" "ANTHROPIC_BASE_URL=$url" "$NYX_BIN")
"${run[@]}" run "$work/wait.lua" >"$work/run.out" 2>"$work/run.err" &
script=$!
pids+=($script)
poll grep -q WAITING "$work/run.out"
check "nyx run: the script's batch is submitted" $? "$(cat "$work/run.err")"
kill -INT "$script"
wait "$script"
rc=$?
nid=$(sql "SELECT DISTINCT batch_id FROM llm_batch_requests")
[[ $rc == 130 && $(sql "SELECT count(*) FROM llm_interactions") == 0 ]] && grep -q "nyx batch results $nid" "$work/run.err" &&
  ! grep -q "nobody waited" "$work/run.err" && ! grep -q "cancelled and logged" "$work/run.err"
check "nyx run: b:wait() interrupted logs nothing, claims no cancelled call, and says how to pick the batch up" $? \
  "rc $rc: $(cat "$work/run.err"; sql "SELECT custom_id, status FROM llm_interactions")"
"${run[@]}" batch results "$nid" >"$work/run.res" 2>"$work/run.rerr"
[[ $? == 0 && $(sql "SELECT count(*), count(DISTINCT custom_id) FROM llm_interactions WHERE status = 'ok'") == "3|3" &&
   $(sql "SELECT count(*) FROM llm_interactions") == 3 ]]
check "nyx run: the pickup logs each result once" $? "$(cat "$work/run.rerr"; sql "SELECT custom_id, status FROM llm_interactions")"

# The API cannot be asked any more (here: an answer of 401 to every poll): not the batch's end.
# Its requests fail with that error and the pickup's command, and nothing is logged for them.
start_sim --api-key int-key --batch-ms 600000 || { echo "nyx sim did not start: $(cat "$work/sim.out")"; exit 1; }
sim_a=$sim_pid
pids+=("$sim_a")
cat >"$work/lost.lua" <<'LUA'
local nyx = require "nyx"
local b = nyx.batch{ requests = { { id = "l1", prompt = "one", max_tokens = 20 }, { id = "l2", prompt = "two", max_tokens = 20 } } }
while not b.id do nyx.sleep(0.01) end
io.stdout:write("WAITING\n")
io.stdout:flush()
for id, r, ok in b:results() do
  io.stdout:write(id, " ", tostring(ok), " ", tostring(r.type), " ", tostring(r.interaction_id), " ",
    tostring(r.message):find("nyx batch results", 1, true) and "pickup" or "-", "\n")
end
LUA
db="$work/lost.db"
"${clean_env[@]}" "NYX_DB=$db" "ANTHROPIC_API_KEY=int-key" "ANTHROPIC_BASE_URL=http://127.0.0.1:$port" \
  "$NYX_BIN" run "$work/lost.lua" >"$work/lost.out" 2>"$work/lost.err" &
script=$!
pids+=($script)
poll grep -q WAITING "$work/lost.out"
check "polls the API refuses: the script's batch is submitted" $? "$(cat "$work/lost.err")"
kill "$sim_a"
wait "$sim_a" 2>/dev/null
# The freed port can be held for a moment by the script's own attempts to reach it: connecting to
# a port nobody listens on, the kernel may pick that very port as the local one. So the second
# server tries again until it listens.
for _ in $(seq 100); do
  "$NYX_BIN" sim --port "$port" --api-key another-key >"$work/simB.out" 2>&1 &
  sim_b=$!
  poll eval 'grep -q "listening on" "$work/simB.out" || ! kill -0 $sim_b 2>/dev/null'
  grep -q "listening on" "$work/simB.out" && break
  wait "$sim_b" 2>/dev/null
  sleep 0.05
done
pids+=($sim_b)
# A port another process took for good: said, and the script (which would poll it for ever) ended.
grep -q "listening on" "$work/simB.out"
listening=$?
check "polls the API refuses: a second server listens on the first one's port" $listening "$(cat "$work/simB.out")"
[[ $listening == 0 ]] || kill "$script"
wait "$script"
rc=$?
[[ $rc == 0 && $(grep -c "false authentication_error nil pickup" "$work/lost.out") == 2 &&
   $(sql "SELECT count(*) FROM llm_interactions") == 0 ]]
check "polls the API refuses: each request fails naming the pickup, and nothing is logged" $? \
  "rc $rc: $(cat "$work/lost.out" "$work/lost.err" "$work/simB.out"; sql "SELECT custom_id, status, error_type FROM llm_interactions")"

finish
