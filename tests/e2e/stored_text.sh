#!/usr/bin/env bash
# Under the default storage mode (redacted) no personal data reaches the database, wherever a
# script or an API answer puts it: thought labels, session and agent names, a reply, an API error that
# quotes what it was sent (its message, the requested model, the attempt log), a template body
# created at run time, an audit detail. The whole database is dumped and searched. Names keep
# a tag per finding, so two sessions whose names differ only there keep separate budgets, and
# `nyx stats --session NAME` (and with --reprice) still finds a session by the name the script gave.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export NYX_DB="$dir/nyx.db" NYX_PROVIDER=sim NYX_SIM_TTFT_MS=1
unset ANTHROPIC_API_KEY CLAUDE_API_KEY NYX_STORAGE_MODE
cd "$dir"
"$NYX_BIN" run "$here/stored_text_run.lua" > out 2> err || fail "the run failed: $(cat err)"
sqlite3 "$NYX_DB" .dump > dump.sql
planted="alice.session@example.com bob.session@example.com erin.thought@example.com
dave.agent@example.com frank.model@example.com carol.template@example.com gina.audit@example.com zed.alert@example.com henry.reply@example.com
4111 1111 1111 1111|5555 5555 5555 4444|4111111111111111|5555555555554444"
found=0
while read -r line; do
  for p in $line; do
    if grep -q -- "$p" dump.sql; then echo "stored verbatim: $p: $(grep -m1 -- "$p" dump.sql | cut -c1-200)"; found=$((found + 1)); fi
  done
done <<<"$(echo "$planted" | head -n 2)"
IFS='|' read -ra cards <<<"$(echo "$planted" | tail -n 1)"
for c in "${cards[@]}"; do
  if grep -q -- "$c" dump.sql; then echo "stored verbatim: $c"; found=$((found + 1)); fi
done
[ "$found" -eq 0 ] || fail "$found planted values found in the database dump"
# The redaction is there (not a table left empty): each kind of field holds a label.
for where in "thought_trees" "llm_interactions" "prompt_templates" "budgets" "sessions"; do
  grep -E "INSERT INTO \"?$where\"? .*\[(EMAIL|CARD)" dump.sql > /dev/null || fail "no redacted row in $where"
done
sessions=$(sqlite3 "$NYX_DB" "SELECT count(*) FROM budgets WHERE scope LIKE 'session:%'")
[ "$sessions" -eq 3 ] || fail "three sessions became $sessions budget scopes"
"$NYX_BIN" stats --session "session of alice.session@example.com" --json > stats.json ||
  fail "nyx stats --session failed"
grep -q '"calls":1' stats.json || fail "nyx stats did not find the session by its name: $(cat stats.json)"
# --reprice reads the calls through the usage query, which matches the stored name the same way.
"$NYX_BIN" stats --reprice --session "session of alice.session@example.com" --json > reprice.json ||
  fail "nyx stats --reprice --session failed"
grep -q '"model":"total","calls":1' reprice.json ||
  fail "nyx stats --reprice did not find the session by its name: $(cat reprice.json)"
echo "PASS"
