#!/usr/bin/env bash
# What a run that serves nothing does not load: libmicrohttpd (with GnuTLS initialised by its
# constructor, about 1.2 MB) is loaded only when the simulator first serves, and GnuTLS, which
# libcurl's dependencies bring, skips its own initialisation in nyx (_gnutls_global_init_skip).
# The simulator, built in or `nyx sim`, still serves, and `nyx --version` still names the
# library's version.
set -uo pipefail
# shellcheck source=lib/check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh"

cat >"$work/maps.lua" <<'LUA'
local nyx = require "nyx"
local function mapped(name)
  local f = assert(io.open("/proc/self/maps"))
  local maps = f:read("a")
  f:close()
  return maps:find(name, 1, true) ~= nil
end
if nyx.vars.call == "1" then nyx.call{ prompt = "hello", max_tokens = 8 } end
print("microhttpd " .. tostring(mapped("libmicrohttpd")))
LUA

start_sim --api-key lazy-key --ttft-ms 0 || { echo "nyx sim did not start"; exit 1; }
run_nyx NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=lazy-key "ANTHROPIC_BASE_URL=$url" -- run "$work/maps.lua" --var call=1
[[ $rc == 0 && "$out" == "microhttpd false" ]]
check "a call to an API server leaves libmicrohttpd unloaded" $? "$rc: $out $err"

run_nyx NYX_PROVIDER=sim -- run "$work/maps.lua" --var call=1
[[ $rc == 0 && "$out" == "microhttpd true" ]]
check "the built-in simulator loads it and answers" $? "$rc: $out $err"

run_nyx -- --version
check_grep "nyx --version names its version" "$out" -E 'libmicrohttpd [0-9]+\.[0-9]+'

if links "$NYX_BIN" libgnutls; then
  binding=$("${clean_env[@]}" LD_DEBUG=bindings "$NYX_BIN" --help 2>&1 >/dev/null | grep '_gnutls_global_init_skip')
  check_grep "GnuTLS asks nyx whether to initialise itself" "$binding" "to $NYX_BIN"
else
  echo "ok - GnuTLS is not loaded: nothing to skip"
fi

finish
