#!/usr/bin/env bash
# What a command says when it is given wrong: an option given last without its value is named
# as missing its value (it read "unexpected argument" as if the option were unknown), each a
# usage error (2); `nyx models show` without an ID asks which model (it read "unexpected argument
# show", and `show --json` took --json for the ID); `nyx config` with a misspelt subcommand or a
# missing KEY or VALUE says which (it printed the usage alone); `nyx report --out` that cannot be
# written names the file asked for and why (it named its .tmp file, no reason); a command that only
# reads, given --db of a file that does not exist, says so (it made an empty database there and
# read "(nothing recorded)", so a misspelt path looked like an empty history), and one not made yet
# by NYX_DB or ./nyx.db reads as empty and is not made either; a bad value of a
# nyx sim option is named by its flag (it read "ttft_ms=-5 must be a number >= 0, got "-5""); a
# --db naming a directory says so (SQLite's "unable to open database file"); a template version
# that does not exist says so (it read "store: template greet@2 not found"); a version of
# templates diff that is not a whole number from 1 says which, as show words a bad NAME@V (a
# negative one read "unexpected argument" and the whole usage); nyx run and nyx render take a --var
# of bytes that are not UTF-8 as they are (only ask and batch submit, whose values go into a
# request, refuse one: ask.sh, batch.sh); every --json prints a yes or no as true or false (nyx
# config list --json gave "true", templates history --json "*"), numbers as numbers, none as null;
# a model, template, interaction or budget scope that is not there fails (1) with one form of
# message (nyx models show exited 2, as for bad usage; nyx ask said "not_found: " first).
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

# ---- nyx models show without an ID ----
for args in "models show" "models show --json"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $args
  check "nyx $args: a usage error (2) asking which model" \
    $([[ $rc == 2 ]] && grep -q "^nyx models show: which model?" <<<"$err"; echo $?) "rc=$rc $err"
done
run_nyx models show --json claude-haiku-4-5
check "nyx models show --json ID: the option may come before the ID" \
  $([[ $rc == 0 ]] && grep -q '"claude-haiku-4-5"' <<<"$out"; echo $?) "rc=$rc $err"

# ---- nyx config: a line saying what is wrong before the usage ----
run_nyx config frob
check "nyx config frob: a usage error naming the unknown subcommand" \
  $([[ $rc == 2 ]] && grep -q '^nyx config: unknown subcommand "frob" (list, get, set or unset)$' <<<"$err"; echo $?) "rc=$rc $err"
run_nyx config get
check "nyx config get: a usage error saying KEY is missing" \
  $([[ $rc == 2 ]] && grep -q '^nyx config get: KEY is missing$' <<<"$err"; echo $?) "rc=$rc $err"
run_nyx config set budget.daily_usd
check "nyx config set KEY: a usage error saying VALUE is missing" \
  $([[ $rc == 2 ]] && grep -q '^nyx config set: VALUE is missing$' <<<"$err"; echo $?) "rc=$rc $err"
run_nyx config list extra
check "nyx config list extra: a usage error naming the argument" \
  $([[ $rc == 2 ]] && grep -q '^nyx config list: unexpected argument "extra"$' <<<"$err"; echo $?) "rc=$rc $err"

# ---- nyx report --out where no page can be written ----
mkdir -p "$work/adir"
run_nyx report --out "$work/adir"
check "nyx report --out DIRECTORY: fails (1) saying it is a directory, nothing written" \
  $([[ $rc == 1 ]] && grep -q "^nyx report: cannot write $work/adir: it is a directory$" <<<"$err" &&
    [[ ! -e "$work/adir.tmp" ]]; echo $?) "rc=$rc $err"
run_nyx report --out "$work/no/such/dir/r.html"
check "nyx report --out in a missing directory: names the file asked for and why" \
  $([[ $rc == 1 ]] && grep -q "^nyx report: cannot write $work/no/such/dir/r.html: No such file or directory$" <<<"$err"
    echo $?) "rc=$rc $err"
run_nyx report --out "$(printf 'a%.0s' {1..5000})"
check "nyx report --out of 5000 characters: refused, the name not echoed whole" \
  $([[ $rc == 1 && ${#err} -lt 400 ]] && grep -q "the name is too long" <<<"$err"; echo $?) "rc=$rc ${err:0:300}"

# ---- a reading command given --db of a file that does not exist ----
for args in "stats" "log" "log --raw ix_1" "thoughts" "budget" "audit" "report --out $work/typo.html" \
            "config list" "config get budget.hard"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $args --db "$work/typo.db"
  check "nyx $args --db MISSING: fails (1) saying there is no database, and makes none" \
    $([[ $rc == 1 && ! -e "$work/typo.db" && ! -e "$work/typo.html" ]] &&
      grep -q "^nyx ${args%% *}: no database at $work/typo.db" <<<"$err"; echo $?) "rc=$rc $err"
  rm -f "$work/typo.db"*
done
for args in "templates list" "models"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $args --db "$work/typo.db"
  check "nyx $args --db MISSING: lists without the database (as on an empty PostgreSQL one), making none" \
    $([[ $rc == 0 && -n "$out" && ! -e "$work/typo.db" ]]; echo $?) "rc=$rc $err"
done
# The configured database (NYX_DB, else ./nyx.db) not made yet: a fresh setup's reading commands
# read it as empty and make no file (each made one).
mkdir -p "$work/fresh"
for args in "stats" "log" "budget" "config list" "templates list" "models" "report --out $work/fresh.html"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx "NYX_DB=$work/fresh/env.db" -- $args
  check "nyx $args with NYX_DB not made yet: reads it as empty, makes none" \
    $([[ $rc == 0 && ! -e "$work/fresh/env.db" ]]; echo $?) "rc=$rc $err"
  # shellcheck disable=SC2086 # the command's words
  (cd "$work/fresh" && env -i "PATH=$PATH" "HOME=$work/fresh" "$NYX_BIN" $args >/dev/null 2>"$work/err"); rc=$?
  check "nyx $args in a directory without nyx.db: reads it as empty, makes none" \
    $([[ $rc == 0 && ! -e "$work/fresh/nyx.db" ]]; echo $?) "rc=$rc $(cat "$work/err")"
done
run_nyx config set budget.daily_usd 1 --db "$work/made.db"
run_nyx stats --db "$work/made.db"
check "nyx stats --db of a database made by a writing command reads it" $((rc != 0)) "rc=$rc $err"

# ---- a bad value of nyx sim is named by the flag given ----
for args in "--ttft-ms -5" "--seed abc" "--batch-ms x"; do
  # shellcheck disable=SC2086 # the option and its value
  run_nyx sim $args
  check "nyx sim $args: a usage error naming ${args%% *} and the value once" \
    $([[ $rc == 2 && "$err" == "nyx sim: ${args%% *} must be a number >= 0, got \"${args##* }\"" ]]; echo $?) "rc=$rc $err"
done

# ---- --db naming a directory ----
mkdir -p "$work/dbdir"
run_nyx stats --db "$work/dbdir"
check "nyx stats --db DIRECTORY: fails (1) saying it is a directory" \
  $([[ $rc == 1 ]] && grep -q "cannot open $work/dbdir: it is a directory, not a database file" <<<"$err"; echo $?) "rc=$rc $err"

# ---- a version a template does not have ----
mkdir -p templates
printf 'hello {{x}}\n' > templates/greet.md
run_nyx templates show greet@2
check "nyx templates show NAME@V of a version it has not: says so and where the versions are listed" \
  $([[ $rc == 1 ]] && grep -q "^nyx templates show: template greet has no version 2 (nyx templates history greet lists its versions)$" <<<"$err"
    echo $?) "rc=$rc $err"

# ---- a version of nyx templates diff that is not a whole number from 1 ----
for v in -1 0 x; do
  run_nyx templates diff greet "$v" 1
  check "nyx templates diff greet $v 1: a usage error (2) naming the version, worded as show's, no usage" \
    $([[ $rc == 2 && "$err" == "nyx templates diff: version \"$v\" must be a whole number >= 1" ]]; echo $?) "rc=$rc $err"
done
run_nyx templates diff greet 1 -2
check "nyx templates diff greet 1 -2: the second version is named" \
  $([[ $rc == 2 && "$err" == 'nyx templates diff: version "-2" must be a whole number >= 1' ]]; echo $?) "rc=$rc $err"
run_nyx templates -x
check "nyx templates -x is still an unexpected argument" \
  $([[ $rc == 2 ]] && grep -q 'unexpected argument "-x"' <<<"$err"; echo $?) "rc=$rc $err"

# ---- bytes that are not UTF-8 in a --var that goes into no request ----
printf 'local nyx = require "nyx"\nio.write(#nyx.vars.x, " ", string.byte(nyx.vars.x))\n' > bytes.lua
run_nyx run bytes.lua --var $'x=\xff'
check "nyx run gives a script a --var of bytes that are not UTF-8 as they are" \
  $([[ $rc == 0 && "$out" == "1 255" ]]; echo $?) "rc=$rc out=$out $err"
run_nyx render greet --var $'x=\xff'
check "nyx render prints a --var of bytes that are not UTF-8 as they are" \
  $([[ $rc == 0 && "$out" == $'hello \xff' ]]; echo $?) "rc=$rc $err"

# ---- --json: a yes or no is true or false, a number a number, none null ----
# json_typed NAME: every line of $out is a JSON object, and no string in it reads as a boolean,
# a number or null ("true", "1.5", "null": a value whose type was lost on the way).
json_typed() {
  python3 -c '
import json, re, sys
number = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
def walk(v, where):
    if isinstance(v, dict):
        for k, x in v.items(): walk(x, where + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v): walk(x, "%s[%d]" % (where, i))
    elif isinstance(v, str) and (v in ("true", "false", "null") or number.fullmatch(v)):
        sys.exit("%s is the string %r" % (where, v))
lines = sys.stdin.read().splitlines()
if not lines: sys.exit("no output")
for n, line in enumerate(lines, 1):
    walk(json.loads(line), "line %d" % n)
' <<<"$out" 2>&1
}
run_nyx config set budget.daily_usd 5
run_nyx ask greet --var x=1
run_nyx log --json
id=$(python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["id"])' <<<"$out")
for args in "config list" "templates" "templates history greet" "templates stats greet" "log" "log --raw $id" \
            "stats" "stats --by model" "budget" "audit" "batch list"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $args --json
  why=$(json_typed)
  check "nyx $args --json: JSON lines whose booleans, numbers and nulls are typed" \
    $([[ $rc == 0 && -z "$why" ]]; echo $?) "rc=$rc $why $err"
done
run_nyx config list --json
why=$(python3 -c '
import json, sys
rows = {r["key"]: r["value"] for r in map(json.loads, sys.stdin.read().splitlines())}
want = {"budget.hard": True, "budget.daily_usd": 5, "cache.ttl.ephemeral": 300, "alert.error_rate": None,
        "storage.durability": "strict"}
for k, v in want.items():
    if rows.get(k, "absent") != v or type(rows.get(k)) is not type(v):
        print("%s is %r, want %r" % (k, rows.get(k, "absent"), v))
' <<<"$out" 2>&1)
check "nyx config list --json: true, 5, 300, null and \"strict\" as such (booleans read \"true\")" \
  $([[ -z "$why" ]]; echo $?) "$why $out"
run_nyx templates history greet --json
check "nyx templates history --json: the current version is \"current\":true (it read \"*\")" \
  $(grep -q '"current":true' <<<"$out"; echo $?) "$out"

# ---- something named that is not there: a failure (1), said without an error type ----
for args in "ask nosuch" "templates show nosuch" "templates history nosuch" "render nosuch" \
            "models show claude-nosuch-1" "log --raw ix_nosuch" "budget reset day:1999-01-01"; do
  # shellcheck disable=SC2086 # the command's words
  run_nyx $args
  cmd=${args% *}
  line=$(grep "^nyx ${cmd%% *}" <<<"$err")
  check "nyx $args: fails (1, not 2), the message without a type word before it" \
    $([[ $rc == 1 && -n "$line" ]] && ! grep -Eq '^nyx [a-z ]+: [a-z_]+: ' <<<"$line"; echo $?) "rc=$rc $err"
done

finish
