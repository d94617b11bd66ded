#!/usr/bin/env bash
# nyx prune (README, "Records, statistics and budgets"): the calls logged before a date go, with
# the request parts only they named and the expired response-cache entries; what stays reads the
# same through nyx log, nyx log --raw (byte for byte) and nyx stats; --dry-run says the same and
# changes no byte of the database; budgets and audit events stay; exit codes 0, 1, 2; README
# shows the usage line nyx prune --help prints.
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1
unset LD_PRELOAD # sqlite3 and jq are not instrumented; nyx gets it back through clean_env
db="$work/nyx.db"

# Six calls: three with a system prompt of their own, three sharing another; the first three are
# then made a month old, behind the store's back.
cat >calls.lua <<'LUA'
local nyx = require "nyx"
local old = string.rep("The system prompt of last month's calls, long enough to be stored once. ", 8)
local new = string.rep("The system prompt of this week's calls, long enough to be stored once. ", 8)
local s = nyx.session{ name = "kept", budget_usd = 1 }
for i = 1, 3 do nyx.call{ system = old, prompt = "old question " .. i, max_tokens = 16 } end
for i = 1, 3 do nyx.call{ system = new, prompt = "new question " .. i, max_tokens = 16, session = s } end
nyx.audit("note", "kept whatever its age")
LUA
run_nyx NYX_DAILY_BUDGET_USD=5 -- run calls.lua
check "setup: six calls" "$rc" "$err"
sqlite3 "$db" "UPDATE llm_interactions SET created_at = created_at - 30 * 86400 WHERE rowid <= 3;
  INSERT INTO llm_cache (key, model, response_json, created_at, expires_at, hits)
  VALUES ('gone', 'm', '{\"old\":1}', 1, 2, 0), ('kept', 'm', '{\"new\":1}', 1, NULL, 0);"
check "setup: three calls a month old, two cache entries" $? ""
when=$(date -u -d '@'$(( $(date -u +%s) - 86400 )) +%Y-%m-%d)

kept_ids=$(sqlite3 "$db" "SELECT id FROM llm_interactions WHERE rowid > 3 ORDER BY rowid")
run_nyx log --json; log_all=$out
run_nyx log --since "$when" --json; log_kept=$out
run_nyx stats --since "$when" --json; stats_kept=$out
run_nyx stats --by session --since "$when" --json; sessions_kept=$out
for id in $kept_ids; do run_nyx log --raw "$id" --json; echo "$out" >"raw.$id.before"; done
budget_before=$(sqlite3 "$db" "SELECT scope, spent_usd, limit_usd FROM budgets ORDER BY scope")
audit_before=$(sqlite3 "$db" "SELECT count(*) FROM audit_events")
[[ $(wc -l <<<"$log_all") == 6 && $(wc -l <<<"$log_kept") == 3 ]]
check "setup: nyx log shows six calls, three since $when" $? "$log_all"

# ---- --dry-run: the counts, and not a byte changed ----
dump_before=$(sqlite3 "$db" .dump)
run_nyx prune --before "$when" --dry-run --json
dry=$out
check "nyx prune --dry-run exits 0" "$rc" "$err"
[[ $(jq .interactions <<<"$dry") == 3 && $(jq .parts <<<"$dry") -ge 1 && $(jq .cache_rows <<<"$dry") == 1 &&
   $(jq .dry_run <<<"$dry") == true && $(jq .part_bytes <<<"$dry") -gt 500 ]]
check "--dry-run counts three calls, their own parts and one expired entry" $? "$dry"
[[ "$(sqlite3 "$db" .dump)" == "$dump_before" ]]
check "--dry-run changes nothing in the database" $? ""
run_nyx prune --before "$when" --dry-run
check_exit "--dry-run says what it would remove" 0 "$out" "^would prune before $when: 3 interactions"

# ---- an age before now (30d, 1d, 0s): the same as the instant it means ----
run_nyx prune --before 1d --dry-run --json
[[ $(jq .interactions <<<"$out") == 3 && $(jq .dry_run <<<"$out") == true &&
   $(jq '.before_s | floor' <<<"$out") -ge $(( $(date -u +%s) - 86400 - 5 )) ]]
check "--before 1d counts the three calls a month old, before_s a day ago" $? "$out $err"
run_nyx prune --before 0s --dry-run --json
[[ $(jq .interactions <<<"$out") == 6 ]]
check "--before 0s counts all six" $? "$out $err"
run_nyx prune --before 40d --dry-run
check_exit "--before 40d counts none and says the instant it meant" 0 "$out" \
  "^would prune before 40d ([0-9-]*T[0-9:]*Z): 0 interactions"
run_nyx log --since 1d --json
[[ $(wc -l <<<"$out") == 3 ]]
check "nyx log --since 1d shows the three calls of this week" $? "$out $err"
for age in 1.5d -3d 3d2 5x 99999999999999999999d; do
  run_nyx prune --before "$age" --dry-run
  check_exit "--before $age is a usage error naming the ages taken" 2 "$err" "or an age (30d, 12h, 15m, 90s), got \"$age\""
done

# ---- the prune ----
run_nyx prune --before "$when" --json
done_json=$out
check "nyx prune exits 0" "$rc" "$err"
for k in interactions interaction_bytes parts part_bytes cache_rows cache_bytes batches; do
  [[ $(jq ".$k" <<<"$done_json") == $(jq ".$k" <<<"$dry") ]]
  check "nyx prune removed what --dry-run said: $k" $? "dry: $dry; done: $done_json"
done
[[ $(sqlite3 "$db" "SELECT count(*) FROM llm_interactions") == 3 &&
   $(sqlite3 "$db" "SELECT key FROM llm_cache") == kept ]]
check "three calls and the entry that never expires are left" $? ""

run_nyx log --json
[[ "$out" == "$log_kept" ]]
check "nyx log of what is left is what it showed of those calls, byte for byte" $? "$(diff <(echo "$log_kept") <(echo "$out"))"
same=0
for id in $kept_ids; do
  run_nyx log --raw "$id" --json
  [[ "$out" == "$(cat "raw.$id.before")" ]] && same=$((same + 1))
done
[[ $same == 3 ]]
check "nyx log --raw of each call left reads as before, byte for byte" $? "$same of 3"
run_nyx stats --json
[[ "$out" == "$stats_kept" ]]
check "nyx stats of what is left is what it said of those calls" $? "$(diff <(echo "$stats_kept") <(echo "$out"))"
run_nyx stats --by session --json
[[ "$out" == "$sessions_kept" ]]
check "nyx stats --by session too" $? "$(diff <(echo "$sessions_kept") <(echo "$out"))"
[[ "$(sqlite3 "$db" "SELECT scope, spent_usd, limit_usd FROM budgets ORDER BY scope")" == "$budget_before" &&
   $(sqlite3 "$db" "SELECT count(*) FROM audit_events") == "$audit_before" ]]
check "budgets and audit events are untouched" $? ""

run_nyx prune --before "$when"
check_exit "a second prune finds nothing to remove" 0 "$out" "^pruned before $when: 0 interactions"

# ---- exit codes ----
check_usage_errors prune "" "--before" "--before yesterday" "--before 2026-13-01" "--before $when extra" \
  "--before $when --bogus"
run_nyx prune --before "$when" --db "$work/missing.db"
check_exit "a database that is not there is a failure (1)" 1 "$err" "no database"
[[ ! -e "$work/missing.db" ]]
check "and none is made" $? ""
run_nyx prune --help
check_exit "nyx prune --help exits 0" 0 "$out" "^usage: nyx prune --before DATE"
usage=$(head -1 <<<"$out" | sed 's/^usage: //')
grep -qF -- "$usage" "$NYX_SOURCE_DIR/README.md"
check "README shows nyx prune's usage line as --help prints it" $? "$usage"
finish
