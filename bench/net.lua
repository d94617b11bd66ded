-- Connections and TLS handshakes per 1,000 calls, 50 in flight, over HTTPS: HTTP/2 (calls wait
-- for the connection being set up and share it) against HTTP/1.1 (a connection per call in
-- flight). bench/run.sh starts `nyx sim` behind nghttpx (TLS, HTTP/2) with a CA made by
-- openssl and runs this twice, with NYX_HTTP_VERSION=2 and 1.1.
-- Run: ANTHROPIC_API_KEY=x ANTHROPIC_BASE_URL=https://127.0.0.1:PORT NYX_CA_FILE=ca.pem
--      nyx run bench/net.lua [--var short=1] [--var label=h2]
local nyx = require "nyx"

local calls = nyx.vars.short == "1" and 200 or 1000
local inflight = 50
local label = nyx.vars.label or "h2"

local next_call, ok, failed = 0, 0, 0
local function worker()
  while next_call < calls do
    next_call = next_call + 1
    local good = pcall(nyx.call, { prompt = "connection bench " .. next_call, max_tokens = 8 })
    if good then ok = ok + 1 else failed = failed + 1 end
  end
end
local tasks = {}
for i = 1, inflight do tasks[i] = nyx.spawn(worker) end
for _, t in ipairs(tasks) do t:wait() end
local s = nyx.stats()
local per = 1000 / calls
print(("%s_calls_ok: %d of %d (%d in flight)"):format(label, ok, calls, inflight))
print(("%s_connections_per_1000_calls: %.1f"):format(label, s.connections_opened * per))
print(("%s_tls_handshakes_per_1000_calls: %.1f"):format(label, s.tls_handshakes * per))
if failed > 0 then os.exit(1) end
