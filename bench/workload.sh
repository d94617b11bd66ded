#!/usr/bin/env bash
# Issue 19's workload through `nyx run` against `nyx sim` over HTTP on loopback with zero
# delays (a separate process, so every CPU second measured here is the engine's): 2,000 calls
# with 64 in flight (five runs, their median), then with 1,000 in flight, then (full mode only) 100,000 calls with the
# resident memory after 10k, 50k and 100k, and 12,000 calls over 1,000 different prompts. Each run starts in an empty directory, so nyx uses
# its default database (./nyx.db) and storage mode (redacted). The process's CPU (user +
# system) and peak RSS come from GNU time; the script prints its rate and its own figures.
# Usage: bench/workload.sh BUILD_DIR [--short]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
short=${2:-}
[ -x /usr/bin/time ] || { echo "workload: skipped (GNU time is not installed)"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-bench-workload.XXXXXX")
sim_pid=""
cleanup() { [ -z "$sim_pid" ] || { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }; rm -rf "$work"; }
trap cleanup EXIT
"$build/nyx" sim --port 0 --ttft-ms 0 --token-ms 0 --api-key bench-key >"$work/sim.out" 2>&1 & sim_pid=$!
for _ in $(seq 200); do grep -qs 'listening on' "$work/sim.out" && break; sleep 0.05; done
url="http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$work/sim.out" | head -1)"

# run LABEL CALLS INFLIGHT [MARKS [PROMPTS]]: one `nyx run` in a fresh directory; prints its
# figures.
run() {
  local label=$1 calls=$2 inflight=$3 marks=${4:-} prompts=${5:-}
  local dir="$work/$label"
  mkdir -p "$dir"
  (cd "$dir" && env -u NYX_DB -u NYX_STORAGE_MODE NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key \
     ANTHROPIC_BASE_URL="$url" /usr/bin/time -f '%U %S %M %e' -o "$dir/time" \
     "$build/nyx" run "$here/workload.lua" --var calls="$calls" --var inflight="$inflight" \
     ${marks:+--var marks=$marks} ${prompts:+--var prompts=$prompts}) >"$dir/out"
  sed "s/^/${label}_/" "$dir/out"
  read -r user sys rss_kb elapsed <"$dir/time"
  local db_bytes
  db_bytes=$(cat "$dir"/nyx.db* 2>/dev/null | wc -c)
  awk -v l="$label" -v u="$user" -v s="$sys" -v r="$rss_kb" -v n="$calls" -v e="$elapsed" -v d="$db_bytes" 'BEGIN {
    printf "%s_cpu_per_call_us: %.1f (user %.2f s + system %.2f s, the whole process)\n", l, (u + s) / n * 1e6, u, s
    printf "%s_calls_per_cpu_second: %.0f\n", l, n / (u + s)
    printf "%s_peak_rss_mb: %.1f\n", l, r / 1024
    printf "%s_wall_s: %.2f\n", l, e
    printf "%s_db_bytes_per_call: %.0f\n", l, d / n }'
}
# startup LABEL RUNS FRESH: the CPU of a `nyx run` whose script only loads nyx (what every run
# pays before its first call: loading libraries, the engine, the database, the Lua library),
# averaged over RUNS runs under one time(1), in a new database each run (FRESH=1) or one that
# exists; a 2,000-call run pays it once, a `nyx ask` every time.
startup() {
  local label=$1 runs=$2 fresh=$3 dir="$work/$1"
  mkdir -p "$dir"
  echo 'local nyx = require "nyx"' >"$dir/start.lua"
  (cd "$dir" && env -u NYX_DB -u NYX_STORAGE_MODE NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key \
     ANTHROPIC_BASE_URL="$url" /usr/bin/time -f '%U %S' -o "$dir/time" bash -c '
       for _ in $(seq "$1"); do
         [ "$2" = 1 ] && rm -f nyx.db nyx.db-wal nyx.db-shm
         "$3" run start.lua || exit 1
       done' _ "$runs" "$fresh" "$build/nyx")
  read -r user sys <"$dir/time"
  awk -v l="$label" -v u="$user" -v s="$sys" -v n="$runs" \
    'BEGIN { printf "%s_cpu_ms: %.1f (the mean of %d runs)\n", l, (u + s) / n * 1e3, n }'
}
if [ -n "$short" ]; then
  run workload_64 200 64
  startup startup_new_db 2 1
  exit 0
fi
# repeated LABEL RUNS CALLS INFLIGHT: RUNS (odd) runs of `run`, each figure printed as the
# median of the runs (the machine's other work makes a single 0.2 s run swing by a third), the CPU figures
# also with every run's value, so a slow phase shows as what it is.
repeated() {
  local label=$1 runs=$2 calls=$3 inflight=$4 all="$work/$1.all"
  for r in $(seq "$runs"); do run "${label}" "$calls" "$inflight" >>"$all"; rm -rf "${work:?}/$label"; done
  awk -v runs="$runs" '
    { key = $1; sub(/:$/, "", key); v = $2 + 0; rest = $0; sub(/^[^ ]+ [^ ]+ ?/, "", rest)
      if (!(key in n)) order[++keys] = key
      vals[key, ++n[key]] = v; note[key] = rest; text[key, n[key]] = $2 }
    END {
      for (k = 1; k <= keys; k++) {
        key = order[k]; m = n[key]
        for (i = 1; i <= m; i++) s[i] = vals[key, i]
        for (i = 2; i <= m; i++) for (j = i; j > 1 && s[j - 1] > s[j]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
        med = s[int((m + 1) / 2)]
        for (i = 1; i <= m; i++) if (vals[key, i] == med) { shown = text[key, i]; break }
        if (key ~ /_calls$/) { print key ": " text[key, 1] " " note[key]; continue }
        line = key ": " shown
        if (key ~ /cpu_per_call_us/) {
          list = ""; for (i = 1; i <= m; i++) list = list (i > 1 ? " " : "") text[key, i]
          line = line " (the median of " runs " runs: " list ")"
        }
        print line
      }
    }' "$all"
}
startup startup_new_db 20 1
startup startup_existing_db 20 0
repeated workload_64 5 2000 64
run workload_1000 2000 1000
run workload_100k 100000 64 10000,50000,100000
# 1,000 different system prompts of 15 KB taken in turn (a prompt per customer, say): memory
# must stay that of the prompts the script holds (15 MB) and a bounded set of their copies.
run workload_1000_prompts 12000 64 4000,12000 1000
