#!/usr/bin/env bash
# Connections and TLS handshakes per 1,000 calls over HTTPS, HTTP/2 against HTTP/1.1: `nyx sim`
# behind nghttpx (TLS; HTTP/2 or HTTP/1.1 to nyx by ALPN), a CA made here by openssl, all on
# loopback; bench/net.lua makes the calls. Usage: bench/net.sh BUILD_DIR [--short]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
short=${2:-}
for cmd in openssl nghttpx; do
  command -v "$cmd" >/dev/null || { echo "net: skipped ($cmd is not installed; scripts/setup.sh installs it)"; exit 0; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-bench-net.XXXXXX")
sim_pid="" tls_pid=""
cleanup() {
  for p in $tls_pid $sim_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=nyx bench CA" 2>/dev/null
openssl req -new "${ec[@]}" -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext 2>/dev/null

"$build/nyx" sim --port 0 --ttft-ms 5 --api-key bench-key >sim.out 2>&1 & sim_pid=$!
for _ in $(seq 200); do grep -qs 'listening on' sim.out && break; sleep 0.05; done
sim_port=$(grep -Eo '127\.0\.0\.1:[0-9]+' sim.out | head -1 | cut -d: -f2)
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  nghttpx --conf=/dev/null --no-ocsp --workers=1 --frontend="127.0.0.1,$port" --backend="127.0.0.1,$sim_port" \
    --backend-connections-per-host=64 --errorlog-file=tls.err srv.key srv.pem 2>>tls.err & tls_pid=$!
  up=""
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { up=1; break; }
    kill -0 "$tls_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$up" ] && break
  kill "$tls_pid" 2>/dev/null || true; wait "$tls_pid" 2>/dev/null || true; tls_pid=""
done
[ -n "$tls_pid" ] || { echo "net: nghttpx did not start"; cat tls.err; exit 1; }
run() {
  NYX_PROVIDER=anthropic ANTHROPIC_API_KEY=bench-key ANTHROPIC_BASE_URL="https://127.0.0.1:$port" \
    NYX_CA_FILE="$work/ca.pem" NYX_DB=:memory: no_proxy=127.0.0.1 NO_PROXY=127.0.0.1 env "$@"
}
for v in 2 1.1; do
  label=h${v%%.*}
  t0=$(date +%s%N)
  run NYX_HTTP_VERSION=$v "$build/nyx" run "$here/net.lua" --var label=$label ${short:+--var short=1}
  echo "${label}_wall_ms: $((($(date +%s%N) - t0) / 1000000)) (the whole nyx run)"
done
