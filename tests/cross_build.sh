#!/usr/bin/env bash
# A cross build runs none of the programs it builds (nyx_models_gen, nyx_lua_chunks_gen would
# not run on the build machine): CMakeLists.txt embeds data/models.json as text and
# precompiles no module there. Configured here as a cross build for this same machine
# (CMAKE_SYSTEM_NAME set makes CMAKE_CROSSCOMPILING true), so its nyx runs: its model table,
# parsed at open, is the one the generated table of the normal build gives.
set -uo pipefail
root=${NYX_SOURCE_DIR:?run through ctest}
nyx=${NYX_BIN:?run through ctest}
dir=$(mktemp -d /tmp/nyx_cross_XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cmake -S "$root" -B "$dir/b" -DCMAKE_SYSTEM_NAME=Linux -DNYX_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
  >"$dir/log" 2>&1 || { tail -20 "$dir/log"; fail "the cross build does not configure"; }
targets=$(cmake --build "$dir/b" --target help 2>/dev/null)
for gen in nyx_models_gen nyx_lua_chunks_gen; do
  ! grep -q "$gen" <<<"$targets" || fail "a cross build would run $gen, built for the target"
done
cmake --build "$dir/b" --target nyx -j2 >"$dir/log" 2>&1 || { tail -20 "$dir/log"; fail "the cross build does not build"; }
want=$(NYX_DB="$dir/a.db" "$nyx" models 2>/dev/null) || fail "nyx models (normal build)"
got=$(NYX_DB="$dir/b.db" "$dir/b/nyx" models 2>/dev/null) || fail "nyx models (cross build)"
[[ -n "$want" && "$want" == "$got" ]] || fail "the cross build's model table differs: $(diff <(echo "$want") <(echo "$got") | head -5)"
echo 'print(require("nyx.tools") ~= nil)' >"$dir/t.lua"
[[ $(cd "$dir" && NYX_DB="$dir/c.db" "$dir/b/nyx" run t.lua 2>/dev/null) == true ]] || fail "the cross build's nyx does not load its modules"
echo "all checks passed"
