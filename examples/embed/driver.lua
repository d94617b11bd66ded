-- The script the embedding example runs: once a second it asks the policy how to call Claude,
-- then calls. `policy` stays the same table when policy.lua is reloaded, so the next call
-- goes through the new version.
local nyx = require "nyx"
local policy = require "policy"

local n = 0
while true do
  n = n + 1
  local call = { prompt = ("Status report %d: what changed in the world this second?"):format(n),
                 max_tokens = 256 }
  for k, v in pairs(policy.choose(call) or {}) do
    call[k] = v
  end
  local ok, r = pcall(nyx.call, call)
  if ok then
    print(("call %d: policy %s (call %d of it), model %s, max_tokens %d, %d output tokens"):format(
      n, policy.name, policy.calls, r.model, call.max_tokens, r.usage.output_tokens))
  else
    print(("call %d: policy %s, failed: %s"):format(n, policy.name, tostring(r.message or r)))
  end
  nyx.sleep(1)
end
