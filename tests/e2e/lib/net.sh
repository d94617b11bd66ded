# Shared by tests/e2e/tls.sh and proxy.sh (sourced, not a test itself): the check helpers, a
# clean environment for nyx, certificates made with openssl, `nyx sim` on a loopback port, and
# nghttpx as its TLS (HTTP/2) front. Every server binds to 127.0.0.1 and is stopped on exit.
# Expects $work (a scratch directory) to be set by the sourcing script.

unset LD_PRELOAD

# shellcheck source=check.sh
source "${NYX_SOURCE_DIR:?run through ctest}/tests/e2e/lib/check.sh" # pass, fail, check, finish
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap stop_all EXIT

# A test that cannot have its servers says so, and still prints a result.
need() {
  local cmd
  for cmd in "$@"; do
    if ! command -v "$cmd" >/dev/null; then
      echo "ok - SKIP: $cmd is not installed (scripts/setup.sh installs it): nothing was tested"
      echo "all checks passed (skipped)"
      exit 0
    fi
  done
}

# nyx with only the environment a test gives it (check.sh's clean_env and run_nyx: no key, proxy
# or CA from outside), retrying at once, and given two minutes at most.
clean_env+=("NYX_RETRY_BASE_SECONDS=0.01" "NYX_RETRY_MAX_SECONDS=0.05")
nyx_timeout=120

# ---- certificates ----

# new_ca NAME: NAME.key, NAME.pem
new_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/$1.key" \
    -out "$work/$1.pem" -days 30 -subj "/CN=nyx test CA $1" 2>/dev/null
}
# new_cert NAME CA SAN DAYS [EXTRA-EXTENSION]: NAME.key, NAME.pem signed by CA (DAYS -1: expired)
new_cert() {
  local name=$1 ca=$2 san=$3 days=$4 ext=${5:-}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/$name.key" \
    -out "$work/$name.csr" -subj "/CN=$name" 2>/dev/null &&
  printf 'subjectAltName=%s\n%s\n' "$san" "$ext" >"$work/$name.ext" &&
  openssl x509 -req -in "$work/$name.csr" -CA "$work/$ca.pem" -CAkey "$work/$ca.key" -CAcreateserial \
    -out "$work/$name.pem" -days "$days" -extfile "$work/$name.ext" 2>/dev/null
}

# ---- servers ----

# net_sim TTFT-MS: check.sh's start_sim with the tests' API key; sets $sim_port and $sim_url.
net_sim() {
  start_sim --ttft-ms "$1" --api-key net-test-key
  local started=$?
  pids+=("$sim_pid")
  sim_port=$port sim_url=$url
  return $started
}

# wait_port PORT PID: 0 once something listens on 127.0.0.1:PORT (and PID still runs)
wait_port() {
  local i
  for i in $(seq 200); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# on_free_port NAME SERVER ARGS...: runs `SERVER PORT ARGS` in the background (SERVER, a function,
# execs the server) on a random port until one listens, five tries at most; sets ${NAME}_port.
on_free_port() {
  local name=$1 try port pid
  shift
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    "$1" "$port" "${@:2}" &
    pid=$!
    if wait_port "$port" "$pid"; then
      pids+=("$pid")
      printf -v "${name}_port" '%s' "$port"
      return 0
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  return 1
}

# start_tls NAME KEY CERT BACKEND-PORT [nghttpx options...]: nghttpx on a free port in front
# of the backend; sets ${NAME}_port. Its access log ($work/NAME.log) records each request's
# ALPN, path and the gateway headers the tests send.
start_tls() { on_free_port "$1" tls_server "$@"; }
tls_server() {
  local port=$1 name=$2 key=$3 cert=$4 backend=$5
  shift 5
  exec nghttpx --conf=/dev/null --no-ocsp --workers=1 --frontend="127.0.0.1,$port" \
    --backend="127.0.0.1,$backend" --accesslog-file="$work/$name.log" \
    --accesslog-format='$alpn $method $path route=$http_x_gateway_route call=$http_x_call_tag' \
    --errorlog-file="$work/$name.err" "$@" "$work/$key" "$work/$cert"
}

# A script making one small call and printing what came back, or the error's fields.
write_call_script() {
  cat >"$work/call.lua" <<'EOF'
local nyx = require "nyx"
local ok, r = pcall(nyx.call, { prompt = "Hello over the network", max_tokens = 16,
                                headers = nyx.vars.tag and { ["x-call-tag"] = nyx.vars.tag } or nil })
if ok then
  print("ok", #r.text > 0, r.attempts)
else
  print("error", r.type, r.retryable, r.message)
  os.exit(1)
end
EOF
}
