#!/usr/bin/env bash
# The exit status of nyx templates, nyx render, nyx ask, nyx batch and nyx log, one rule for all
# (README, "Exit status"): 0 done, 1 the work failed (something named that is not there among
# it), 2 bad usage (an argument that cannot be right whatever the database holds). A template
# name or NAME@V that cannot be one was a failure (1) in show, history, stats, render, ask and
# batch submit, where diff's bad version was bad usage (2); nyx log --raw out of memory said 2.
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
cd "$work" || exit 1
mkdir -p templates
printf -- '---\ndescription: a greeting\nvariables:\n  x: {required: true}\n---\nhello {{x}}\n' >templates/greet.md
printf '{"id":"r1","x":"a"}\n' >rows.jsonl
clean_env+=("NYX_SIM_BATCH_MS=50")
# A command that only reads makes no database: nyx render records the template's version 1.
run_nyx render greet --var x=1
check "setup: nyx render greet" "$rc" "$err"

# want RC ARGS...: `nyx ARGS` exits RC and says something on stderr when it fails.
want() {
  local code=$1
  shift
  run_nyx "$@"
  check "nyx $* exits $code" $([[ $rc == "$code" && ( $code == 0 || -n "$err" ) ]]; echo $?) "rc=$rc $err"
}

# ---- bad usage: 2 ----
for spec in greet@x greet@0 greet@ greet@-1 greet@+1 'two words' .hidden 'a@b@1'; do
  want 2 templates show "$spec"
  want 2 render "$spec" --var x=1
  want 2 ask "$spec" --var x=1
  want 2 batch submit "$spec" --input rows.jsonl
done
for sub in history stats; do
  want 2 templates "$sub" greet@1
  want 2 templates "$sub" 'two words'
done
want 2 templates diff greet@1 1 2
want 2 templates diff 'two words' 1 2
want 2 templates diff greet x 1
want 2 templates nosuch
want 2 templates show
want 2 batch nosuch
want 2 batch status 'not an id!'
want 2 batch results
want 2 batch list extra
want 2 log --last x
want 2 log --since yesterday
want 2 log --raw
want 2 log extra

# ---- something named that is not there: 1 ----
want 1 templates show nosuch
want 1 templates show greet@9
want 1 templates history nosuch
want 1 templates stats nosuch
want 1 templates diff nosuch 1 2
want 1 templates diff greet 1 9
want 1 render nosuch
want 1 render greet@9 --var x=1
want 1 ask nosuch
want 1 batch submit nosuch --input rows.jsonl
want 1 batch submit greet --input missing.jsonl
want 1 batch status nb_nosuch
want 1 log --raw ix_nosuch
want 1 log --db missing.db

# ---- done: 0 ----
want 0 templates show greet@1
want 0 render greet@1 --var x=1
want 0 templates diff greet 1 1
want 0 batch submit greet --input rows.jsonl
want 0 log --last 1
finish
