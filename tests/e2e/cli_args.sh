#!/usr/bin/env bash
# What a command says when it is given wrong: an option given last without its value is named
# as missing its value (it read "unexpected argument" as if the option were unknown), each a
# usage error (2).
set -uo pipefail

# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1

# ---- an option given last without its value ----
for args in "stats --session" "log --since" "log --last" "audit --kind" "thoughts --session" \
            "stats --db" "report --out" "sim --port" "sim --seed" "stop --reason" "run x.lua --var" \
            "ask t --model" "render t --db" "templates --db" "log --raw" "batch results b --out"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $args
  cmd=${args%% *} opt=${args##* }
  check "nyx $args: a usage error (2) saying $opt needs a value" \
    $([[ $rc == 2 ]] && grep -q "^nyx $cmd[a-z ]*: $opt needs a value$" <<<"$err"; echo $?) "rc=$rc $err"
done
run_nyx stats --bogus
check "nyx stats --bogus is still an unexpected argument" \
  $([[ $rc == 2 ]] && grep -q 'unexpected argument "--bogus"' <<<"$err"; echo $?) "rc=$rc $err"

finish
