#!/usr/bin/env bash
# When storage fails, calls go on: a database locked by another process mid-run makes no call
# fail, and every interaction is written once the lock is gone; a database that cannot be
# opened at all loses records, and says how many.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

db="$dir/nyx.db"
# Create the database first, so the locker has a file to lock.
NYX_DB="$db" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=1 > /dev/null 2>&1
NYX_DB="$db" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=3 "$NYX_BIN" run "$here/degraded_run.lua" --var n=1000 \
    --var marker="$dir/locked" \
    2> "$dir/err" | while read -r line; do
  echo "$line" >> "$dir/out"
  if [ "$line" = LOCK ]; then
    # Another process holds the database's write lock for a second, mid-run.
    sqlite3 "$db" ".timeout 5000" "BEGIN EXCLUSIVE;" ".shell touch $dir/locked; sleep 1" "COMMIT;" &
  fi
done
wait
grep -q "^failed	0	degraded	true" "$dir/out" || fail "calls failed, or nyx did not report the degraded storage: $(cat "$dir/out") $(cat "$dir/err")"
grep -q "^after	false" "$dir/out" || fail "storage did not recover after the lock: $(cat "$dir/out")"
grep -q "storage failed" "$dir/err" || fail "no warning about the failed storage: $(cat "$dir/err")"
[ "$(grep -c "storage failed" "$dir/err")" -eq 1 ] || fail "the warning was given more than once"
rows=$(sqlite3 "$db" "SELECT count(*) FROM llm_interactions")
[ "$rows" -eq 1001 ] || fail "expected 1001 interactions in the database, found $rows"

# A database that cannot be opened: calls still succeed, and the loss is counted and said.
NYX_DB="$dir/missing/dir/nyx.db" NYX_PROVIDER=sim "$NYX_BIN" run "$here/degraded_run.lua" --var n=5 \
    > "$dir/out2" 2> "$dir/err2" || fail "the run failed without a database: $(cat "$dir/err2")"
grep -q "^failed	0" "$dir/out2" || fail "calls failed without a database"
grep -q "5 interaction records could not be written and are lost" "$dir/err2" ||
  fail "the lost records were not reported: $(cat "$dir/err2")"
# The database file deleted mid-run: the loss is noticed, and later records go to a new file.
db3="$dir/deleted.db"
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
echo "4 passed, 0 failed"
