#!/usr/bin/env bash
# Makes the report README.md shows (docs/report.png): a few sessions of calls against the
# built-in simulator (cached context, two models, agents, a budget, an error), `nyx report` over
# them, and a screenshot of the page in headless Chromium (scripts/report_browser.js). The
# e2e test tests/e2e/report_browser.sh runs this same script and checks what it leaves.
# Usage: scripts/report_screenshot.sh [OUT.png [WORK_DIR]]
#   OUT.png   where the screenshot goes (default docs/report.png)
#   WORK_DIR  kept after the run: nyx.db, report.html and browser.json (what the page showed);
#             by default a scratch directory that is removed
# Needs the nyx command ($NYX_BIN, default build/nyx), node and chromium ($CHROMIUM).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(cd "$here/.." && pwd)/docs/report.png}
nyx_bin=${NYX_BIN:-$here/../build/nyx}
chromium=${CHROMIUM:-$(command -v chromium || true)}
[[ -x "$nyx_bin" ]] || { echo "report_screenshot: no nyx command at $nyx_bin (build first, or set NYX_BIN)" >&2; exit 1; }
[[ -n "$chromium" ]] || { echo "report_screenshot: chromium is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
command -v node >/dev/null || { echo "report_screenshot: node is not installed" >&2; exit 1; }

if [[ -n "${2:-}" ]]; then
  work=$2
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-report-shot.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
rm -f "$work/nyx.db" "$work/report.html" "$work/browser.json"

# Only what this run gives: the simulator (no API key), a database of its own.
nyx() {
  env -i "PATH=$PATH" "HOME=${HOME:-/tmp}" "NYX_DB=$work/nyx.db" "NYX_SIM_TTFT_MS=5" "NYX_SIM_TOKEN_MS=0.02" \
    ${NYX_CHARTJS:+"NYX_CHARTJS=$NYX_CHARTJS"} "$nyx_bin" "$@"
}

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
local context = string.rep("The product brief every reviewer reads first. ", 250)
nyx.budget.limit("day", 5)
for _, name in ipairs { "launch-review", "pricing", "support-triage" } do
  local s <close> = nyx.session { name = name }
  for i = 1, 4 do
    nyx.call { system = { { text = context, cache = true } }, prompt = "question " .. i, max_tokens = 40,
               session = s, agent = ({ "planner", "writer", "critic", "writer" })[i] }
  end
  nyx.call { model = "claude-sonnet-5-5", prompt = "summarise the session", max_tokens = 60, session = s,
             agent = "editor" }
end
pcall(nyx.call, { model = "claude-nope-1", prompt = "x", max_tokens = 5, session = "pricing" })
LUA
nyx config set alert.cache_hit_rate_floor 0.6 >/dev/null
nyx run --quiet "$work/calls.lua" >/dev/null
nyx report --out "$work/report.html" >/dev/null
node "$here/report_browser.js" "$chromium" "$work/report.html" "$out" >"$work/browser.json"
echo "wrote $out"
