#!/usr/bin/env bash
# The ctest labels (cmake/labels.cmake): every test has exactly one, so `ctest -L unit` runs
# the quick tests and nothing else. check/cross_build, a second configure and build of the whole
# tree, is labelled build and not unit (it had both, and took two thirds of `ctest -L unit`).
set -uo pipefail
cd "${NYX_BUILD_DIR:?run through ctest}" || exit 2
listing=$(ctest --show-only=json-v1) || { echo "FAIL: ctest cannot list the tests"; exit 1; }
labels=$(jq -r '.tests[] | [.name, ([(.properties // [])[] | select(.name == "LABELS") | .value[]] | join(","))] | @tsv' <<<"$listing")
[ -n "$labels" ] || { echo "FAIL: no tests listed"; exit 1; }
bad=0
while IFS=$'\t' read -r name label; do
  case $label in
    unit|lua|e2e|pg|valgrind|bench|build) ;;
    *) echo "FAIL: $name has the labels '${label}', not exactly one of unit lua e2e pg valgrind bench build"; bad=1 ;;
  esac
done <<<"$labels"
cross=$(awk -F'\t' '$1 == "check/cross_build" {print $2}' <<<"$labels")
[ -z "$cross" ] || [ "$cross" = build ] || { echo "FAIL: check/cross_build is labelled '$cross', not build"; bad=1; }
[ $bad -eq 0 ] && echo "ok: $(wc -l <<<"$labels") tests, one label each"
exit $bad
