#!/usr/bin/env bash
# The public face of libnyx: the shared library and the Lua module export exactly the functions
# nyx.h declares (marked NYX_API) and the module's entry point luaopen_nyx_core. An internal
# function that leaks, or a public one declared without NYX_API, fails here. And the nyx_ prefix is
# the public face's alone: every entry point is defined in engine/api/api.c and nowhere else, and
# no other function, variable or type of engine/ is named nyx_*.
set -uo pipefail
: "${NYX_BIN:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
build=$(dirname "$NYX_BIN")
source "$NYX_SOURCE_DIR/tests/e2e/lib/check.sh"

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

# The objects of engine/ (libnyx and the nyx command), as the build left them; an object whose
# source no longer exists (a file moved since this build directory was made) is stale, not ours.
objs=$(find "$build/CMakeFiles" -path '*/engine/*' -name '*.o' | sort | while read -r o; do
  src=${o#*.dir/}; [[ -f "$NYX_SOURCE_DIR/${src%.o}" ]] && echo "$o"; done)
[[ -n "$objs" ]]
check "the build's objects are found" $? ""
api_obj=$(grep '/engine/api/api\.c\.o$' <<<"$objs")
# file:symbol for every symbol an object defines (functions and data, local ones too).
defined() { for o in "$@"; do nm --defined-only "$o" | awk -v f="${o##*.dir/}" 'NF == 3 {print f ":" $3}'; done; }

missing=$(comm -23 <(echo "$declared") <(defined $api_obj | cut -d: -f2 | sort -u))
[[ -z "$missing" ]]
check "engine/api/api.c defines every function nyx.h declares" $? "$missing"
elsewhere=$(defined $(grep -v '/engine/api/api\.c\.o$' <<<"$objs") | grep -F -w -f <(echo "$declared") | grep -E ':nyx_')
[[ -z "$elsewhere" ]]
check "no other file defines a function of nyx.h" $? "$elsewhere"

# A name nyx.h does not declare (function, type or enum) may not carry the prefix.
public=$(grep -oE '\bnyx_[a-z0-9_]+' "$NYX_SOURCE_DIR/engine/include/nyx.h" | sort -u)
internal_syms=$(defined $objs | grep -E ':nyx_' | awk -F: 'NR == FNR {pub[$0]; next} !($2 in pub)' <(echo "$public") -)
[[ -z "$internal_syms" ]]
check "no internal function or variable is named nyx_*" $? "$internal_syms"
internal_types=$(cd "$NYX_SOURCE_DIR" && grep -rnoE --include='*.[ch]' \
    '\b(struct|enum|union)[[:space:]]+nyx_[a-z0-9_]+|typedef[^;]*\bnyx_[a-z0-9_]+;' engine |
  grep -v '^engine/include/nyx\.h:' |
  awk 'NR == FNR {pub[$0]; next} {n = $0; sub(/.*nyx_/, "nyx_", n); sub(/;$/, "", n); if (!(n in pub)) print}' \
    <(echo "$public") -)
[[ -z "$internal_types" ]]
check "no internal type is named nyx_*" $? "$internal_types"

finish
