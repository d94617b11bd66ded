#!/usr/bin/env bash
# nyx over TLS, as a user behind a private CA or a gateway sees it: `nyx sim` behind nghttpx (TLS
# and HTTP/2 to nyx, HTTP/1.1 to the simulator) with certificates made here by openssl. Trust from
# NYX_CA_FILE, SSL_CERT_FILE and CURL_CA_BUNDLE; each failure (unknown CA, expired, wrong name, no
# TLS, a required client certificate) as a tls_error naming the host, the reason and the fix, not
# retried; mutual TLS with NYX_CLIENT_CERT/NYX_CLIENT_KEY; NYX_TLS_INSECURE for loopback only;
# gateway headers (NYX_EXTRA_HEADERS, per call) reaching the server and masked in the debug view;
# HTTP/2 calls sharing one connection where HTTP/1.1 opens many, and at most 64 however many calls.
set -uo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-tls.XXXXXX")
source "$(dirname "$0")/lib/net.sh"
need openssl nghttpx
cd "$work" || exit 1

new_ca ca && new_ca other &&
new_cert good ca "IP:127.0.0.1,DNS:localhost" 30 &&
new_cert expired ca "IP:127.0.0.1,DNS:localhost" -1 &&
new_cert wrongname ca "DNS:wrong.example" 30 &&
new_cert stranger other "IP:127.0.0.1,DNS:localhost" 30 &&
new_cert client ca "DNS:nyx-client" 30 "extendedKeyUsage=clientAuth" &&
new_cert rogue other "DNS:nyx-client" 30 "extendedKeyUsage=clientAuth"
check "openssl makes the test CAs and certificates" $? "$(ls "$work")"

net_sim 40
check "nyx sim starts on a loopback port" $? "$(cat "$work/sim.out")"
start_tls front good.key good.pem "$sim_port" &&
start_tls expired expired.key expired.pem "$sim_port" &&
start_tls wrongname wrongname.key wrongname.pem "$sim_port" &&
start_tls stranger stranger.key stranger.pem "$sim_port" &&
start_tls mtls good.key good.pem "$sim_port" --verify-client --verify-client-cacert="$work/ca.pem" \
  --tls-max-proto-version=TLSv1.2 &&
start_tls mtls13 good.key good.pem "$sim_port" --verify-client --verify-client-cacert="$work/ca.pem" \
  --tls-min-proto-version=TLSv1.3
check "nghttpx serves TLS in front of the simulator" $? "$(cat "$work"/*.err 2>/dev/null | tail -20)"

write_call_script
api=("NYX_PROVIDER=anthropic" "ANTHROPIC_API_KEY=net-test-key")
at() { echo "ANTHROPIC_BASE_URL=https://127.0.0.1:$1"; }

# ---- trust ----

run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/ca.pem" -- run call.lua
check "a call over TLS succeeds with NYX_CA_FILE naming the private CA" $((rc != 0)) "$out $err"
grep -q "^h2 POST /v1/messages" front.log
check "the call went over HTTP/2 (ALPN h2 at the server)" $? "$(cat front.log)"

run_nyx "${api[@]}" "$(at "$front_port")" "SSL_CERT_FILE=$work/ca.pem" -- run call.lua
check "SSL_CERT_FILE is honoured" $((rc != 0)) "$out $err"
run_nyx "${api[@]}" "$(at "$front_port")" "CURL_CA_BUNDLE=$work/ca.pem" -- run call.lua
check "CURL_CA_BUNDLE is honoured" $((rc != 0)) "$out $err"
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/other.pem" "SSL_CERT_FILE=$work/ca.pem" -- run call.lua
[[ $rc == 1 ]] && grep -q "tls_error" <<<"$out"
check "NYX_CA_FILE comes before SSL_CERT_FILE" $? "$out $err"

# ---- each failure, typed and explained ----

# expect_tls NAME PORT WORDS... : a tls_error, not retried (one attempt in the debug view),
# naming the host and each of WORDS
expect_tls() {
  local name=$1 port=$2
  shift 2
  run_nyx "${api[@]}" "$(at "$port")" "LLM_MAX_RETRIES=3" "$@" -- run --debug call.lua
  local attempts
  attempts=$(grep -c "nyx debug: >>> request" <<<"$err")
  [[ $rc == 1 ]] && grep -q "^error	tls_error	false	" <<<"$out" && grep -q "127.0.0.1" <<<"$out" &&
    [[ $attempts -ge 1 && $attempts -le ${max_attempts:-1} ]]
  check "$name: tls_error naming the host, not retried" $? "rc=$rc attempts=$attempts $out"
}
expect_words() {
  local name=$1 w missing=""
  shift
  for w in "$@"; do grep -qF -- "$w" <<<"$out" || missing+="[$w] "; done
  [[ -z "$missing" ]]
  check "$name" $? "missing $missing in: $out"
}

expect_tls "unknown CA (no CA given)" "$front_port"
expect_words "unknown CA: the reason and the variable that fixes it" "unknown CA" "NYX_CA_FILE"
expect_tls "unknown CA (another CA given)" "$stranger_port" "NYX_CA_FILE=$work/ca.pem"
expect_words "a server signed by another CA is an unknown CA" "unknown CA" "NYX_CA_FILE"
expect_tls "expired certificate" "$expired_port" "NYX_CA_FILE=$work/ca.pem"
expect_words "expired certificate: the reason" "expired"
expect_tls "wrong name" "$wrongname_port" "NYX_CA_FILE=$work/ca.pem"
expect_words "wrong name: the reason and what fixes it" "name mismatch" "ANTHROPIC_BASE_URL"
expect_tls "a plain HTTP server behind https://" "$sim_port"
expect_words "no TLS at all: a handshake failure" "handshake"
# Under TLS 1.2 a server refuses a client certificate in the handshake: a tls_error at once.
expect_tls "a client certificate required but none given" "$mtls_port" "NYX_CA_FILE=$work/ca.pem"
expect_words "client certificate required: the variables that fix it" "client certificate" "NYX_CLIENT_CERT" \
  "NYX_CLIENT_KEY"
expect_tls "a client certificate from another CA" "$mtls_port" "NYX_CA_FILE=$work/ca.pem" \
  "NYX_CLIENT_CERT=$work/rogue.pem" "NYX_CLIENT_KEY=$work/rogue.key"
expect_words "a refused client certificate: what must change" "NYX_CLIENT_CERT"
# Under TLS 1.3 the refusal comes after the handshake: a request written first fails as a broken
# pipe (a network_error, retried); a refusal read is a tls_error. Either way the error says what
# to set.
for mode in none rogue; do
  certs=()
  [[ $mode == rogue ]] && certs=("NYX_CLIENT_CERT=$work/rogue.pem" "NYX_CLIENT_KEY=$work/rogue.key")
  run_nyx "${api[@]}" "$(at "$mtls13_port")" "NYX_CA_FILE=$work/ca.pem" "${certs[@]}" -- run call.lua
  [[ $rc == 1 ]] && grep -Eq "^error	(tls_error	false|network_error	true)	.*NYX_CLIENT_CERT" <<<"$out" &&
    grep -q "127.0.0.1" <<<"$out"
  check "TLS 1.3, client certificate $mode: the error names the host and NYX_CLIENT_CERT" $? "$out"
done
expect_tls "a client key that is not the certificate's" "$mtls_port" "NYX_CA_FILE=$work/ca.pem" \
  "NYX_CLIENT_CERT=$work/client.pem" "NYX_CLIENT_KEY=$work/rogue.key"
expect_words "an unusable client key: the variables" "NYX_CLIENT_CERT" "NYX_CLIENT_KEY"

# A certificate problem is a setting to fix, not the provider failing: the breaker does not open.
cat >breaker.lua <<'EOF2'
local nyx = require "nyx"
local types = {}
for i = 1, 4 do
  local ok, e = pcall(nyx.call, { prompt = "breaker " .. i, max_tokens = 8 })
  types[#types + 1] = ok and "ok" or e.type
end
print(table.concat(types, ","), "opens", nyx.stats().breaker_opens)
EOF2
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_BREAKER_FAILURES=2" -- run breaker.lua
grep -q "^tls_error,tls_error,tls_error,tls_error	opens	0$" <<<"$out"
check "tls_errors do not open the circuit breaker" $? "$out $err"

# ---- mutual TLS ----

for port in "$mtls_port" "$mtls13_port"; do
  run_nyx "${api[@]}" "$(at "$port")" "NYX_CA_FILE=$work/ca.pem" "NYX_CLIENT_CERT=$work/client.pem" \
    "NYX_CLIENT_KEY=$work/client.key" -- run call.lua
  check "mutual TLS ($([[ $port == "$mtls_port" ]] && echo 1.2 || echo 1.3)): NYX_CLIENT_CERT and NYX_CLIENT_KEY are presented" \
    $((rc != 0)) "$out $err"
done

# ---- NYX_TLS_INSECURE: loopback only, and never quiet ----

run_nyx "${api[@]}" "$(at "$stranger_port")" "NYX_TLS_INSECURE=1" -- run call.lua
check "NYX_TLS_INSECURE=1 reaches a loopback host with an unknown CA" $((rc != 0)) "$out $err"
check_grep "NYX_TLS_INSECURE=1 warns at start" "$err" "NYX_TLS_INSECURE=1: certificates are NOT verified"
run_nyx -- audit --kind config
grep -q "tls_insecure=1" <<<"$out"
check "the audit trail records a run with NYX_TLS_INSECURE=1" $? "$out $err"
run_nyx "${api[@]}" "ANTHROPIC_BASE_URL=https://api.example.invalid" "NYX_TLS_INSECURE=1" -- run call.lua
[[ $rc == 1 ]] && grep -q "NYX_TLS_INSECURE=1 is for local testing only" <<<"$out$err" &&
  grep -q "api.example.invalid is not a loopback host" <<<"$out$err"
check "NYX_TLS_INSECURE=1 is refused for a host that is not loopback" $? "rc=$rc $out $err"

# ---- malformed settings name their variable ----

bad_setting() {
  local name=$1 word=$2
  shift 2
  run_nyx "${api[@]}" "$(at "$front_port")" "$@" -- run call.lua
  [[ $rc != 0 ]] && grep -q -- "$word" <<<"$out$err"
  check "$name" $? "rc=$rc $out $err"
}
bad_setting "an unreadable NYX_CA_FILE is an error naming it" "NYX_CA_FILE: cannot read" "NYX_CA_FILE=$work/none.pem"
bad_setting "an unreadable SSL_CERT_FILE is an error naming it" "SSL_CERT_FILE: cannot read" \
  "SSL_CERT_FILE=$work/none.pem"
bad_setting "NYX_CLIENT_KEY without NYX_CLIENT_CERT is an error" "NYX_CLIENT_KEY is set but NYX_CLIENT_CERT" \
  "NYX_CLIENT_KEY=$work/client.key"
bad_setting "NYX_EXTRA_HEADERS must be a JSON object" "NYX_EXTRA_HEADERS must be a JSON object" \
  'NYX_EXTRA_HEADERS=["x"]'
bad_setting "NYX_EXTRA_HEADERS cannot replace the API key" "x-api-key is set by nyx" \
  'NYX_EXTRA_HEADERS={"x-api-key":"other"}'
bad_setting "NYX_EXTRA_HEADERS values stay on one line" "must be on one line" \
  'NYX_EXTRA_HEADERS={"x-a":"b\r\nx-injected: 1"}'
bad_setting "NYX_HTTP_VERSION is 2 or 1.1" "NYX_HTTP_VERSION must be" "NYX_HTTP_VERSION=3"

# ---- gateway headers ----

: >front.log
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/ca.pem" \
  'NYX_EXTRA_HEADERS={"x-gateway-route":"claude-eu","x-gateway-token":"gw-secret-0123456789"}' \
  -- run --debug call.lua --var tag=call-7
check "a call with NYX_EXTRA_HEADERS and per-call headers succeeds" $((rc != 0)) "$out $err"
grep -q "route=claude-eu call=call-7" front.log
check "the server receives NYX_EXTRA_HEADERS and the call's own headers" $? "$(cat front.log)"
grep -q "^x-gateway-route: claude-eu$" <<<"$err" && grep -q "^x-call-tag: call-7$" <<<"$err"
check "the debug view shows the gateway headers" $? "$err"
! grep -q "gw-secret-0123456789" <<<"$err" && grep -q "^x-gateway-token: " <<<"$err"
check "the debug view masks a header whose name looks secret" $? "$(grep -i gateway <<<"$err")"
cat >badheader.lua <<'EOF'
local nyx = require "nyx"
local ok, e = pcall(nyx.call, { prompt = "x", headers = { ["content-type"] = "text/plain" } })
print(ok, type(e) == "table" and e.type, type(e) == "table" and e.message or e)
EOF
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/ca.pem" -- run badheader.lua
grep -q "^false	invalid_argument	.*headers: content-type is set by nyx" <<<"$out"
check "a call may not replace a header nyx sets (invalid_argument naming it)" $? "$out $err"

# ---- HTTP/2: concurrent calls share a connection ----

cat >fanout.lua <<'EOF'
local nyx = require "nyx"
local n = tonumber(nyx.vars.n)
local fns = {}
for i = 1, n do fns[i] = function() return nyx.call{ prompt = "fan out " .. i, max_tokens = 8 } end end
local rs = { nyx.gather(table.unpack(fns)) }
local ok = 0
for _, r in ipairs(rs) do if r and r.text then ok = ok + 1 end end
print("ok", ok, "connections", nyx.stats().connections_opened)
EOF
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/ca.pem" -- run fanout.lua --var n=40
h2=$(awk '{print $4}' <<<"$out")
[[ $rc == 0 && "$(awk '{print $2}' <<<"$out")" == 40 && -n "$h2" && $h2 -le 2 ]]
check "HTTP/2: 40 concurrent calls open at most 2 connections" $? "rc=$rc $out $err"
# Past the 100 streams nghttpx gives a connection, libcurl alone opened one connection per call
# (201 for 300 calls); at most 64 are opened now and the rest wait for a stream.
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/ca.pem" -- run fanout.lua --var n=300
many=$(awk '{print $4}' <<<"$out")
[[ $rc == 0 && "$(awk '{print $2}' <<<"$out")" == 300 && -n "$many" && $many -ge 3 && $many -le 64 ]]
check "HTTP/2: 300 concurrent calls all answered over at most 64 connections" $? "rc=$rc $out $err"
run_nyx "${api[@]}" "$(at "$front_port")" "NYX_CA_FILE=$work/ca.pem" "NYX_HTTP_VERSION=1.1" -- run fanout.lua --var n=40
h1=$(awk '{print $4}' <<<"$out")
[[ $rc == 0 && -n "$h1" && $h1 -ge 20 ]]
check "HTTP/1.1: the same 40 calls open a connection each (the comparison holds)" $? "rc=$rc $out $err"

finish
