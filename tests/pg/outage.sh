#!/usr/bin/env bash
# The PostgreSQL server stops as in a crash (immediate shutdown) while calls run and their
# records are being written, and starts again 2.5 s later. Two processes run meanwhile, one
# with every call under a session budget. Every result a script saw has its record in the
# database afterwards, once; budgeted calls wait for the server rather than fail, and go on
# once it is back; the budget ledger agrees with the logged costs; the recovery is reported.
# The server is this test's own (tests/pg/cluster.sh), so stopping it disturbs no other test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
chmod 755 "$dir" # the cluster's owner must reach its directory inside
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
      bash "$here/cluster.sh" stop "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
uri=$(bash "$here/cluster.sh" start "$dir/pg")
sql() { env -u LD_PRELOAD psql -q -X -t -A "$uri" -c "$1"; }
export NYX_DB="$uri" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=400
unset ANTHROPIC_API_KEY CLAUDE_API_KEY

for kind in free budget; do
  b=0; [ "$kind" = budget ] && b=1
  "$NYX_BIN" run "$here/outage_run.lua" --var n=400 --var budget=$b > "$dir/$kind.out" 2> "$dir/$kind.err" &
  pids+=($!)
done
for _ in $(seq 400); do grep -qs STOP "$dir/free.out" && grep -qs STOP "$dir/budget.out" && break; sleep 0.02; done
grep -q STOP "$dir/free.out" && grep -q STOP "$dir/budget.out" || fail "the runs did not start: $(cat "$dir"/*.err)"
t0=$(date +%s.%N)
bash "$here/cluster.sh" halt "$dir/pg"
sleep 2.5
bash "$here/cluster.sh" resume "$dir/pg"
t1=$(date +%s.%N)
for k in 0 1; do wait "${pids[$k]}" || fail "a run failed: $(cat "$dir"/*.err)"; done
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "outage: server down %.1f s; the runs went on %.1f s after it was back\n", b - a, c - b }'

for kind in free budget; do
  grep -q "^ok	400	failed	0$" "$dir/$kind.out" || fail "$kind: calls failed: $(tail -n 1 "$dir/$kind.out") $(head -n 5 "$dir/$kind.err")"
  grep -q "storage failed" "$dir/$kind.err" || fail "$kind: the outage went unnoticed (it must happen mid-run): $(cat "$dir/$kind.err")"
  grep -q "storage is back" "$dir/$kind.err" || fail "$kind: the recovery was not reported: $(cat "$dir/$kind.err")"
  ! grep -q "are lost" "$dir/$kind.err" || fail "$kind: records were lost: $(cat "$dir/$kind.err")"
  grep '^ID ' "$dir/$kind.out" | cut -d' ' -f2 > "$dir/$kind.ids"
done
cat "$dir/free.ids" "$dir/budget.ids" | sed "s/.*/'&'/" | paste -sd, > "$dir/list"
seen=$(cat "$dir/free.ids" "$dir/budget.ids" | wc -l)
stored=$(sql "SELECT count(DISTINCT id) FROM llm_interactions WHERE id IN ($(cat "$dir/list"))")
rows=$(sql "SELECT count(*) FROM llm_interactions")
echo "outage: $seen results seen, $stored of them in the log, $rows rows in all"
[ "$seen" -eq 800 ] || fail "the scripts saw $seen results, not 800"
[ "$stored" -eq "$seen" ] || fail "$((seen - stored)) records whose result a script saw are missing"
[ "$rows" -eq 800 ] || fail "$rows rows for 800 calls"
spent=$(sql "SELECT spent_usd FROM budgets WHERE scope = 'session:outage'")
reserved=$(sql "SELECT reserved_usd FROM budgets WHERE scope = 'session:outage'")
logged=$(sql "SELECT sum(cost_usd) FROM llm_interactions WHERE session = 'outage'")
awk -v r="$reserved" 'BEGIN { exit !(r == 0) }' || fail "reservations left behind: $reserved"
awk -v s="$spent" -v l="$logged" 'BEGIN { d = s - l; exit !(d < 1e-9 && d > -1e-9) }' ||
  fail "the ledger ($spent) and the logged costs ($logged) disagree"
echo "PASS"
