#!/usr/bin/env bash
# Sets up and runs every test: the normal build, then the same suite under AddressSanitizer
# and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
scripts/setup.sh build
(cd build && ctest --output-on-failure -j"$jobs")
scripts/setup.sh build-asan -DNYX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ctest --output-on-failure -j"$jobs")
