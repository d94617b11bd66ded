#!/usr/bin/env bash
# nyx behind a corporate proxy and an AI gateway: tinyproxy with basic auth (HTTPS_PROXY,
# https_proxy, NO_PROXY; the CONNECT seen at the proxy; its credentials never printed, logged or
# stored; a wrong password a network_error naming the proxy, masked, not retried) in front of
# nghttpx (TLS) in front of `nyx sim`; and tinyproxy as a reverse gateway serving the API under a
# path prefix (ANTHROPIC_BASE_URL=http://127.0.0.1:PORT/anthropic).
set -uo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/nyx-proxy.XXXXXX")
source "$(dirname "$0")/lib/net.sh"
need openssl nghttpx tinyproxy
cd "$work" || exit 1

pass_word="pr0xy-pa55-7f3d91"

# start_tinyproxy NAME CONFIG-LINES: tinyproxy in the foreground on a free port; sets ${NAME}_port
start_tinyproxy() { on_free_port "$1" tinyproxy_server "$@"; }
tinyproxy_server() {
  printf 'Port %s\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nAllow 127.0.0.1\nLogLevel Info\nLogFile "%s"\n%s\n' \
    "$1" "$work/$2.log" "$3" >"$work/$2.conf"
  exec tinyproxy -d -c "$work/$2.conf" >"$work/$2.out" 2>&1
}

new_ca ca && new_cert good ca "IP:127.0.0.1,DNS:localhost" 30
check "openssl makes the test CA and certificate" $? "$(ls "$work")"
net_sim 5
check "nyx sim starts on a loopback port" $? "$(cat "$work/sim.out")"
start_tls front good.key good.pem "$sim_port"
check "nghttpx serves TLS in front of the simulator" $? "$(cat "$work/front.err" 2>/dev/null)"
start_tinyproxy proxy "BasicAuth nyxuser $pass_word"
check "tinyproxy with basic auth starts" $? "$(cat "$work/proxy.out" "$work/proxy.log" 2>/dev/null)"
start_tinyproxy gateway "$(printf 'ReverseOnly Yes\nReversePath "/anthropic/" "%s/"' "$sim_url")"
check "tinyproxy as a reverse gateway starts" $? "$(cat "$work/gateway.out" "$work/gateway.log" 2>/dev/null)"

write_call_script
tls=("NYX_PROVIDER=anthropic" "ANTHROPIC_API_KEY=net-test-key" "NYX_CA_FILE=$work/ca.pem"
     "ANTHROPIC_BASE_URL=https://127.0.0.1:$front_port")
proxy_url="http://nyxuser:$pass_word@127.0.0.1:$proxy_port"
connects() { grep -c "CONNECT 127.0.0.1:$front_port" "$work/proxy.log" 2>/dev/null; }

# ---- through the proxy ----

before=$(connects)
run_nyx "${tls[@]}" "HTTPS_PROXY=$proxy_url" -- run --debug call.lua
check "a call through an authenticating proxy (HTTPS_PROXY) succeeds" $((rc != 0)) "$out $err"
[[ $(connects) -gt $before ]]
check "the proxy saw the CONNECT to the API's host" $? "$(tail -5 "$work/proxy.log")"
grep -q "through the proxy http://\*\*\*:\*\*\*@127.0.0.1:$proxy_port/\? *, from HTTPS_PROXY" <<<"$err" ||
  grep -q "through the proxy http://\*\*\*:\*\*\*@127.0.0.1:$proxy_port.*from HTTPS_PROXY" <<<"$err"
check "nyx run --debug shows that a proxy was used, credentials masked" $? "$(grep -i proxy <<<"$err")"
debug_out="$out$err"
run_nyx -- audit --kind config
grep -q "proxy=HTTPS_PROXY ca=NYX_CA_FILE" <<<"$out"
check "the audit trail records that the proxy from HTTPS_PROXY was used (never its URL)" $? "$out $err"

before=$(connects)
run_nyx "${tls[@]}" "https_proxy=$proxy_url" -- run call.lua
[[ $rc == 0 && $(connects) -gt $before ]]
check "https_proxy (lower case) is honoured too" $? "rc=$rc $out $err"

before=$(connects)
run_nyx "${tls[@]}" "HTTPS_PROXY=$proxy_url" "NO_PROXY=localhost,127.0.0.1" -- run --debug call.lua
[[ $rc == 0 && $(connects) == "$before" ]] && ! grep -q "through the proxy" <<<"$err"
check "NO_PROXY naming the host sends the call direct" $? "rc=$rc $(grep -i proxy <<<"$err")"

before=$(connects)
run_nyx "${tls[@]}" "HTTPS_PROXY=$proxy_url" "NO_PROXY=.example.com" -- run call.lua
[[ $rc == 0 && $(connects) -gt $before ]]
check "NO_PROXY naming other hosts leaves the proxy in use" $? "rc=$rc $out $err"

# curl applies NO_PROXY too (as read when the endpoint opens): an address range there (which nyx's matching of
# names leaves to it) sends a call to an address in it direct, as it always has.
before=$(connects)
run_nyx "${tls[@]}" "HTTPS_PROXY=$proxy_url" "NO_PROXY=127.0.0.0/8" -- run call.lua
[[ $rc == 0 && $(connects) == "$before" ]]
check "NO_PROXY with an address range holding the host sends the call direct" $? "rc=$rc $out $err"

# ---- a refused tunnel ----

run_nyx "${tls[@]}" "HTTPS_PROXY=http://nyxuser:wrong-password@127.0.0.1:$proxy_port" "LLM_MAX_RETRIES=3" \
  -- run --debug call.lua
attempts=$(grep -c "nyx debug: >>> request" <<<"$err")
[[ $rc == 1 && $attempts == 1 ]] && grep -q "^error	network_error	false	the proxy http://\*\*\*:\*\*\*@127.0.0.1:$proxy_port" <<<"$out" &&
  grep -Eq "HTTP 40[17], the proxy's credentials in HTTPS_PROXY are missing or wrong" <<<"$out"
check "a wrong proxy password: network_error naming the proxy (masked) and its credentials, not retried" $? \
  "rc=$rc attempts=$attempts $out"
! grep -q "wrong-password" <<<"$out$err"
check "the wrong password is not printed either" $? "$(grep -n wrong-password <<<"$out$err")"

closed_port=$((proxy_port == 65000 ? 65001 : 65000))
run_nyx "${tls[@]}" "HTTPS_PROXY=http://nyxuser:$pass_word@127.0.0.1:$closed_port" "LLM_MAX_RETRIES=0" -- run call.lua
grep -q "^error	network_error	true	cannot reach the proxy http://\*\*\*:\*\*\*@127.0.0.1:$closed_port/ (HTTPS_PROXY)" <<<"$out"
check "a proxy that cannot be reached: a retryable network_error naming it, masked" $? "$out $err"
debug_out+="$out$err"

# ---- the credentials stay secret ----

! grep -q -- "$pass_word" <<<"$debug_out"
check "the proxy password is never printed (debug run)" $? "$(grep -n -- "$pass_word" <<<"$debug_out")"
! grep -a -q -- "$pass_word" "$work"/nyx.db*
check "the proxy password is not stored in the database" $? "$(grep -a -c -- "$pass_word" "$work"/nyx.db*)"

# ---- a gateway under a path prefix ----

run_nyx "NYX_PROVIDER=anthropic" "ANTHROPIC_API_KEY=net-test-key" \
  "ANTHROPIC_BASE_URL=http://127.0.0.1:$gateway_port/anthropic" -- run --debug call.lua
check "a base URL with a path prefix works through a gateway" $((rc != 0)) "$out $(tail -5 <<<"$err")"
grep -q "^POST http://127.0.0.1:$gateway_port/anthropic/v1/messages$" <<<"$err"
check "the request goes to the prefix's /v1/messages" $? "$(grep '^POST' <<<"$err")"
run_nyx "NYX_PROVIDER=anthropic" "ANTHROPIC_API_KEY=net-test-key" \
  "ANTHROPIC_BASE_URL=http://127.0.0.1:$gateway_port/anthropic/" -- run call.lua
check "a path prefix with a trailing slash works too" $((rc != 0)) "$out $err"

finish
