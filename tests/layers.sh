#!/usr/bin/env bash
# The layers of engine/ (HACKING.md, "Layers"): a file may include headers of its own layer or
# of a layer below it, never of one above. Prints each include that breaks this and exits 1.
#   base < store claude cost guard resilience template cache sim < core < lua cli < api
# (include/ is nyx.h, the public face: any layer may include it.) Within a layer, the
# directories' includes of each other form no cycle.
set -uo pipefail
root=${NYX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root/engine" || exit 2

rank() {
  case $1 in
    base) echo 0 ;;
    store|claude|cost|guard|resilience|template|cache|sim) echo 1 ;;
    core) echo 2 ;;
    lua|cli) echo 3 ;;
    api) echo 4 ;;
    include) echo -1 ;;
    *) echo "" ;;
  esac
}

bad=0
for dir in */; do
  layer=${dir%/}
  own=$(rank "$layer")
  if [ -z "$own" ]; then
    echo "engine/$layer: a directory with no layer: add it to tests/layers.sh and HACKING.md"
    bad=1
    continue
  fi
  # '#include "dir/file.h"' names another directory's header; a bare "file.h" is the file's own.
  while IFS=: read -r file line text; do
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$text")
    theirs=$(rank "$target")
    if [ -z "$theirs" ] || [ "$theirs" -gt "$own" ]; then
      echo "engine/$file:$line: $layer includes $target/, a layer above it:$text"
      bad=1
    fi
  done < <(grep -HnE '^[[:space:]]*#[[:space:]]*include "[a-z_]+/' "$layer"/*.[ch] 2>/dev/null)
done

# Directories of one layer may include each other's headers, but not both ways round, however
# long the way: the includes between directories form no cycle (tsort names one if they do).
edges=$(for dir in */; do
  layer=${dir%/}
  grep -hoE '^[[:space:]]*#[[:space:]]*include "[a-z_]+/' "$layer"/*.[ch] 2>/dev/null |
    sed -E 's/.*"([a-z_]+)\/.*/\1/' | sort -u | awk -v from="$layer" '$1 != from {print from, $1}'
done)
if ! loop=$(tsort <<<"$edges" 2>&1 >/dev/null); then
  echo "engine/: the includes between directories form a cycle:"
  echo "$loop" | sed 's/^tsort: /  /'
  bad=1
fi
[ $bad -eq 0 ] && echo "ok: no layer includes a header from a layer above it, no directories include each other"
exit $bad
