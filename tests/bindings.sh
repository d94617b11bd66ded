#!/usr/bin/env bash
# The Lua bindings (engine/lua/) see the engine only through core/host_api.h, and nyx.h's
# entry points (engine/api/) through core/entry.h and host_api.h (HACKING.md, "Layers"): no
# file of theirs may include core/engine.h, directly or through another header, so the
# definition of struct nyx_engine is out of their reach and no field of it compiles there.
# Follows every quoted include from engine/lua/ and engine/api/, and from the subsystem
# headers (core/provider.h, storage.h, ...), which must not need the engine either; prints
# each path that reaches a definition of the engine and exits 1.
set -uo pipefail
root=${NYX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root/engine" || exit 2

declare -A seen
bad=0

# A quoted include names "dir/file.h" from engine/ or a bare "file.h" beside the includer.
resolve() {
  local from=$1 name=$2
  if [[ $name == */* ]]; then
    [ -f "$name" ] && echo "$name"
  else
    [ -f "$(dirname "$from")/$name" ] && echo "$(dirname "$from")/$name"
  fi
}

# walk FILE CHAIN: reports FILE when it defines the engine, then walks what it includes.
walk() {
  local file=$1 chain=$2
  [ -n "${seen[$file]:-}" ] && return
  seen[$file]=1
  if grep -qE '^[[:space:]]*struct[[:space:]]+nyx_engine[[:space:]]*\{' "$file"; then
    echo "$chain: reaches the definition of struct nyx_engine in engine/$file"
    bad=1
    return
  fi
  local inc target
  while read -r inc; do
    target=$(resolve "$file" "$inc") || continue
    [ -n "$target" ] && walk "$target" "$chain -> $target"
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include "([^"]+)".*/\1/p' "$file")
}

# The subsystem handles' headers stand on their own too: each is usable without the engine.
for f in core/host_api.h core/entry.h core/provider.h core/storage.h core/governance.h core/script_host.h \
         core/progress.h core/pending_log.h; do
  seen=()
  walk "$f" "engine/$f"
done

for f in lua/*.[ch] api/*.[ch]; do
  if grep -nE '^[[:space:]]*#[[:space:]]*include "core/engine\.h"' "$f"; then
    echo "engine/$f includes core/engine.h: use core/host_api.h (and core/entry.h in api/)"
    bad=1
  fi
  seen=()
  walk "$f" "engine/$f"
done
[ $bad -eq 0 ] && echo "ok: neither the bindings, the entry points nor the subsystem headers can see a field of the engine"
exit $bad
