--- The guard's policy in the embedding example: decides how each call is made and what the
--- guard may do. Edit this file while the host runs (change the model, the patrol area): the
--- next call uses the new version, and a broken edit leaves this version serving, reported
--- once with file and line.
local M = {}

M.name = "patrol"
M.calls = 0 -- state that survives reloads, through on_reload
M.area = { x1 = 2, y1 = 2, x2 = 7, y2 = 7 } -- the guard never leaves it
M.tools = { "look", "move" } -- the host's tools the guard acts with (host.c registers them in C)

--- Changes to make to a call before it goes out.
---@param call table the call the driver is about to make
---@return table changes model, max_tokens, ...
function M.choose(call)
  assert(type(call) == "table", "choose(call): call must be a table")
  M.calls = M.calls + 1
  return { model = "claude-haiku-5-5", max_tokens = 256 }
end

local function clamp(v, lo, hi) return math.max(lo, math.min(hi, math.tointeger(v) or lo)) end

--- Asked before each tool runs: a move outside the patrol area is brought back into it; any
--- other tool than look and move is refused (the model reads that it was).
function M.on_tool(call, tool_call)
  if tool_call.name == "look" then return "allow" end
  if tool_call.name ~= "move" then return "deny" end
  local a, input = M.area, tool_call.input
  return { x = clamp(input.x, a.x1, a.x2), y = clamp(input.y, a.y1, a.y2) }
end

--- Runs after a reload; old is a shallow copy of the previous version's table.
---@param old table
function M.on_reload(old)
  M.calls = old.calls
end

return M
