#!/usr/bin/env bash
# Installs what nyx needs from Debian's packages (only what is missing) and builds it: the
# libraries and tools of the build, and every command the demo, the tests and the benchmarks run
# (curl, sqlite3, valgrind, the PostgreSQL server, ps/pkill, jq, bc, python3, GNU time (the
# benchmarks read CPU and peak memory from it), the system CA bundle
# that calls to the API need, openssl, nghttpx and tinyproxy for the TLS and proxy tests, and
# chromium, which opens `nyx report`'s page in the report_browser test).
# Usage: scripts/setup.sh [BUILD_DIR] [extra cmake arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config lua5.4 liblua5.4-dev lua-busted
          libcurl4-openssl-dev libcjson-dev libsqlite3-dev libmicrohttpd-dev libxxhash-dev nettle-dev
          sqlite3 valgrind libpq-dev postgresql curl procps luarocks openssl nghttp2-proxy tinyproxy
          libjs-chart.js nodejs jq bc python3 time ca-certificates chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "nyx: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log=$(mktemp)
  install() {
    $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1
  }
  # Without recommends: only what nyx uses (a recommended mail server, for one, cannot even be
  # set up in a container without users of its own).
  # A package whose set-up failed once (a mirror that answered half, an interrupted dpkg) is
  # set up again before the second try; a second failure shows apt's own account of it.
  if ! install; then
    echo "nyx: installing failed once; trying again" >&2
    DEBIAN_FRONTEND=noninteractive $sudo dpkg --configure -a >>"$log" 2>&1 || true
    install || { tail -n 40 "$log" >&2; rm -f "$log"; exit 1; }
  fi
  rm -f "$log"
fi

build=${1:-build}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
