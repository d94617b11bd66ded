#!/usr/bin/env bash
# When storage fails (NYX_DURABILITY, README "When the database fails"):
# - a database locked by another process mid-run makes no call fail, and every interaction is
#   written once the lock is gone: under strict (the default) each result waits for its record,
#   under degrade results go on while the records wait in memory;
# - a database that cannot be opened at all: under strict every call fails with store_error
#   before anything is sent; under degrade calls succeed, the lost records are counted and
#   said, and `nyx run` exits 1;
# - a run that ends while the lock is still held spills its waiting records beside the
#   database file, and the next process to open it writes them in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Holds the write lock of database $1 from when it says so (the file "locked") until the script
# says it has seen what the lock should cause (the file "unlock"; ten seconds at most). A lock
# held for a fixed time raced the calls: on a loaded machine they could all be done, or not yet
# have met it, before it was taken or after it was gone.
hold_lock() {
  sqlite3 "$1" ".timeout 5000" "BEGIN EXCLUSIVE;" \
    ".shell touch $dir/locked; for i in \$(seq 1000); do [ -e $dir/unlock ] && break; sleep 0.01; done" "COMMIT;"
}

db="$dir/nyx.db"
# Create the database first, so the locker has a file to lock.
NYX_DB="$db" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=1 > /dev/null 2>&1
for mode in strict degrade; do
  rm -f "$dir/out" "$dir/locked" "$dir/unlock"
  NYX_DURABILITY=$mode NYX_DB="$db" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=3 "$NYX_BIN" run "$here/degraded_run.lua" \
      --var n=1000 --var marker="$dir/locked" --var unlock="$dir/unlock" 2> "$dir/err" | while read -r line; do
    echo "$line" >> "$dir/out"
    if [ "$line" = LOCK ]; then
      # Another process holds the database's write lock mid-run, until the script lets it go.
      hold_lock "$db" &
    fi
  done
  wait
  # strict: the script never sees the degraded state (its results waited for their records).
  seen=true; [ $mode = strict ] && seen=false
  grep -q "^failed	0	degraded	$seen" "$dir/out" || fail "$mode: calls failed, or the degraded storage was not as expected: $(cat "$dir/out") $(cat "$dir/err")"
  grep -q "^after	false" "$dir/out" || fail "$mode: storage did not recover after the lock: $(cat "$dir/out")"
  grep -q "storage failed" "$dir/err" || fail "$mode: no warning about the failed storage: $(cat "$dir/err")"
  [ "$(grep -c "storage failed" "$dir/err")" -eq 1 ] || fail "$mode: the warning was given more than once"
done
rows=$(sqlite3 "$db" "SELECT count(*) FROM llm_interactions")
[ "$rows" -eq 2001 ] || fail "expected 2001 interactions in the database, found $rows"

# A database that cannot be opened (a missing directory, a directory, a file that is not a
# database, a truncated one): under strict (the
# default) no call is sent; under degrade calls succeed, and the loss is counted, said and
# makes the run fail.
echo "not a database, only text long enough to be read as a header and found wanting" > "$dir/text.db"
head -c 5000 "$db" > "$dir/truncated.db" # the first pages of a real database, the rest cut
for bad in "$dir/missing/dir/nyx.db" "$dir" "$dir/text.db" "$dir/truncated.db"; do
  set +e
  NYX_DB="$bad" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=5 > "$dir/out2" 2> "$dir/err2"
  rc=$?
  NYX_DURABILITY=degrade NYX_DB="$bad" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=5 \
      > "$dir/out3" 2> "$dir/err3"
  rc3=$?
  set -e
  grep -q "^failed	5" "$dir/out2" || fail "strict: calls went on without a database: $(cat "$dir/out2" "$dir/err2")"
  [ "$rc" -eq 1 ] || fail "strict: nyx run exited $rc without a database"
  grep -q "^failed	0" "$dir/out3" || fail "degrade: calls failed without a database: $(cat "$dir/out3" "$dir/err3")"
  grep -q "5 interaction records could not be written and are lost" "$dir/err3" ||
    fail "degrade: the lost records were not reported: $(cat "$dir/err3")"
  [ "$rc3" -eq 1 ] || fail "degrade: nyx run exited $rc3 although records were lost"
done
# degrade with a queue of 5 records: 200 calls made while the lock is held overflow it. The run exits 1,
# and `nyx stats` says how many records never reached the database (an audit event).
db5="$dir/small.db"
NYX_DB="$db5" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=1 > /dev/null 2>&1
rm -f "$dir/out5" "$dir/locked" "$dir/unlock"
set +e
NYX_DURABILITY=degrade NYX_PENDING_MAX=5 NYX_DB="$db5" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=3 "$NYX_BIN" run \
    "$here/degraded_run.lua" --var n=400 --var marker="$dir/locked" --var unlock="$dir/unlock" \
    2> "$dir/err5" | while read -r line; do
  echo "$line" >> "$dir/out5"
  if [ "$line" = LOCK ]; then hold_lock "$db5" & fi
done
rc5=${PIPESTATUS[0]}
set -e
wait
grep -q "^failed	0" "$dir/out5" || fail "degrade: calls failed: $(cat "$dir/out5" "$dir/err5")"
[ "$rc5" -eq 1 ] || fail "nyx run exited $rc5 although records were lost: $(cat "$dir/err5")"
grep -q "the queue of unwritten records is full" "$dir/err5" || fail "the overflow was not said: $(cat "$dir/err5")"
rows5=$(sqlite3 "$db5" "SELECT count(*) FROM llm_interactions")
"$NYX_BIN" stats --db "$db5" > "$dir/stats5"
lost5=$(sed -n 's/^records lost: \([0-9]*\) .*/\1/p' "$dir/stats5")
[ -n "$lost5" ] || fail "nyx stats did not count the lost records: $(cat "$dir/stats5")"
echo "degrade with a queue of 5, 200 calls under the lock: $rows5 records written, $lost5 lost and counted"
[ $((rows5 + lost5)) -eq 401 ] || fail "$rows5 records written + $lost5 lost is not the 401 calls made"

# The run ends while another process still holds the lock: the records that wait go to the
# spill file beside the database (none is lost, the run exits 0), and the next process to open
# the database writes them in and removes the file.
dbs="$dir/spill.db"
NYX_DB="$dbs" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=1 > /dev/null 2>&1
rm -f "$dir/out6" "$dir/locked" "$dir/unlock"
set +e
NYX_DURABILITY=degrade NYX_DB="$dbs" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=3 "$NYX_BIN" run \
    "$here/degraded_run.lua" --var n=300 --var marker="$dir/locked" 2> "$dir/err6" | while read -r line; do
  echo "$line" >> "$dir/out6"
  if [ "$line" = LOCK ]; then hold_lock "$dbs" & fi
done
rc6=${PIPESTATUS[0]}
set -e
[ -s "$dbs-pending" ] || fail "no spill file while the lock was held at the end: $(cat "$dir/err6")"
touch "$dir/unlock"
wait
grep -q "^failed	0" "$dir/out6" || fail "spill: calls failed: $(cat "$dir/out6" "$dir/err6")"
[ "$rc6" -eq 0 ] || fail "nyx run exited $rc6 although its records were spilled: $(cat "$dir/err6")"
grep -q "interaction records wait in $dbs-pending" "$dir/err6" || fail "the spill was not said: $(cat "$dir/err6")"
spilled=$(wc -l < "$dbs-pending")
"$NYX_BIN" stats --db "$dbs" > "$dir/stats6" 2> "$dir/err7"
[ ! -e "$dbs-pending" ] || fail "the spill file is still there after the next open: $(cat "$dir/err7")"
rows=$(sqlite3 "$dbs" "SELECT count(*) FROM llm_interactions")
echo "spill: $spilled records spilled at the end of the run, $rows in the database after the next open"
[ "$rows" -eq 301 ] || fail "expected 301 interactions after the spill was written in, found $rows"

# A malformed value is refused at start, naming the variable and the choices.
if NYX_DURABILITY=sometimes NYX_DB="$dir/x.db" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=1 \
    > /dev/null 2> "$dir/err4"; then fail "NYX_DURABILITY=sometimes was accepted"; fi
grep -q 'NYX_DURABILITY (storage.durability): must be one of strict|degrade, got "sometimes"' "$dir/err4" ||
  fail "the bad NYX_DURABILITY was not explained: $(cat "$dir/err4")"

# The database file deleted mid-run: the loss is noticed, and later records go to a new file.
db3="$dir/deleted.db"
rm -f "$dir/out3"
NYX_DB="$db3" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=3 "$NYX_BIN" run "$here/degraded_run.lua" --var n=600 \
    --var marker="$dir/gone" 2> "$dir/err3" | while read -r line; do
  echo "$line" >> "$dir/out3"
  if [ "$line" = LOCK ]; then rm -f "$db3" "$db3-wal" "$db3-shm"; touch "$dir/gone"; fi
done
grep -q "^failed	0" "$dir/out3" || fail "calls failed when the database file was deleted: $(cat "$dir/out3" "$dir/err3")"
grep -q "was deleted or replaced" "$dir/err3" || fail "the deleted database went unnoticed: $(cat "$dir/err3")"
[ -f "$db3" ] || fail "no new database file after the deletion"
rows=$(sqlite3 "$db3" "SELECT count(*) FROM llm_interactions")
[ "$rows" -ge 300 ] || fail "only $rows interactions reached the new database file"

# A database opened read-only (a mode=ro URI; for PostgreSQL, a role without the rights to write:
# tests/pg/read_only_role.sh): under strict no call is sent, the first failing with store_error
# that says why. The first call was sent and paid for, and only then its record refused.
"$NYX_BIN" sim --port 0 --ttft-ms 0 --token-ms 0 > "$dir/sim.out" 2>&1 &
sim=$!
for _ in $(seq 250); do grep -qs 'listening on' "$dir/sim.out" && break; sleep 0.02; done
url="http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$dir/sim.out" | head -1)"
echo 'require("nyx").call{ prompt = "x", max_tokens = 5 }' > "$dir/ro.lua"
rc=0
NYX_DB="file:$db?mode=ro" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=k ANTHROPIC_BASE_URL="$url" LLM_MAX_RETRIES=0 \
  "$NYX_BIN" run "$dir/ro.lua" > /dev/null 2> "$dir/err8" || rc=$?
sent=$(curl -s "$url/sim/requests?since=0" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')
kill "$sim"
[ "$sent" = 0 ] || fail "a run on a read-only database sent $sent request(s): $(cat "$dir/err8")"
[ "$rc" = 1 ] && grep -q "store_error: nothing was sent: store: file:$db?mode=ro is open read-only" "$dir/err8" ||
  fail "a run on a read-only database: rc=$rc $(cat "$dir/err8")"
echo "PASS"
