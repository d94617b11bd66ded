#!/usr/bin/env bash
# nyx_finish_records from inside a host's function turns no loop on PostgreSQL, as on SQLite:
# tests/c/test_host_finish_inside.c (the unit test runs it on SQLite) on a database of the
# server, with thought writes on their way when the output function calls it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
pg_database host_finish

./test_host_finish_inside "$db" >"$work/out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || cat "$work/out"
check "nyx_finish_records inside the output function: no task resumed under it, every node written" "$rc"
pg_finish
