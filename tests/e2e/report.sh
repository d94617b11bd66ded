#!/usr/bin/env bash
# nyx report writes one self-contained HTML file: Chart.js embedded (no script or stylesheet
# fetched from anywhere, no address in it but Chart.js's licence banners), the data as JSON
# whose totals equal `nyx stats --json` (with and without --session), per-day rows summing to
# them; the page's own script, run under node against a stand-in DOM and Chart, draws every
# chart with data and fills every table; --since keeps the calls from then on, as nyx stats
# --since does. Without Chart.js it fails and leaves no file; a bad argument is a usage error.
# (tests/e2e/report_browser.sh opens the page in Chromium.)
set -uo pipefail

unset LD_PRELOAD
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1
nyx() {
  env -i "PATH=$PATH" "HOME=${HOME:-/tmp}" "NYX_DB=$work/nyx.db" "NYX_SIM_TTFT_MS=5" "NYX_SIM_TOKEN_MS=0.02" \
    ${NYX_CHARTJS:+"NYX_CHARTJS=$NYX_CHARTJS"} "$NYX_BIN" "$@"
}

cat >"$work/calls.lua" <<'LUA'
local nyx = require "nyx"
local context = string.rep("The shared context of this report's test. ", 200)
nyx.budget.limit("day", 5)
for _, name in ipairs { "alpha", "beta" } do
  local s <close> = nyx.session { name = name }
  for i = 1, 3 do
    nyx.call { system = { { text = context, cache = true } }, prompt = "q" .. i, max_tokens = 20,
               session = s, agent = i == 1 and "planner" or "writer" }
  end
  nyx.call { model = "claude-sonnet-4-5", prompt = "one more", max_tokens = 20, session = s }
end
pcall(nyx.call, { model = "claude-nope-1", prompt = "x", max_tokens = 5, session = "beta" })
LUA
nyx run --quiet "$work/calls.lua" >/dev/null 2>"$work/run.err"
check "the calls ran" $? "$(cat "$work/run.err")"

nyx report --out "$work/r.html" >"$work/out" 2>"$work/err"
rc=$?
[[ $rc == 0 && -s "$work/r.html" && ! -e "$work/r.html.tmp" ]]
check "nyx report writes the file" $? "rc=$rc $(cat "$work/err")"

python3 - "$work/r.html" <<'PY'
import re, sys
html = open(sys.argv[1]).read()
fails = []
if re.search(r"<script[^>]*\bsrc\s*=", html, re.I):
    fails.append("a script is loaded from elsewhere")
if re.search(r"<link\b|@import|url\(\s*['\"]?https?:", html, re.I):
    fails.append("a stylesheet or resource is fetched")
if "Chart.js v" not in html:
    fails.append("Chart.js is not embedded")
# No address at all, but in the licence banners (/*! ... */) Chart.js keeps with its code.
urls = re.findall(r"https?://[^\s\"'<>)]*", re.sub(r"/\*!.*?\*/", "", html, flags=re.S))
if urls:
    fails.append("addresses in the page: %s" % urls[:5])
if fails:
    print("\n".join(fails)); sys.exit(1)
PY
check "the page is self-contained: Chart.js embedded, no address outside its licence banners" $?

# data KEY FILE: the JSON rows the page holds under KEY
data() {
  python3 - "$2" "$1" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
d = json.loads(re.search(r'<script type="application/json" id="nyx-data">(.*?)</script>', html, re.S).group(1))
for row in d[sys.argv[2]]:
    print(json.dumps(row, sort_keys=True))
PY
}
stats_json() { nyx stats "$@" --json | python3 -c 'import json,sys; [print(json.dumps(json.loads(l), sort_keys=True)) for l in sys.stdin]'; }

stats_json >"$work/stats.total"
data total "$work/r.html" >"$work/page.total"
diff "$work/stats.total" "$work/page.total" >/dev/null && grep -q '"calls": 9' "$work/page.total"
check "the page's totals are nyx stats --json's (9 calls)" $? "$(diff "$work/stats.total" "$work/page.total")"

for by in model agent session template day; do
  stats_json --by "$by" >"$work/stats.$by"
  data "$by" "$work/r.html" >"$work/page.$by"
  diff "$work/stats.$by" "$work/page.$by" >/dev/null
  check "the page's rows by $by are nyx stats --by $by's" $? "$(diff "$work/stats.$by" "$work/page.$by")"
done
python3 - "$work/page.day" "$work/page.total" <<'PY'
import json, sys
days = [json.loads(l) for l in open(sys.argv[1])]
total = json.loads(open(sys.argv[2]).read())
ok = sum(d["calls"] for d in days) == total["calls"] and abs(sum(d["cost_usd"] for d in days) - total["cost_usd"]) < 1e-9
sys.exit(0 if ok and days else 1)
PY
check "the days add up to the totals" $?

nyx log --json >"$work/log.json"
python3 - "$work/r.html" "$work/log.json" <<'PY'
import json, math, re, sys
html = open(sys.argv[1]).read()
d = json.loads(re.search(r'<script type="application/json" id="nyx-data">(.*?)</script>', html, re.S).group(1))
log = [json.loads(l) for l in open(sys.argv[2])]
lat, errs = {}, {}
for r in log:
    if r["status"] == "ok" and r["latency_ms"] is not None:
        lat.setdefault(r["model"], []).append(r["latency_ms"])
    elif r["status"] != "ok":
        k = r["error_type"] or r["status"]
        errs[k] = errs.get(k, 0) + 1
def q(s, p): return s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))]
want = [{"group": m, "calls": len(s), "p50": q(s, 0.5), "p95": q(s, 0.95), "max": s[-1]}
        for m, s in ((m, sorted(lat[m])) for m in sorted(lat))]
sys.exit(0 if "log" not in d and d["latency"] == want and len(want) >= 2 and
         d["errors"] == [{"group": k, "calls": errs[k]} for k in sorted(errs)] and errs else 1)
PY
check "latency per model and errors per type are nyx log's, as their rows, not a row a call" $?

nyx report --session alpha --out "$work/alpha.html" >/dev/null 2>"$work/err"
stats_json --session alpha >"$work/stats.alpha"
data total "$work/alpha.html" >"$work/page.alpha"
diff "$work/stats.alpha" "$work/page.alpha" >/dev/null && grep -q '"calls": 4' "$work/page.alpha"
check "--session: the totals are nyx stats --session's" $? "$(cat "$work/err"; diff "$work/stats.alpha" "$work/page.alpha")"

if command -v node >/dev/null; then
  node "$NYX_SOURCE_DIR/tests/e2e/report_page.js" "$work/r.html" >"$work/drawn.json" 2>"$work/node.err"
  python3 - "$work/drawn.json" "$work/page.total" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
total = json.loads(open(sys.argv[2]).read())
fails = []
if not d["drawn"]:
    fails.append("the script did not finish")
want = {"c-cost-day", "c-hit-day", "c-latency", "c-cost-model", "c-errors", "c-agents"}
got = {c["canvas"] for c in d["charts"]}
if got != want:
    fails.append("charts %s, want %s" % (sorted(got), sorted(want)))
for c in d["charts"]:
    if not c["labels"] or not any(v is not None for s in c["datasets"] for v in s["data"]):
        fails.append("chart %s has no data" % c["canvas"])
t = d["tables"]
if t["totals"]["rows"][0][1] != str(total["calls"]):
    fails.append("totals table says %s calls" % t["totals"]["rows"][0][1])
if sum(int(r[1]) for r in t["t-errors"]["rows"]) != total["errors"] or total["errors"] < 1:
    fails.append("errors by type: %s" % t["t-errors"]["rows"])
if len(t["t-latency"]["rows"]) < 2:
    fails.append("latency per model: %s" % t["t-latency"]["rows"])
if t["t-top"]["rows"][0][0] not in ("alpha", "beta"):
    fails.append("most expensive sessions: %s" % t["t-top"]["rows"])
if not t["t-budget"]["rows"]:
    fails.append("no budget rows")
if fails:
    print("\n".join(fails)); sys.exit(1)
PY
  check "the page's script draws every chart with data and fills every table" $? "$(cat "$work/node.err")"
else
  echo "ok - # SKIP node is not installed: the page's script is not run"
fi

# drawn_report NAME CHECK [VAR=value...]: runs $work/NAME.lua on a database of its own (the
# variables set, nothing else of the environment), draws its report under node into
# $work/NAME.json (CHECK says it was drawn) and writes nyx stats --json to $work/NAME.stats.
drawn_report() {
  local name=$1 what=$2
  shift 2
  local own=(env -i "PATH=$PATH" "HOME=${HOME:-/tmp}" "NYX_DB=$work/$name.db" "$@"
             ${NYX_CHARTJS:+"NYX_CHARTJS=$NYX_CHARTJS"} "$NYX_BIN")
  "${own[@]}" run --quiet "$work/$name.lua" >/dev/null 2>"$work/run.err" &&
    "${own[@]}" report --out "$work/$name.html" >/dev/null 2>>"$work/run.err" &&
    node "$NYX_SOURCE_DIR/tests/e2e/report_page.js" "$work/$name.html" >"$work/$name.json" 2>>"$work/run.err"
  check "$what" $? "$(cat "$work/run.err")"
  "${own[@]}" stats --json >"$work/$name.stats"
}

# Message Batches: what they saved against standard prices is in every table, as nyx stats says
# it ("batches: N calls at batch prices, ... saved $X against standard prices").
if command -v node >/dev/null; then
  cat >"$work/batch.lua" <<'LUA'
local nyx = require "nyx"
local reqs = {}
for i = 1, 3 do reqs[i] = { id = "r" .. i, prompt = "classify ticket " .. i, max_tokens = 40 } end
for _ in nyx.batch{ requests = reqs }:results() do end
nyx.call { prompt = "a standard call", max_tokens = 20 }
LUA
  drawn_report batch "a batch's report is drawn" NYX_SIM_BATCH_MS=100 NYX_SIM_TTFT_MS=5 NYX_SIM_TOKEN_MS=0.02
  python3 - "$work/batch.json" "$work/batch.stats" <<'PY'
import json, math, sys
t = json.load(open(sys.argv[1]))["tables"]
s = json.loads(open(sys.argv[2]).read())
fails = []
def money(v):  # the page's: four places, two significant digits below $0.0001
    a = abs(v)
    return "$%.*f" % (min(20, 1 - math.floor(math.log10(a))) if 0 < a < 1e-4 else 4, v)
for table in ("totals", "t-model", "t-day"):
    head, rows = t[table]["head"], t[table]["rows"]
    if "batch calls" not in head or "saved by batch" not in head:
        fails.append("%s has no batch columns: %s" % (table, head))
        continue
    row = dict(zip(head, rows[0]))
    if row["batch calls"] != str(s["batch_calls"]) or row["saved by batch"] != money(s["batch_saved_usd"]):
        fails.append("%s: %s, nyx stats %s calls, $%.4f" % (table, row, s["batch_calls"], s["batch_saved_usd"]))
if s["batch_calls"] != 3 or s["calls"] != 4 or s["batch_saved_usd"] <= 0:
    fails.append("nyx stats: %s" % s)
if fails:
    print("\n".join(fails)); sys.exit(1)
PY
  check "the page shows the batch calls and what they saved, as nyx stats does (3 of 4 calls)" $? \
    "$(cat "$work/batch.stats")"
else
  echo "ok - # SKIP node is not installed: the page's script is not run"
fi

# A report of cheap calls: one call of a small model costs millionths of a dollar, which the
# page showed as $0.0000 in every cost column; it shows them with two significant digits.
if command -v node >/dev/null; then
  printf 'local nyx = require "nyx"\nnyx.call{ prompt = "one cheap call", max_tokens = 5 }\n' >"$work/cheap.lua"
  drawn_report cheap "a report of one cheap call is drawn"
  python3 - "$work/cheap.json" "$work/cheap.stats" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tables"]
s = json.loads(open(sys.argv[2]).read())
row = dict(zip(t["totals"]["head"], t["totals"]["rows"][0]))
want = "$%.2g" % s["cost_usd"]  # two significant digits of a cost below $0.0001
fails = []
if not 0 < s["cost_usd"] < 1e-4:
    fails.append("not a cheap call: %s" % s)
elif float(row["cost"][1:]) != float(want[1:]) or row["cost"] == "$0.0000":
    fails.append("cost %s, nyx stats %r" % (row["cost"], s["cost_usd"]))
if fails:
    print("\n".join(fails)); sys.exit(1)
PY
  check "the page shows a cost below \$0.0001 with its digits, as nyx stats --json has it" $? "$(cat "$work/cheap.stats")"
else
  echo "ok - # SKIP node is not installed: the page's script is not run"
fi

# --since: a later instant leaves the calls before it out, as nyx stats --since does.
sleep 1.1
since=$(date -u +%Y-%m-%dT%H:%M:%S)
sleep 1.1
cat >"$work/later.lua" <<'LUA'
local nyx = require "nyx"
for i = 1, 2 do nyx.call { prompt = "later " .. i, max_tokens = 10, session = "gamma" } end
LUA
nyx run --quiet "$work/later.lua" >/dev/null 2>"$work/run.err"
nyx report --since "$since" --out "$work/since.html" >/dev/null 2>>"$work/run.err"
stats_json --since "$since" >"$work/stats.since"
data total "$work/since.html" >"$work/page.since"
nyx report --since "$(date -u -d yesterday +%Y-%m-%d)" --out "$work/today.html" >/dev/null 2>>"$work/run.err"
data total "$work/today.html" >"$work/page.today"
diff "$work/stats.since" "$work/page.since" >/dev/null && grep -q '"calls": 2' "$work/page.since" &&
  grep -q '"calls": 11' "$work/page.today" && grep -q "since $since" "$work/since.html"
check "--since: only the calls from then on (2 of 11), as nyx stats --since counts them" $? \
  "$(cat "$work/run.err" "$work/page.since" "$work/page.today")"

rm -f "$work/none.html"
NYX_CHARTJS=$work/no-such-chart.js nyx report --out "$work/none.html" >/dev/null 2>"$work/err"
rc=$?
[[ $rc == 1 && ! -e "$work/none.html" ]] && grep -q "libjs-chart.js" "$work/err"
check "without Chart.js: exit 1 naming the package, no file" $? "rc=$rc $(cat "$work/err")"

# PostgreSQL: the same report from a cluster of its own (the per-day grouping is its SQL too).
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pg=$(mktemp -d "${TMPDIR:-/tmp}/nyx-report-pg.XXXXXX") # the server's user must reach it
  chmod 755 "$pg"
  if (cd / && bash "$NYX_SOURCE_DIR/tests/pg/cluster.sh" start "$pg") >"$work/pg.log" 2>&1; then
    uri=$(cat "$pg/uri")
    nyx run --quiet --db "$uri" "$work/calls.lua" >/dev/null 2>"$work/run.err"
    nyx report --db "$uri" --out "$work/pg.html" >/dev/null 2>>"$work/run.err"
    ok=1
    for by in total day session; do
      stats_json --db "$uri" --by "$by" >"$work/pgstats.$by"
      data "$by" "$work/pg.html" >"$work/pgpage.$by"
      diff "$work/pgstats.$by" "$work/pgpage.$by" >/dev/null || ok=0
    done
    [[ $ok == 1 ]] && grep -q '"calls": 9' "$work/pgpage.total" && grep -q '"group": "20' "$work/pgpage.day"
    check "PostgreSQL: the report's totals, days and sessions are nyx stats'" $? \
      "$(cat "$work/run.err"; diff "$work/pgstats.day" "$work/pgpage.day")"
    (cd / && bash "$NYX_SOURCE_DIR/tests/pg/cluster.sh" stop "$pg") >/dev/null 2>&1
  else
    rm -rf "$pg"
    check "PostgreSQL: a cluster starts" 1 "$(cat "$work/pg.log")"
  fi
else
  echo "ok - # SKIP PostgreSQL server binaries not installed"
fi

nyx report --bogus >/dev/null 2>&1
check "a bad argument is a usage error" "$([[ $? == 2 ]]; echo $?)"

finish
