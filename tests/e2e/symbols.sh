#!/usr/bin/env bash
# The public face of libnyx: the shared library and the Lua module export exactly the functions
# nyx.h declares (marked NYX_API) and the module's entry point luaopen_nyx_core. An internal
# function that leaks, or a public one declared without NYX_API, fails here.
set -uo pipefail
: "${NYX_BIN:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
build=$(dirname "$NYX_BIN")
failures=0
check() {
  if [[ "$2" == 0 ]]; then echo "ok - $1"; else
    echo "not ok - $1"; [[ -n "${3:-}" ]] && sed 's/^/    /' <<<"$3"; failures=$((failures + 1)); fi
}

declared=$(grep -oE '\bnyx_[a-z0-9_]+\(' "$NYX_SOURCE_DIR/engine/include/nyx.h" | tr -d '(' | sort -u)
exports() { nm -D --defined-only "$1" | awk '$2 ~ /^[TW]$/ {print $3}' | sort -u; }

[[ -n "$declared" ]]
check "nyx.h declares public functions" $? ""
want=$(printf '%s\nluaopen_nyx_core\n' "$declared" | sort -u)
for so in libnyx.so lua/nyx/core.so; do
  got=$(exports "$build/$so")
  diff <(echo "$want") <(echo "$got") >/dev/null
  check "$so exports exactly nyx.h's functions and luaopen_nyx_core" $? "$(diff <(echo "$want") <(echo "$got") | head -20)"
done

if [[ $failures -gt 0 ]]; then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
