#!/usr/bin/env bash
# A batch outlives the process that submitted it, on SQLite (tests/e2e/lib/batch_pickup.sh).
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-pickup.XXXXXX")
NYX_DB="$work/nyx.db"
sql() { sqlite3 "$NYX_DB" "$1"; }
# shellcheck source=lib/batch_pickup.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/batch_pickup.sh"
