#!/usr/bin/env bash
# The frames benchmark (bench_engine --frames) prints the machine's floor beside nyx's frames:
# as many canary frames as nyx ran, each of real arithmetic, and the frames past a millisecond
# that the floor does not account for (nyx's count less the floor's, at least 0), of wall time
# and of CPU, and how many frames past a millisecond of wall time lost the core to another
# thread. The figures bench/run.sh and README name are all still printed. No time is asserted:
# only what the figures must say of each other.
set -uo pipefail
: "${NYX_BIN:?run through ctest}"
source "$(dirname "$0")/lib/check.sh"
bench="$(dirname "$NYX_BIN")/bench/bench_engine"
[[ -x "$bench" ]] || { echo "skipped: no $bench"; exit 0; }
"$bench" --frames >"$work/out" 2>"$work/err"
check "bench_engine --frames runs" $? "$(cat "$work/err")"
out=$(cat "$work/out")
fig() { awk -v k="$1:" '$1 == k { print $2 }' <<<"$out"; }
# of_cpu NAME: the "(of CPU: N)" count of a line.
of_cpu() { grep "^$1:" <<<"$out" | grep -Eo 'of CPU: [0-9]+' | grep -Eo '[0-9]+$'; }

missing=""
for k in host_frames nyx_poll_0_mean_ms nyx_poll_0_p99_ms nyx_poll_0_max_ms nyx_poll_0_mean_cpu_ms \
         nyx_poll_0_p99_cpu_ms nyx_poll_0_max_cpu_ms nyx_poll_0_frames_over_1ms first_frame_ms \
         nyx_poll_0_frames_over_1ms_preempted nyx_poll_0_frames_slept floor_frames_over_1ms_preempted \
         floor_frames floor_mean_ms floor_p99_ms floor_max_ms floor_mean_cpu_ms floor_p99_cpu_ms \
         floor_max_cpu_ms floor_frames_over_1ms nyx_poll_0_frames_over_1ms_beyond_floor; do
  [[ -n "$(fig "$k")" ]] || missing+=" $k"
done
check "every figure is printed, nyx's and the floor's, of both clocks" "$([[ -z "$missing" ]]; echo $?)" \
  "missing:$missing"$'\n'"$out"

check "the floor runs as many frames as nyx" "$([[ "$(fig floor_frames)" == "$(fig host_frames)" ]]; echo $?)" "$out"
check "a canary frame spends CPU (its arithmetic is not optimised away)" \
  "$(awk -v c="$(fig floor_mean_cpu_ms)" 'BEGIN { exit !(c > 0) }'; echo $?)" "$out"

beyond() { local d=$(($1 - $2)); echo $((d > 0 ? d : 0)); }
want="$(beyond "$(fig nyx_poll_0_frames_over_1ms)" "$(fig floor_frames_over_1ms)")"
check "frames past 1 ms beyond the floor: nyx's less the floor's (wall time)" \
  "$([[ "$(fig nyx_poll_0_frames_over_1ms_beyond_floor)" == "$want" ]]; echo $?)" "$out"
want_cpu="$(beyond "$(of_cpu nyx_poll_0_frames_over_1ms)" "$(of_cpu floor_frames_over_1ms)")"
check "frames past 1 ms beyond the floor: nyx's less the floor's (CPU)" \
  "$([[ "$(of_cpu nyx_poll_0_frames_over_1ms_beyond_floor)" == "$want_cpu" ]]; echo $?)" "$out"
check "preempted frames are among those over 1 ms (nyx's, the floor's)" \
  "$(( $(fig nyx_poll_0_frames_over_1ms_preempted) <= $(fig nyx_poll_0_frames_over_1ms) &&
      $(fig floor_frames_over_1ms_preempted) <= $(fig floor_frames_over_1ms) ? 0 : 1 ))" "$out"
finish
