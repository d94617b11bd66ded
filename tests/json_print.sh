#!/usr/bin/env bash
# Every JSON number nyx prints is written as nyx.json_encode writes it: a float in the fewest
# digits that read back as the same double. cJSON's own print keeps 15 digits that read back
# merely close (0.30000000000000004 as 0.3), so in engine/ a tree is printed through
# engine/base/json_print.c (json_print, json_print_append, json_print_exact) and nowhere else
# calls cJSON's print; the command line, built on nyx.h alone, makes no number node of its own
# (it writes numbers with nyx_json_number). Prints each place that breaks this and exits 1.
set -uo pipefail
root=${NYX_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root/engine" || exit 2
bad=0
prints=$(grep -rnE 'cJSON_Print[A-Za-z]*[[:space:]]*\(' --include='*.c' --include='*.h' . |
  grep -v '^\./base/json_print\.c:' | grep -v '^\./cli/')
if [ -n "$prints" ]; then
  echo "cJSON's print called outside engine/base/json_print.c (use json_print, base/json_print.h):"
  echo "$prints"
  bad=1
fi
numbers=$(grep -rnE 'cJSON_(CreateNumber|AddNumberToObject|SetNumberValue|SetNumberHelper|CreateDoubleArray|CreateFloatArray|CreateIntArray)[[:space:]]*\(' \
  --include='*.c' cli)
if [ -n "$numbers" ]; then
  echo "a number node made by the command line, which cJSON would print (use nyx_json_number and a raw node):"
  echo "$numbers"
  bad=1
fi
[ $bad -eq 0 ] && echo "ok: every cJSON print of engine/ goes through json_print; the command line makes no number node"
exit $bad
