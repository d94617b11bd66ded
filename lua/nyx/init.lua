--- nyx: call Claude from Lua through the nyx engine.
--- The C module nyx.core holds the engine primitives; this file adds what is plain Lua.
local core = require "nyx.core"

-- The halves in C of the Lua library's own functions (nyx.batch, nyx.batch_pickup, the tool
-- loop, the council's estimate): the library reaches them in nyx.core; scripts use what they
-- serve, so they are no part of nyx.
local LIBRARY_ONLY = { batch_open = true, batch_requests = true, batch_record = true, batch_settle = true,
                       batch_api = true, batch_polls_for_s = true, host_tool = true, host_tool_call = true,
                       otel_tool = true, estimate = true, schema_problem = true }

local M = {}
for name, value in pairs(core) do
  if not LIBRARY_ONLY[name] then M[name] = value end
end

local tools = require "nyx.tools"

--- Calls Claude. Returns the answer with r.content (every block), r.text, r.tool_calls,
--- r.thinking and r.messages; runs the tool loop when any tool given has run.
---@param call table
---@return table
function M.call(call)
  return tools.call(core.call, call)
end

M.tool = tools.tool

--- Runs every function as its own task and returns their first results, in order.
--- Waits for all of them; if any failed, raises the first failure (by argument order).
---@param ... function
---@return any ...
function M.gather(...)
  local fns = table.pack(...)
  local tasks = {}
  for i = 1, fns.n do
    if type(fns[i]) ~= "function" then
      core.raise({ type = "invalid_argument",
              message = ("bad argument #%d to 'gather' (function expected, got %s)"):format(i, type(fns[i])) }, 2)
    end
    tasks[i] = core.spawn(fns[i])
  end
  local results, first_error = {}, nil
  for i = 1, fns.n do
    local ok, value = pcall(tasks[i].wait, tasks[i])
    if ok then
      results[i] = value
    elseif first_error == nil then
      first_error = value
    end
  end
  if first_error ~= nil then
    error(first_error, 0)
  end
  return table.unpack(results, 1, fns.n)
end

-- The Lua library, loaded on first use so `require "nyx"` stays cheap: nyx.NAME is the module
-- nyx.NAME's field NAME (a function such as nyx.council) or the module itself (a namespace such
-- as nyx.guard). A module that fails to load raises its own error, with its file:line; a name
-- that is not on the list is nil, whatever files package.path holds: the list is the
-- library's whole surface.
local SUBMODULES = { "agent", "batch", "batch_pickup", "council", "guard", "pii" }
local is_submodule = {}
for _, name in ipairs(SUBMODULES) do is_submodule[name] = true end

setmetatable(M, {
  __index = function(t, name)
    if type(name) ~= "string" then return nil end
    if not is_submodule[name] then return nil end
    local mod = require("nyx." .. name)
    if type(mod) ~= "table" then return nil end
    local value = mod[name] or mod
    rawset(t, name, value)
    return value
  end,
})

-- Notices (which provider serves, unknown prices) go to stderr once, from Lua, not C.
core.set_log(function(_, message)
  io.stderr:write(message, "\n")
end)
-- So does the debug view (NYX_DEBUG=1), unless NYX_DEBUG_FILE names a file.
core.set_debug_writer(function(text)
  io.stderr:write(text)
end)

return M
