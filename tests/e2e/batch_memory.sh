#!/usr/bin/env bash
# `nyx batch submit` holds a row's request once or twice, not a parsed copy of every request
# (the submission is written from each request's own serialised body, from its pieces, no flat
# copy of every body alive at once; the rows' shared beginning is handed to the script once,
# not kept whole in every row by the engine's variables and nyx.vars): 300 rows of a ~24 KB
# template cost less than 60 KB of peak memory each over one row's run (~41 KB; ~88 KB with
# every row whole in the variables, ~133 KB with the flat copies, ~220 KB with parsed ones).
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
need_memory_figures

start_sim --api-key mem-key --batch-ms 200 || { echo "nyx sim did not start"; exit 1; }
mkdir -p "$work/tpl"
{
  printf -- '---\ndescription: route a ticket\nmodel: claude-haiku-4-5\nvariables:\n  ticket: {required: true}\n---\n'
  for i in $(seq 450); do printf 'Rule %d: a ticket about refunds goes to the billing queue unless it is urgent.\n' "$i"; done
  printf '\nTicket: {{ticket}}\nQueue:\n'
} >"$work/tpl/route.md"

peak() { # peak ROWS: the peak RSS in KB of nyx batch submit over ROWS rows
  for i in $(seq "$1"); do printf '{"id":"r%d","ticket":"ticket %d: my laptop is broken"}\n' "$i" "$i"; done >"$work/rows$1.jsonl"
  peak_kb "$1" "NYX_DB=$work/nyx$1.db" "NYX_TEMPLATE_PATH=$work/tpl" "ANTHROPIC_API_KEY=mem-key" \
    "ANTHROPIC_BASE_URL=$url" -- batch submit route --input "$work/rows$1.jsonl" --out "$work/out$1.jsonl"
}
one=$(peak 1)
many=$(peak 300)
per_row=$(( (many - one) / 299 ))
[[ $one -gt 0 && $many -gt 0 && $per_row -lt 60 ]]
check "300 rows: $per_row KB of peak memory a row over one row's $one KB (under 60)" $? "$many KB for 300 rows"
[[ $(grep -c '"ok":true' "$work/out300.jsonl") == 300 ]]
check "and every row succeeded" $? "$(head -3 "$work/out300.jsonl")"

finish
