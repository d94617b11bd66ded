#!/usr/bin/env bash
# Builds every CMake build type (Debug, Release, RelWithDebInfo, MinSizeRel) with gcc and with
# clang, warnings as errors: a warning that only one optimiser or compiler sees fails here, not
# in a packager's Release build. Builds only; the tests run in scripts/test.sh.
# Usage: scripts/build_types.sh [SCRATCH_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang >/dev/null || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang >/dev/null
}
scratch=${1:-$(mktemp -d)}
failed=0
for cc in gcc clang; do
  for type in Debug Release RelWithDebInfo MinSizeRel; do
    dir="$scratch/$cc-$type"
    if CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=$type -DNYX_WERROR=ON >"$dir.log" 2>&1 &&
       cmake --build "$dir" -j"$(nproc)" >>"$dir.log" 2>&1; then
      echo "build $cc $type: ok"
    else
      echo "build $cc $type: FAILED"; grep -E "error|warning" "$dir.log" | head -n 20
      failed=1
    fi
    rm -rf "$dir"
  done
done
[ -n "${1:-}" ] || rm -rf "$scratch"
exit $failed
