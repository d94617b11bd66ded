#!/usr/bin/env bash
# Runs every benchmark and prints its figures, one "name: value" per line.
# --short: a quick pass that proves each benchmark works (ctest runs this).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${NYX_BUILD_DIR:-$here/../build}
short=""
[ "${1:-}" = "--short" ] && short="--short"
export NYX_DB=:memory: NYX_PROVIDER=sim
pg_dir="" sims=() scratch=()
stop_pg() { [ -z "$pg_dir" ] || bash "$here/../tests/pg/cluster.sh" stop "$pg_dir" >/dev/null || true; pg_dir=""; }
# One trap for all: a trap set later replaces an earlier one, which left the reliability
# section's `nyx sim` running after every run (ctest's bench/short included).
cleanup() {
  stop_pg
  for p in "${sims[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -f "${scratch[@]}"
}
trap cleanup EXIT
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "# $(basename "$b")"
  # bench_pg needs a PostgreSQL server: a throwaway one on loopback unless NYX_BENCH_PG names
  # one, started just before and stopped just after, so its disk writes time nothing else.
  if [ "$(basename "$b")" = bench_pg ] && [ -z "${NYX_BENCH_PG:-}" ] &&
     ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    pg_dir=$(mktemp -u /tmp/nyx-bench-pg.XXXXXX)
    # The server on every core but the first, which bench_pg's frames take for themselves
    # (bench_frames.h): a game's frame thread does not share its core with the database.
    others=""
    if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then others="taskset -c 1-$(($(nproc) - 1))"; fi
    NYX_BENCH_PG=$($others bash "$here/../tests/pg/cluster.sh" start "$pg_dir") "$b" $short
    stop_pg
    continue
  fi
  "$b" $short
done
echo "# workload (issue 19: 2,000 calls, 64 in flight, a 15 KB cached system prompt, nyx run on the default database against nyx sim over HTTP with zero delays)"
bash "$here/workload.sh" "$build" $short
echo "# council (simulator, 300 ms to first token)"
NYX_SIM_TTFT_MS=300 NYX_SIM_TOKEN_MS=0.5 "$build/nyx" run "$here/council.lua" ${short:+--var short=1}
echo "# agent policies (the call stubbed: the time a policy adds to a call)"
"$build/nyx" run "$here/agent.lua" ${short:+--var short=1}
echo "# council under tier-1 limits (nyx sim over HTTP: 50 RPM, 30,000 ITPM, 8,000 OTPM; 300 ms to first token)"
t1_out=$(mktemp); "$build/nyx" sim --port 0 --rpm 50 --itpm 30000 --otpm 8000 --ttft-ms 300 --token-ms 0.5 >"$t1_out" 2>&1 & t1_pid=$!
sims+=("$t1_pid") scratch+=("$t1_out")
for _ in $(seq 200); do grep -q 'listening on' "$t1_out" && break; sleep 0.05; done
NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key ANTHROPIC_BASE_URL="http://$(grep -o '127\.0\.0\.1:[0-9]*' "$t1_out" | head -1)" \
  "$build/nyx" run "$here/council_tier1.lua"
kill $t1_pid 2>/dev/null || true; wait $t1_pid 2>/dev/null || true; rm -f "$t1_out"
echo "# reliability (nyx sim over HTTP with injected faults; breaker cool-down 1 s)"
sim_out=$(mktemp); "$build/nyx" sim --port 0 >"$sim_out" 2>&1 & sim_pid=$!; sims+=("$sim_pid") scratch+=("$sim_out")
for _ in $(seq 200); do grep -q 'listening on' "$sim_out" && break; sleep 0.05; done
rel() { NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key ANTHROPIC_BASE_URL="http://$(grep -o '127\.0\.0\.1:[0-9]*' "$sim_out" | head -1)" NYX_BREAKER_COOLDOWN_SECONDS=1 "$@"; }
rel "$build/nyx" run "$here/reliability.lua" ${short:+--var short=1}
echo "# chat (nyx sim over HTTP: nyx's own cache marks against the API's automatic caching)"
rel "$build/nyx" run "$here/chat.lua" ${short:+--var short=1}
echo "# tool loop (nyx sim over HTTP, no delays: engine CPU per iteration; a 10-iteration loop with nyx's marks against automatic caching)"
rel "$build/nyx" run "$here/tools.lua" ${short:+--var short=1}
echo "# net (connections and TLS handshakes per 1,000 calls, 50 in flight: HTTP/2 against HTTP/1.1)"
bash "$here/net.sh" "$build" $short
echo "# batch (nyx sim over HTTP, batches processed in 1 s: 1,000 templated rows as one nyx.batch against standard calls)"
b_out=$(mktemp); b_db=$(mktemp -u /tmp/nyx-bench-batch.XXXXXX)
"$build/nyx" sim --port 0 --batch-ms 1000 --ttft-ms 5 --token-ms 0.02 >"$b_out" 2>&1 & b_pid=$!
sims+=("$b_pid") scratch+=("$b_out" "$b_db" "$b_db-wal" "$b_db-shm")
for _ in $(seq 200); do grep -q 'listening on' "$b_out" && break; sleep 0.05; done
NYX_DB="$b_db" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key ANTHROPIC_BASE_URL="http://$(grep -o '127\.0\.0\.1:[0-9]*' "$b_out" | head -1)" \
  "$build/nyx" run "$here/batch.lua" ${short:+--var short=1}
kill $b_pid 2>/dev/null || true; wait $b_pid 2>/dev/null || true; rm -f "$b_out" "$b_db"*
echo "# batch from the command line (nyx batch submit: 1,000 templated rows, the whole process under time(1))"
bash "$here/batch_cli.sh" "$build" $short
