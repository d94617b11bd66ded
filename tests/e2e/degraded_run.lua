local nyx = require "nyx"
local n = tonumber(nyx.vars.n or 1000)
local next_i, failed, seen_degraded = 1, 0, false
local ts = {}
for w = 1, 20 do
  ts[w] = nyx.spawn(function()
    while next_i <= n do
      local i = next_i; next_i = next_i + 1
      local ok = pcall(nyx.call, {prompt = "degrade " .. i, max_tokens = 8})
      if not ok then failed = failed + 1 end
      seen_degraded = seen_degraded or nyx.stats().storage_degraded
      if i == 200 and nyx.vars.marker then
        -- Ask for the lock, and go on only once another process holds it.
        io.stdout:write("LOCK\n"); io.stdout:flush()
        for _ = 1, 1000 do -- ten seconds at most
          local f = io.open(nyx.vars.marker)
          if f then f:close() break end
          nyx.sleep(0.01)
        end
      end
    end
  end)
end
for w = 1, 20 do ts[w]:wait() end
print("failed", failed, "degraded", seen_degraded)
for _ = 1, 40 do -- give the flusher time once the lock is gone
  if not nyx.stats().storage_degraded then break end
  nyx.sleep(0.1)
end
print("after", nyx.stats().storage_degraded)
