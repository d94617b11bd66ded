#!/usr/bin/env bash
# Issue 19's workload side by side: 2,000 calls, 64 in flight, the same 15 KB cached system
# prompt and a different question each, against one `nyx sim` over HTTP on loopback with zero
# delays: through the official TypeScript SDK (@anthropic-ai/sdk from the npm registry,
# installed into a scratch folder) and through `nyx run` (default database and storage mode:
# every call durably logged and redacted, which the SDK does not do). Prints CPU per call
# (user + system of the whole process), calls per second and peak RSS for both; the runs
# alternate, twice each. Not part of ctest (it needs the registry).
# Usage: bench/compare.sh [BUILD_DIR] [CALLS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
calls=${2:-2000}
inflight=64
for cmd in node npm; do
  command -v "$cmd" >/dev/null || { echo "compare: skipped ($cmd is not installed)"; exit 0; }
done
[ -x /usr/bin/time ] || { echo "compare: skipped (GNU time is not installed)"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-bench-compare.XXXXXX")
sim_pid=""
cleanup() { [ -z "$sim_pid" ] || { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }; rm -rf "$work"; }
trap cleanup EXIT
(cd "$work" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund --silent @anthropic-ai/sdk >npm.log 2>&1) ||
  { echo "compare: skipped (npm could not install @anthropic-ai/sdk: $(tail -1 "$work/npm.log"))"; exit 0; }
sdk_version=$(node -p "require('$work/node_modules/@anthropic-ai/sdk/package.json').version")
"$build/nyx" sim --port 0 --ttft-ms 0 --token-ms 0 --api-key bench-key >"$work/sim.out" 2>&1 & sim_pid=$!
for _ in $(seq 200); do grep -qs 'listening on' "$work/sim.out" && break; sleep 0.05; done
url="http://$(grep -Eo '127\.0\.0\.1:[0-9]+' "$work/sim.out" | head -1)"
NYX_PROVIDER=sim "$build/nyx" run "$here/workload.lua" --var print_system=1 >"$work/system.txt" 2>/dev/null

cat >"$work/sdk.js" <<'JS'
// The workload through the SDK: workers that each await one call at a time, as nyx's tasks do.
const Anthropic = require("@anthropic-ai/sdk").default;
const fs = require("fs");
const [url, n, k, systemFile] = [process.argv[2], +process.argv[3], +process.argv[4], process.argv[5]];
const system = fs.readFileSync(systemFile, "utf8");
const client = new Anthropic({ apiKey: "bench-key", baseURL: url });
let next = 1, failed = 0;
async function worker() {
  while (next <= n) {
    const i = next++;
    try {
      await client.messages.create({
        model: "claude-haiku-5-5", max_tokens: 16,
        system: [{ type: "text", text: system, cache_control: { type: "ephemeral" } }],
        messages: [{ role: "user", content: `Question ${i}: where is order ${(i * 7919) % 100000}?` }],
      });
    } catch (e) { failed++; }
  }
}
const t0 = process.hrtime.bigint();
Promise.all(Array.from({ length: k }, worker)).then(() => {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`calls_per_second: ${(n / s).toFixed(0)}`);
  if (failed) { console.log(`failed: ${failed}`); process.exit(1); }
});
JS

# report LABEL CALLS TIMEFILE OUTFILE
report() {
  grep -h 'calls_per_second' "$4" | sed "s/^calls_per_second/$1_calls_per_second/"
  read -r user sys rss_kb _ <"$3"
  awk -v l="$1" -v u="$user" -v s="$sys" -v r="$rss_kb" -v n="$2" 'BEGIN {
    printf "%s_cpu_per_call_us: %.1f (user %.2f s + system %.2f s)\n", l, (u + s) / n * 1e6, u, s
    printf "%s_peak_rss_mb: %.1f\n", l, r / 1024 }'
}
echo "# $calls calls, $inflight in flight, against nyx sim on loopback (zero delays); SDK $sdk_version, node $(node --version)"
run_sdk() {
  (cd "$work" && NODE_PATH="$work/node_modules" /usr/bin/time -f '%U %S %M %e' -o "$work/sdk.time" \
     node "$work/sdk.js" "$url" "$calls" "$inflight" "$work/system.txt") >"$work/sdk.out"
  report "sdk_run$1" "$calls" "$work/sdk.time" "$work/sdk.out"
}
run_nyx() {
  rm -rf "$work/nyx$1" && mkdir "$work/nyx$1"
  (cd "$work/nyx$1" && env -u NYX_DB -u NYX_STORAGE_MODE NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key \
     ANTHROPIC_BASE_URL="$url" /usr/bin/time -f '%U %S %M %e' -o "$work/nyx.time" \
     "$build/nyx" run "$here/workload.lua" --var calls="$calls" --var inflight="$inflight") >"$work/nyx.out"
  report "nyx_run$1" "$calls" "$work/nyx.time" "$work/nyx.out"
}
# Each goes first once: a run straight after the other's busy seconds measures slower on a shared
# machine (here up to a tenth), so a fixed order would favour whichever always ran first.
run_sdk 1; run_nyx 1
run_nyx 2; run_sdk 2
