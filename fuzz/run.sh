#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_<name>.c) with clang into fuzz/out/ and runs each
# for SECONDS, starting from the seeds in fuzz/corpus/<name>/. Prints "<name>: N execs,
# C crashes" per target and exits non-zero if any target crashed, leaked, hung or ran out of
# memory; the reproducer is left in fuzz/out/<name>-crash-* (or -leak-, -timeout-, -oom-).
#
#   fuzz/run.sh 600            ten minutes per target
#   fuzz/run.sh 30 guard sse   only these targets
#
# A target links engine/base/*.c, engine/claude/*.c and engine/guard/*.c (with cJSON, xxHash and
# libcurl) unless its source names its own list
# in a comment line "/* fuzz-link: engine/template/render.c engine/claude/ engine/base/ */", where a
# directory stands for its .c files (a C comment cannot hold the glob "dir/*.c").
# Environment: CC (default clang), FUZZ_RSS_MB (2048), FUZZ_TIMEOUT_S per input (10).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$here/out
secs=${1:-60}
shift || true
cc=${CC:-clang}
rss=${FUZZ_RSS_MB:-2048}
per_input=${FUZZ_TIMEOUT_S:-10}

if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: fuzz/run.sh SECONDS [target ...]" >&2
  exit 2
fi
if ! command -v "$cc" >/dev/null; then
  echo "fuzz/run.sh: $cc not found (apt-get install clang)" >&2
  exit 2
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$here"/fuzz_*.c; do
    name=$(basename "$src" .c)
    targets+=("${name#fuzz_}")
  done
fi

mkdir -p "$out"
cflags=(-std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I "$root/engine"
        -I "$root/engine/include")
failed=0
for t in "${targets[@]}"; do
  src=$here/fuzz_$t.c
  if [ ! -f "$src" ]; then
    echo "$t: no such target ($src)" >&2
    failed=1
    continue
  fi
  link=$(sed -n 's|^/\* fuzz-link: \(.*\) \*/$|\1|p' "$src" | head -n 1)
  [ -n "$link" ] || link="engine/base/*.c engine/claude/*.c engine/guard/*.c"
  # shellcheck disable=SC2086 # the link list is globs, expanded here
  srcs=$(cd "$root" && for l in $link; do if [ -d "$l" ]; then ls "${l%/}"/*.c; else ls $l; fi; done)
  if ! (cd "$root" && "$cc" "${cflags[@]}" "$src" $srcs -lcjson -lxxhash -lcurl -o "$out/fuzz_$t") \
      >"$out/$t.build.log" 2>&1; then
    echo "$t: build failed, see $out/$t.build.log" >&2
    cat "$out/$t.build.log" >&2
    failed=1
    continue
  fi
  # New inputs go to a working corpus under out/; the committed seeds stay as they are.
  mkdir -p "$out/corpus/$t" "$here/corpus/$t"
  rm -f "$out/$t"-crash-* "$out/$t"-leak-* "$out/$t"-timeout-* "$out/$t"-oom-* \
        "$out/$t"-slow-unit-*
  "$out/fuzz_$t" -max_total_time="$secs" -rss_limit_mb="$rss" -timeout="$per_input" \
    -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/corpus/$t" "$here/corpus/$t" \
    >"$out/$t.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out/$t.log" | tail -n 1)
  found=$(find "$out" -maxdepth 1 -name "$t-crash-*" -o -maxdepth 1 -name "$t-leak-*" \
            -o -maxdepth 1 -name "$t-timeout-*" -o -maxdepth 1 -name "$t-oom-*" | wc -l)
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
    found=1 # died without leaving an artifact (build or sanitizer trouble)
  fi
  echo "$t: ${execs:-0} execs, $found crashes"
  if [ "$found" -ne 0 ]; then
    failed=1
    echo "  see $out/$t.log" >&2
    grep -m 3 -E "ERROR: |SUMMARY: |^==[0-9]+==" "$out/$t.log" | sed 's/^/  /' >&2
  fi
done
exit $failed
