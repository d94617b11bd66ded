--- What the specs that watch the wire share: the simulator's request log read inside a case,
--- and the case's database read outside it.
local H = require "helpers.nyx_case"
local json = require "dkjson"

local M = {}

--- Lua to prepend to a case's script: sent(model) gives the Messages requests that reached
--- the simulator (of that model, or all), by arrival.
M.SENT = [[
local function sent(model)
  local out = {}
  for _, q in ipairs(sim.requests()) do
    if q.path == "/v1/messages" and (model == nil or q.model == model) then out[#out + 1] = q end
  end
  table.sort(out, function(a, b) return a.t < b.t end)
  return out
end
]]

--- The HTTP status of each request of a log.
function M.statuses(log)
  local out = {}
  for i, q in ipairs(log) do out[i] = q.status end
  return out
end

--- How many members of list equal value.
function M.count(list, value)
  local n = 0
  for _, v in ipairs(list) do
    if v == value then n = n + 1 end
  end
  return n
end

--- Rows of a query on a case's database, through the sqlite3 command (not instrumented: no
--- sanitizer runtime preloaded into it).
function M.sql(db, query)
  local p = assert(io.popen(("env -u LD_PRELOAD sqlite3 -json %s %s"):format(H.quote(db), H.quote(query))))
  local out = p:read("a")
  p:close()
  if out:match("^%s*$") then return {} end
  return assert(json.decode(out), out)
end

return M
