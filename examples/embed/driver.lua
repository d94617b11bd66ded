-- The script the embedding example runs: once a second the guard (an agent whose policy is
-- policy.lua) asks Claude what to do next, and acts through the host's C tools "look" and
-- "move"; the tool loop waits while the host walks the guard over several frames. `policy`
-- stays the same table when policy.lua is reloaded, so the next call goes through the new
-- version.
local nyx = require "nyx"
local policy = require "policy"

local guard = nyx.agent{ name = "guard", policy = policy }
local n = 0
while true do
  n = n + 1
  local ok, r = pcall(guard.call, guard, {
    prompt = ("Turn %d: you are the guard of the castle yard. Look around, then walk to where you are needed."):format(n),
    tools = policy.tools, max_iterations = 4 })
  if ok then
    print(("turn %d: policy %s (call %d of it), model %s, %d iterations, %d tool calls, stop %s, $%.5f"):format(
      n, policy.name, policy.calls, r.model, r.iterations or 1, #(r.messages[3] and r.messages[3].content or {}),
      r.stop_reason, r.total_usage and r.total_usage.cost_usd or r.usage.cost_usd))
  else
    print(("turn %d: policy %s, failed: %s"):format(n, policy.name, tostring(r.message or r)))
  end
  nyx.sleep(1)
end
