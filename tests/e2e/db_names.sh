#!/usr/bin/env bash
# A database name meant for a server but misspelt is refused as such, naming its scheme at most:
# "postgressql://", "Postgresql://", "postgresql:/" (one slash), "pgsql:", "mysql://" and libpq's
# "host=... password=..." form were taken as SQLite file paths. nyx run then created a file named
# after them in the working directory (the password in its name) when the path's directory
# existed, and every message printed the whole name: "cannot open postgressql://nyx:PASSWORD@...".
# A SQLite path, a file: URI and :memory: still open as before.
set -u
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"
mkdir -p "$work/cwd"
cd "$work/cwd" || exit 1
echo 'local nyx = require "nyx"; print(pcall(nyx.call, { prompt = "hi", max_tokens = 5 }))' >"$work/one.lua"

names=("postgressql://nyx:SECRETPW@127.0.0.1:5432/nyx" "Postgresql://nyx:SECRETPW@127.0.0.1:5432/nyx"
       "postgresql:/nyx:SECRETPW@127.0.0.1:5432/nyx" "pgsql:nyx:SECRETPW@127.0.0.1"
       "mysql://nyx:SECRETPW@db/nyx" "host=127.0.0.1 password=SECRETPW dbname=nyx")
hints=("postgressql: is not a scheme nyx reads;" "Postgresql: is not a scheme nyx reads (in lower case"
       "postgresql: is not a scheme nyx reads (two slashes" "pgsql: is not a scheme nyx reads;"
       "mysql: is not a scheme nyx reads;" "libpq's keyword=value form")
for i in "${!names[@]}"; do
  name=${names[$i]}
  run_nyx "NYX_DB=$name" NYX_PROVIDER=sim -- run "$work/one.lua"
  check_grep "nyx run on $name: the call is refused (store_error), nothing is sent" "$out$err" "^false.*store_error"
  check_grep "nyx run on $name says what the name is" "$err" -F "${hints[$i]}"
  check_no_grep "nyx run on $name prints no password" "$out$err" SECRETPW
  for cmd in stats "log --raw ix_1" "config set budget.hard true" stop; do
    # shellcheck disable=SC2086 # the command's words
    run_nyx -- $cmd --db "$name"
    check_exit "nyx $cmd --db $name fails (1) saying what the name is" 1 "$err" -F "${hints[$i]}"
    check_no_grep "nyx $cmd --db $name prints no password" "$out$err" SECRETPW
  done
done
left=$(ls -A "$work/cwd")
check "no file is made for any of them: $left" "$([[ -z "$left" ]]; echo $?)"

run_nyx "NYX_DB=$work/cwd/a.db" NYX_PROVIDER=sim -- run "$work/one.lua"
check_grep "a SQLite path opens" "$out" "^true"
run_nyx NYX_DB="file:$work/cwd/a.db" NYX_PROVIDER=sim -- run "$work/one.lua"
check_grep "a file: URI opens" "$out" "^true"
run_nyx -- stats --db "file:$work/cwd/a.db" --json
check_grep "nyx stats reads it: both calls" "$out" '"calls":2,'
run_nyx NYX_DB=:memory: NYX_PROVIDER=sim -- run "$work/one.lua"
check_grep ":memory: opens" "$out" "^true"
finish
