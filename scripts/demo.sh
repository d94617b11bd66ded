#!/usr/bin/env bash
# Sets up, builds, and runs the council example on the built-in simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
export NYX_DB=${NYX_DB:-build/demo.db}
exec build/nyx run examples/council.lua "$@"
