#!/usr/bin/env bash
# nyx report as a browser shows it: scripts/report_screenshot.sh (which makes README's
# docs/report.png) runs calls, writes the report and opens it in headless Chromium. Every
# chart's canvas is drawn, each bar and point in its dataset's colour where Chart.js placed
# it; the totals the page shows are those `nyx stats` prints; the page asks for nothing but
# itself (names resolve to nothing, so a fetch would show); the screenshot is a PNG of the
# page. The same check fails on a page whose Chart.js draws nothing.
set -uo pipefail

unset LD_PRELOAD
chromium=${CHROMIUM:-$(command -v chromium || true)}
if [[ -z "$chromium" ]]; then
  echo "ok - # SKIP chromium is not installed (scripts/setup.sh installs Debian's chromium): the page is not opened"
  exit 0
fi
if ! command -v node >/dev/null; then
  echo "ok - # SKIP node is not installed (scripts/setup.sh installs it): Chromium cannot be driven"
  exit 0
fi
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1

NYX_BIN=$NYX_BIN CHROMIUM=$chromium bash "$NYX_SOURCE_DIR/scripts/report_screenshot.sh" "$work/shot.png" "$work" \
  >"$work/out" 2>"$work/err"
rc=$?
[[ $rc == 0 && -s "$work/browser.json" && -s "$work/shot.png" ]]
check "scripts/report_screenshot.sh runs the calls, writes the report and opens it in Chromium" $? \
  "rc=$rc $(tail -n 20 "$work/err")"

run_nyx stats
stats_text=$out
python3 - "$work/browser.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
fails = []
if not d["drawn"]:
    fails.append("the page's script did not finish")
if d["errors"]:
    fails.append("script errors: %s" % d["errors"])
want = {"c-cost-day", "c-hit-day", "c-latency", "c-cost-model", "c-errors", "c-agents"}
got = {c["id"] for c in d["canvases"]}
if got != want:
    fails.append("canvases %s, want %s" % (sorted(got), sorted(want)))
for c in d["canvases"]:
    if c["width"] < 200 or c["height"] < 100 or c["painted"] < 2000:
        fails.append("%s is blank or tiny: %s" % (c["id"], c))
    elif not c["chart"] or c["elements"] < 1 or c["matched"] != c["elements"]:
        fails.append("%s: %d of %d data elements drawn in their colour" % (c["id"], c["matched"], c["elements"]))
if fails:
    print("\n".join(fails)); sys.exit(1)
PY
check "every chart's canvas is drawn: each bar and point in its dataset's colour" $? "$(head -c 2000 "$work/browser.json")"

# The totals row as the page shows it, against `nyx stats`'s table (dollars to 4 places there,
# "$" before them here).
python3 - "$work/browser.json" "$stats_text" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
lines = [l.split() for l in sys.argv[2].splitlines() if l.strip()]
stats = dict(zip(lines[0], lines[1]))
page = dict(zip(t["head"], t["row"]))
pairs = [("calls", "calls"), ("errors", "errors"), ("hit rate", "hit_rate"), ("input", "input"),
         ("output", "output"), ("cache read", "cache_read"), ("cache write", "cache_write"),
         ("cost", "cost_usd"), ("saved", "saved_usd")]
fails = ["%s: page %r, nyx stats %r" % (p, page.get(p), stats.get(s)) for p, s in pairs
         if page.get(p, "").lstrip("$") != stats.get(s)]
if stats.get("calls") != "16" or stats.get("errors") != "1":
    fails.append("nyx stats: %s" % stats)
if fails:
    print("\n".join(fails)); sys.exit(1)
PY
check "the totals the page shows are nyx stats' (16 calls, 1 error)" $? "$stats_text"

python3 - "$work/browser.json" "$work/report.html" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["requests"] == ["file://" + os.path.realpath(sys.argv[2])] else 1)
PY
check "opening the page requests nothing but the file itself" $? "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/browser.json")"

python3 - "$work/shot.png" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
ok = b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
w, h = struct.unpack(">II", b[16:24]) if ok else (0, 0)
# a blank page of that size compresses to a few KB; charts and text do not
sys.exit(0 if ok and w >= 1000 and h >= 900 and 20000 < len(b) < 300000 else 1)
PY
check "the screenshot is a PNG of the page, charts included, under 300 KB" $? "$(ls -l "$work/shot.png")"

# The check itself: a Chart.js that draws nothing leaves blank canvases, and they are seen.
cat >"$work/blank-chart.js" <<'JS'
function Chart() {}
Chart.defaults = {};
Chart.getChart = function () { return undefined; };
JS
run_nyx NYX_CHARTJS="$work/blank-chart.js" -- report --out "$work/blank.html"
node "$NYX_SOURCE_DIR/scripts/report_browser.js" "$chromium" "$work/blank.html" >"$work/blank.json" 2>"$work/err"
python3 - "$work/blank.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["drawn"] and all(c["painted"] == 0 and not c["chart"] for c in d["canvases"]) else 1)
PY
check "a page whose charts draw nothing is seen as blank" $? "$(cat "$work/err" "$work/blank.json" | head -c 1500)"

finish
