#!/usr/bin/env bash
# nyx as its users install it: `cmake --install` into a scratch prefix, then the embedding
# example built out of tree with nothing but `pkg-config --cflags --libs nyx` and run; the
# rockspec through `luarocks make` into a scratch tree, then `require "nyx"` from there with a
# call on the built-in simulator; `nyx --version` naming the linked libraries.
set -uo pipefail
: "${NYX_BIN:?run through ctest}" "${NYX_SOURCE_DIR:?run through ctest}"
unset LD_PRELOAD
build=$(dirname "$NYX_BIN")
source "$NYX_SOURCE_DIR/tests/e2e/lib/check.sh"
export NYX_PROVIDER=sim NYX_SIM_TTFT_MS=5 NYX_DB="$work/nyx.db"

out=$("$NYX_BIN" --version 2>&1)
grep -q "^nyx [0-9]" <<<"$out" && grep -q "libcurl .*SQLite .*Lua 5\.4" <<<"$out"
check "nyx --version names nyx and the linked libraries" $? "$out"

# 1. pkg-config, against an installed copy that was moved after installing.
out=$(cmake --install "$build" --prefix "$work/staged" 2>&1) && mv "$work/staged" "$work/prefix"
check "cmake --install into a prefix" $? "$out"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs nyx 2>&1)
check "pkg-config knows nyx" $? "$flags"
# A sanitizer build's library needs its runtime linked into the program first.
sanitize=""
symbols=$(nm -D "$work/prefix/lib/libnyx.so") # whole, not piped to grep -q (lib/check.sh, links)
grep -q __asan_init <<<"$symbols" && sanitize="-fsanitize=address,undefined"
# shellcheck disable=SC2086 # the flags are words
out=$(cc -std=c11 -Wall -Werror $sanitize -o "$work/host" "$NYX_SOURCE_DIR/examples/embed/host.c" $flags 2>&1)
check "examples/embed/host.c builds out of tree with pkg-config's flags alone" $? "$out"
out=$(cd "$NYX_SOURCE_DIR" && LD_LIBRARY_PATH="$work/prefix/lib" timeout 60 "$work/host" examples/embed 1.5 2>&1)
rc=$?
[[ $rc == 0 ]] && LD_LIBRARY_PATH="$work/prefix/lib" links "$work/host" "$work/prefix/lib/libnyx.so"
check "the host runs against the installed libnyx.so" $? "rc=$rc $out"
# The guard's policy keeps it in its patrol area: the simulator's move to (1,1) ends at (2,2),
# walked over frames by the host's C tool, and the loop goes on with the answer.
grep -q "npc: walking from (5,5) to (2,2)" <<<"$out" && grep -q "npc: arrived at (2,2) after 12 frames" <<<"$out" &&
  grep -q "turn 1: policy patrol (call 1 of it), model claude-haiku-5-5, 2 iterations, 2 tool calls, stop end_turn" <<<"$out"
check "the NPC's policy decides and the host's C tools move it, over frames, on the simulator" $? "$out"

# 2. luarocks make, from a copy of the sources (luarocks builds inside the source tree).
mkdir -p "$work/src"
tar -C "$NYX_SOURCE_DIR" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$work/src"
out=$(cd "$work/src" && CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
      luarocks --lua-version 5.4 --tree "$work/rocks" make rockspecs/nyx-scm-1.rockspec 2>&1)
check "luarocks make installs the rock" $? "$out"
paths=$(luarocks --lua-version 5.4 --tree "$work/rocks" path 2>&1)
out=$(cd "$work" && env -u LUA_PATH -u LUA_CPATH bash -c "$paths
lua5.4 -e 'local nyx = require \"nyx\"
local r = nyx.call{prompt = \"hello\", max_tokens = 20}
print(package.searchpath(\"nyx\", package.path), package.searchpath(\"nyx.core\", package.cpath), r.usage.cost_usd > 0)'" 2>&1)
grep -q "^$work/rocks/share/lua/5.4/nyx/init.lua	$work/rocks/lib/lua/5.4/nyx/core.so	true$" <<<"$out"
check "require \"nyx\" loads the rock's module and calls the simulator" $? "$out"

finish
