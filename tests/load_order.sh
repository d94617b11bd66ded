#!/usr/bin/env bash
# The load order of `nyx` (CMakeLists.txt, "Load order"): each library of NYX_LOAD_FIRST that is
# in the process must be named in nyx's own list of libraries before libcurl, libpq and
# libcjson, or the dynamic linker walks them for each of the ~10,000 names it binds at
# start-up (3.5M instructions of `nyx --help`'s 14.3M).
set -uo pipefail
nyx=${NYX_BIN:?NYX_BIN names the nyx executable}
command -v readelf >/dev/null || { echo "ok - skipped (no readelf)"; exit 0; }

needed=$(readelf -d "$nyx" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
loaded=$(ldd "$nyx")
pos() { # pos SONAME_PREFIX: the position of the first NEEDED entry starting with it, or none
  awk -v p="$1" 'index($0, p) == 1 { print NR; exit }' <<<"$needed"
}
last_first=0
bad=0
for name in ${NYX_LOAD_FIRST:?NYX_LOAD_FIRST lists the libraries to load first}; do
  grep -Eq "[[:space:]/]lib$name\.so\.[0-9]+ " <<<"$loaded" || continue # not in the process here
  at=$(pos "lib$name.so.")
  if [ -z "$at" ]; then
    echo "not ok - lib$name is loaded but nyx does not name it"
    bad=1
    continue
  fi
  [ "$at" -gt "$last_first" ] && last_first=$at
done
for later in libcurl.so. libpq.so. libcjson.so.; do
  at=$(pos "$later")
  if [ -n "$at" ] && [ "$at" -lt "$last_first" ]; then
    echo "not ok - ${later%.so.} (NEEDED #$at) comes before a library of NYX_LOAD_FIRST (#$last_first)"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "ok - NYX_LOAD_FIRST (${NYX_LOAD_FIRST}) comes first: $(head -n "$last_first" <<<"$needed" | tr '\n' ' ')"
exit $bad
