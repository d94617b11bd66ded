#!/usr/bin/env bash
# A batch outlives the process that submitted it, on PostgreSQL (tests/e2e/lib/batch_pickup.sh),
# in a database of its own on the test run's throwaway server.
base=$(cat "${NYX_TEST_PG:?NYX_TEST_PG is not set (run through ctest)}")
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-pickup-pg.XXXXXX")
name=nyx_pickup_$$
env -u LD_PRELOAD psql -q -X "$base" -c "CREATE DATABASE $name" >/dev/null || exit 1
NYX_DB="${base%/*}/$name"
sql() { env -u LD_PRELOAD psql -q -X -t -A "$NYX_DB" -c "$1"; }
drop_db() { env -u LD_PRELOAD psql -q -X "$base" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true; }
# shellcheck source=../e2e/lib/batch_pickup.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/batch_pickup.sh"
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; drop_db' EXIT
