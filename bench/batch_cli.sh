#!/usr/bin/env bash
# `nyx batch submit` from the command line: 1,000 templated rows (a shared ~6,000-token rules
# prefix, then the row's ticket) as one Message Batch on `nyx sim` over HTTP (batches processed
# in 1 s), the whole process measured by time(1): dollars (the results' own costs), the
# process's CPU per row (rendering, recording, submitting, polling, logging), database bytes per
# row (the SQLite file and its WAL after the run, batch rows and interactions), peak memory.
# The same rows as standard calls are bench/batch.lua's batch_standard_usd.
# usage: batch_cli.sh BUILD_DIR [--short]
set -euo pipefail
build=$1
rows=1000
[ "${2:-}" = "--short" ] && rows=50
[ -x /usr/bin/time ] || { echo "batch_cli: skipped (GNU time is not installed; scripts/setup.sh installs it)"; exit 0; }
work=$(mktemp -d /tmp/nyx-bench-batch-cli.XXXXXX)
"$build/nyx" sim --port 0 --batch-ms 1000 --ttft-ms 5 --token-ms 0.02 >"$work/sim.out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do grep -q 'listening on' "$work/sim.out" && break; sleep 0.05; done
mkdir -p "$work/tpl"
{
  printf -- '---\ndescription: route a ticket\nmodel: claude-haiku-4-5\nvariables:\n  ticket: {required: true}\n---\n'
  words=(refund invoice login printer badge laptop network payroll)
  for i in $(seq 450); do
    printf 'Rule %d: a ticket about %s goes to the %s queue unless it mentions %s.\n' "$i" \
      "${words[$((i % 8))]}" "${words[$((i * 3 % 8))]}" "${words[$((i * 5 % 8))]}"
  done
  printf '\nTicket: {{ticket}}\nQueue:\n'
} >"$work/tpl/route.md"
for i in $(seq "$rows"); do printf '{"id":"r%d","ticket":"ticket %d: my laptop is broken"}\n' "$i" "$i"; done >"$work/rows.jsonl"
env NYX_DB="$work/nyx.db" NYX_TEMPLATE_PATH="$work/tpl" NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key \
  ANTHROPIC_BASE_URL="http://$(grep -o '127\.0\.0\.1:[0-9]*' "$work/sim.out" | head -1)" \
  /usr/bin/time -f '%U %S %M %e' -o "$work/time" \
  "$build/nyx" batch submit route --input "$work/rows.jsonl" --out "$work/results.jsonl" 2>"$work/err" ||
  { cat "$work/err"; exit 1; }
read -r user sys peak wall <"$work/time"
ok=$(grep -c '"ok":true' "$work/results.jsonl")
[ "$ok" = "$rows" ] || { echo "only $ok of $rows rows succeeded"; cat "$work/err"; exit 1; }
usd=$(grep -o '"cost_usd":[0-9.e-]*' "$work/results.jsonl" | cut -d: -f2 | awk '{ s += $1 } END { printf "%.6f", s }')
# The same usage at standard prices, as nyx stats prices a batch's saving.
std=$(sqlite3 "$work/nyx.db" "SELECT printf('%.6f', total(standard_cost_usd)) FROM llm_interactions")
bytes=$(( $(stat -c %s "$work/nyx.db") + $(stat -c %s "$work/nyx.db-wal" 2>/dev/null || echo 0) ))
echo "batch_cli_rows: $rows"
echo "batch_cli_usd: $usd"
echo "batch_cli_same_usage_at_standard_usd: $std"
echo "batch_cli_rows_reading_the_prefix: $(grep -c "\"cache_read_input_tokens\":[1-9]" "$work/results.jsonl")"
awk -v u="$user" -v s="$sys" -v n="$rows" 'BEGIN { printf "batch_cli_cpu_us_per_row: %.0f\n", (u + s) / n * 1e6 }'
awk -v b="$bytes" -v n="$rows" 'BEGIN { printf "batch_cli_db_bytes_per_row: %.0f\n", b / n }'
echo "batch_cli_peak_rss_kb: $peak"
echo "batch_cli_wall_s: $wall"
