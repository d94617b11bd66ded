local nyx = require "nyx"
local n = tonumber(nyx.vars.n or 1000)
local next_i, failed, seen_degraded = 1, 0, false
local ts = {}

-- Waits (ten seconds at most) until the file exists: another process says it did something.
local function await_file(path)
  for _ = 1, 1000 do
    local f = io.open(path)
    if f then f:close() return end
    nyx.sleep(0.01)
  end
end

-- With a marker, the calls after the 200th start only once another process holds the
-- database's lock (or deleted it), so that they meet it whatever the machine's load. With
-- `unlock` too, that process holds the lock until the file exists, and the script makes it
-- once it has seen what the lock should cause: under degrade, once every call has run (the
-- results went on while their records waited); under strict, once the records wait
-- (the storage is degraded while the results wait, so no call could end meanwhile).
local strict = (os.getenv("NYX_DURABILITY") or "strict") == "strict"
local function unlock()
  local f = assert(io.open(nyx.vars.unlock, "w"))
  f:close()
end
local watcher
if nyx.vars.unlock and strict then
  watcher = nyx.spawn(function()
    await_file(nyx.vars.marker)
    for _ = 1, 1000 do
      if nyx.stats().storage_degraded then break end
      nyx.sleep(0.01)
    end
    unlock()
  end)
end

for w = 1, 20 do
  ts[w] = nyx.spawn(function()
    while next_i <= n do
      local i = next_i; next_i = next_i + 1
      if i > 200 and nyx.vars.marker then await_file(nyx.vars.marker) end
      local ok = pcall(nyx.call, {prompt = "degrade " .. i, max_tokens = 8})
      if not ok then failed = failed + 1 end
      seen_degraded = seen_degraded or nyx.stats().storage_degraded
      if i == 200 and nyx.vars.marker then
        -- Ask for the lock, and go on only once another process holds it.
        io.stdout:write("LOCK\n"); io.stdout:flush()
        await_file(nyx.vars.marker)
      end
    end
  end)
end
for w = 1, 20 do ts[w]:wait() end
if watcher then watcher:wait() elseif nyx.vars.unlock then unlock() end
print("failed", failed, "degraded", seen_degraded)
-- Once the lock is gone, the flusher (every 0.5 s) writes what waits. (A database that
-- cannot be opened stays unavailable: nothing to wait for.)
for _ = 1, nyx.vars.unlock and 300 or 0 do
  if not nyx.stats().storage_degraded then break end
  nyx.sleep(0.1)
end
print("after", nyx.stats().storage_degraded)
