--- The agent policy of the embedding example: decides how each call is made.
--- Edit this file while the host runs (change the model, the name): the next call uses the new
--- version, and a broken edit leaves this version serving, reported once with file and line.
local M = {}

M.name = "thrifty"
M.calls = 0 -- state that survives reloads, through on_reload

--- Changes to make to a call before it goes out.
---@param call table the call the driver is about to make
---@return table changes model, max_tokens, ...
function M.choose(call)
  assert(type(call) == "table", "choose(call): call must be a table")
  M.calls = M.calls + 1
  return { model = "claude-haiku-5-5", max_tokens = 64 }
end

--- Runs after a reload; old is a shallow copy of the previous version's table.
---@param old table
function M.on_reload(old)
  M.calls = old.calls
end

return M
