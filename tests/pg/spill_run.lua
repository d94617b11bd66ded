-- Calls that start while the PostgreSQL server is up and end after it is stopped: n calls
-- whose results go on (degrade) and n under a session budget, each reserved while the server
-- is up (their records wait, so do their results, for 4 s at most: budgeted calls are strict).
-- Prints what the script saw.
local nyx = require "nyx"
local n = tonumber(nyx.vars.n or 10)
local s = nyx.session{ name = "spill", budget_usd = 100 }
local tasks = {}
for i = 1, n do
  tasks[#tasks + 1] = nyx.spawn(function()
    local ok, r = pcall(nyx.call, { prompt = "free " .. i, max_tokens = 16 })
    if ok then
      io.stdout:write("SEEN\t", r.interaction_id, "\t", (r.text:gsub("[\t\n]", " ")), "\n")
    else
      io.stdout:write("FAILED\t", tostring(r.type), "\t", tostring(r.message), "\n")
    end
  end)
  tasks[#tasks + 1] = nyx.spawn(function()
    local ok, r = pcall(nyx.call, { prompt = "paid " .. i, max_tokens = 16, session = s, timeout = 4 })
    io.stdout:write(ok and "PAID\t" .. r.interaction_id or "WAITED\t" .. tostring(r.type), "\n")
  end)
end
for _, t in ipairs(tasks) do t:wait() end
print("done")
