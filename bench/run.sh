#!/usr/bin/env bash
# Runs every benchmark and prints its figures, one "name: value" per line.
# --short: a quick pass that proves each benchmark works (ctest runs this).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${NYX_BUILD_DIR:-$here/../build}
short=""
[ "${1:-}" = "--short" ] && short="--short"
export NYX_DB=:memory: NYX_PROVIDER=sim
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "# $(basename "$b")"
  "$b" $short
done
echo "# council (simulator, 300 ms to first token)"
NYX_SIM_TTFT_MS=300 NYX_SIM_TOKEN_MS=0.5 "$build/nyx" run "$here/council.lua" ${short:+--var short=1}
