# What the e2e scripts share: "ok - ..." / "not ok - ..." lines counted in $failures, and nyx run
# with only the environment a test gives it (no API key or settings from outside). Source it
# once $work (the script's scratch directory) is set; a script adds its own settings with
# clean_env+=("VAR=value" ...). A script that sets no $work gets one here, removed at exit
# together with the nyx sim start_sim started and every process the script put in $pids.
# ctest gives the nyx command in NYX_BIN (and the checkout in NYX_SOURCE_DIR, which the script checks
# as it sources this file).
: "${NYX_BIN:?run through ctest}"

if [[ -z "${work:-}" ]]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-$(basename "$0" .sh).XXXXXX")
  sim_pid=""
  pids=()
  trap 'for p in $sim_pid "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait $sim_pid "${pids[@]}" 2>/dev/null
        rm -rf "$work"' EXIT
fi

failures=0
pass() { echo "ok - $1"; }
fail() {
  echo "not ok - $1"
  [[ -n "${2:-}" ]] && sed 's/^/    /' <<<"$2"
  failures=$((failures + 1))
}
# check NAME CONDITION-EXIT-STATUS [DETAIL]
check() { if [[ "$2" == 0 ]]; then pass "$1"; else fail "$1" "${3:-}"; fi; }
# check_grep NAME TEXT [GREP-OPTIONS...] PATTERN: the check NAME, passed when TEXT has a line
# matching (grep -q with the options given); TEXT is printed when it fails. check_no_grep: passed
# when no line matches.
check_grep() { local name=$1 text=$2; shift 2; grep -q "$@" <<<"$text"; check "$name" $? "$text"; }
check_no_grep() { local name=$1 text=$2; shift 2; ! grep -q "$@" <<<"$text"; check "$name" $? "$text"; }
# check_exit NAME RC TEXT [GREP-OPTIONS...] PATTERN: the check NAME, passed when nyx exited with
# RC ($rc) and TEXT has a line matching; the status and TEXT are printed when it fails.
check_exit() {
  local name=$1 want=$2 text=$3; shift 3; [[ $rc == "$want" ]] && grep -q "$@" <<<"$text"; check "$name" $? "rc=$rc $text"
}
# check_usage_errors COMMAND ARGS...: `nyx COMMAND ARGS` exits 2 for each ARGS (words split on spaces).
check_usage_errors() {
  local cmd=$1 args
  shift
  for args in "$@"; do
    # shellcheck disable=SC2086 # the words of ARGS
    run_nyx "$cmd" $args
    check "nyx $cmd $args is a usage error (2)" $((rc != 2)) "rc=$rc $err"
  done
}
# poll COMMAND...: runs COMMAND every 0.05 s until it succeeds, for 20 s at most; 1 if it never did.
poll() { local _; for _ in $(seq 400); do "$@" && return 0; sleep 0.05; done; return 1; }
# classify_template DIR [BODY [VARIABLE...]]: DIR/classify.md, a ticket in one word on
# claude-haiku-4-5: BODY (by default "{{ticket}}: classify this ticket in one word.") with the
# required variables ticket and each VARIABLE.
classify_template() {
  local dir=$1 body=${2:-'{{ticket}}: classify this ticket in one word.'} v
  mkdir -p "$dir"
  { printf -- '---\ndescription: one word for a ticket\nmodel: claude-haiku-4-5\nvariables:\n'
    for v in ticket "${@:3}"; do printf '  %s: {required: true}\n' "$v"; done
    printf -- '---\n%s\n' "$body"; } >"$dir/classify.md"
}
# finish: the script's last word: exits 1 when a check failed.
finish() {
  if [[ $failures -gt 0 ]]; then echo "$failures check(s) failed"; exit 1; fi
  echo "all checks passed"
}

# links BINARY PATTERN: whether BINARY's shared libraries include one matching PATTERN. ldd's
# whole output is read first: `ldd | grep -q` under pipefail fails when grep stops reading early.
links() { local libs; libs=$(ldd "$1" 2>/dev/null); grep -q -- "$2" <<<"$libs"; }
# under_sanitizer: whether nyx runs instrumented (memory figures then mean nothing).
under_sanitizer() { [[ -n "${LD_PRELOAD:-}${ASAN_OPTIONS:-}" ]] || links "$NYX_BIN" 'lib[alt]san'; }
# need_memory_figures: ends the script as skipped where peak memory means nothing (no GNU time,
# or a sanitizer's runtime).
need_memory_figures() {
  [[ -x /usr/bin/time ]] || { echo "skipped: no /usr/bin/time"; exit 0; }
  if under_sanitizer; then echo "skipped: memory is not measured under a sanitizer"; exit 0; fi
}

clean_env=(env -i "PATH=$PATH" "HOME=${HOME:-/tmp}" "NYX_DB=$work/nyx.db" "NYX_SIM_TTFT_MS=5"
           "NYX_SIM_TOKEN_MS=0.02")
for v in LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS LUA_PATH LUA_CPATH; do
  [[ -n "${!v:-}" ]] && clean_env+=("$v=${!v}")
done

# run_nyx [VAR=value... [--]] ARGS...: runs nyx in clean_env plus the variables given (killed
# after $nyx_timeout seconds when a script sets it); sets $out, $err and $rc.
run_nyx() {
  local vars=()
  while [[ $# -gt 0 && "$1" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do vars+=("$1"); shift; done
  [[ "${1:-}" == "--" ]] && shift
  "${clean_env[@]}" "${vars[@]}" ${nyx_timeout:+timeout "$nyx_timeout"} "$NYX_BIN" "$@" >"$work/out" 2>"$work/err"
  rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}

# peak_kb LABEL [VAR=value... [--]] ARGS...: runs nyx like run_nyx under GNU time, its output in
# $work/outLABEL and $work/errLABEL, and prints its peak resident memory in KB (0, with the
# error on stderr, when it failed).
peak_kb() {
  local label=$1 vars=()
  shift
  while [[ $# -gt 0 && "$1" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do vars+=("$1"); shift; done
  [[ "${1:-}" == "--" ]] && shift
  "${clean_env[@]}" "${vars[@]}" /usr/bin/time -f '%M' -o "$work/time$label" "$NYX_BIN" "$@" \
    >"$work/out$label" 2>"$work/err$label" ||
    { echo "nyx $1 failed: $(cat "$work/err$label")" >&2; echo 0; return; }
  tail -1 "$work/time$label"
}

# start_sim [VAR=value...] ARGS...: `nyx sim --port 0 ARGS` in clean_env plus the variables
# given, its output in $work/sim.out; sets $sim_pid, $port and $url. Fails (status 1) when the
# sim ended without printing its port, or printed none within 20 s (it waits for the port, not a
# fixed time: the sanitizer build under ctest -j takes its time to start). The script's cleanup
# kills $sim_pid.
start_sim() {
  local vars=() alive=1
  while [[ $# -gt 0 && "$1" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do vars+=("$1"); shift; done
  "${clean_env[@]}" "${vars[@]}" timeout 300 "$NYX_BIN" sim --port 0 "$@" >"$work/sim.out" 2>&1 &
  sim_pid=$!
  port=""
  for _ in $(seq 1 1000); do
    port=$(grep -Eo "listening on 127\.0\.0\.1:[0-9]+" "$work/sim.out" 2>/dev/null | grep -Eo "[0-9]+$")
    [[ -n "$port" || $alive == 0 ]] && break
    kill -0 "$sim_pid" 2>/dev/null || alive=0 # once more: it may have printed it as it ended
    sleep 0.02
  done
  url="http://127.0.0.1:$port"
  [[ -n "$port" ]]
}
