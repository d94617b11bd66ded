-- Calls from 20 tasks, printing each result's interaction id as the script sees it; at the
-- 60th call it asks for the server to be stopped (STOP) and goes on. With budget=1 every
-- call is under a session budget.
local nyx = require "nyx"
local n = tonumber(nyx.vars.n or 400)
local s = nyx.vars.budget == "1" and nyx.session{ name = "outage", budget_usd = 100 } or nil
local ok, failed, next_i = 0, 0, 1
local tasks = {}
for w = 1, 20 do
  tasks[w] = nyx.spawn(function()
    while next_i <= n do
      local i = next_i
      next_i = next_i + 1
      local good, r = pcall(nyx.call, { prompt = "outage " .. i, max_tokens = 8, session = s })
      if good then
        ok = ok + 1
        io.stdout:write("ID ", r.interaction_id, "\n")
      else
        failed = failed + 1
        io.stderr:write("FAILED ", r.type, ": ", tostring(r.message), "\n")
      end
      if i == 60 then io.stdout:write("STOP\n") end
      io.stdout:flush()
    end
  end)
end
for w = 1, 20 do tasks[w]:wait() end
print("ok", ok, "failed", failed)
