--- nyx.pii: what a policy does with personal data and secrets in a prompt before it is sent.
---
--- The texts a call sends (prompt, system, and each message's content: a string, or an array
--- of strings and {text = ...} blocks) go through the engine's scanner (nyx.guard.scan: e-mail
--- addresses, phone numbers, card numbers, SSNs, IP addresses, IBANs, API keys and other
--- secrets). "allow" sends them as they are; "redact" sends a copy with each finding replaced by
--- its label ([EMAIL], [CARD], [SECRET], ...); "block" refuses the call. An agent policy names
--- its choice as `pii = "redact"` or `pii = "block"`; the agent applies it to every call and
--- records what it redacted or blocked in the audit trail (counts per kind, never the values).
local core = require "nyx.core"

local M = {}

local ACTIONS = { allow = true, redact = true, block = true }

local function bad_arg(n, msg)
  core.raise({ type = "invalid_argument", message = ("bad argument #%d to 'pii' (%s)"):format(n, msg) }, 3)
end

--- "2 card, 1 email": the counts by kind, in the order of the kinds' names.
---@param found table<string, integer>
---@return string
function M.describe(found)
  if type(found) ~= "table" then
    core.raise({ type = "invalid_argument",
                 message = "bad argument #1 to 'describe' (a table of counts by kind expected, got " .. type(found) .. ")" }, 2)
  end
  local kinds = {}
  for kind in pairs(found) do kinds[#kinds + 1] = kind end
  table.sort(kinds)
  for i, kind in ipairs(kinds) do kinds[i] = ("%d %s"):format(found[kind], kind) end
  return table.concat(kinds, ", ")
end

-- A text field with fn applied to each of its texts; a table is copied, never changed.
local function map_texts(value, fn)
  if type(value) == "string" then return fn(value) end
  if type(value) ~= "table" then return value end
  local out = {}
  for i, part in ipairs(value) do
    if type(part) == "string" then
      out[i] = fn(part)
    elseif type(part) == "table" and type(part.text) == "string" then
      local block = {}
      for k, v in pairs(part) do block[k] = v end
      block.text = fn(part.text)
      out[i] = block
    else
      out[i] = part
    end
  end
  return out
end

--- Applies action to the texts of call (the fields of nyx.call).
--- Returns the call to send (a copy when "redact" changed anything, else call itself) and what
--- was found, kind -> count (empty under "allow", which looks at nothing). "block" raises
--- {type = "blocked", found = ..., message = ...} when anything was found.
---@param call table
---@param action? "allow"|"redact"|"block"  default "redact"
---@return table call
---@return table<string, integer> found
function M.call(call, action)
  if type(call) ~= "table" then bad_arg(1, "a call table expected, got " .. type(call)) end
  action = action or "redact"
  if not ACTIONS[action] then
    bad_arg(2, ('action must be "allow", "redact" or "block", got %s'):format(tostring(action)))
  end
  local found = {}
  if action == "allow" then return call, found end
  local any = false
  local function look(text)
    local hits = core.guard_scan(text)
    if #hits == 0 then return text end
    any = true
    for _, h in ipairs(hits) do found[h.kind] = (found[h.kind] or 0) + 1 end
    return action == "redact" and core.guard_redact(text) or text
  end
  local out = {}
  for k, v in pairs(call) do out[k] = v end
  out.prompt = map_texts(call.prompt, look)
  out.system = map_texts(call.system, look)
  if type(call.messages) == "table" then
    out.messages = {}
    for i, m in ipairs(call.messages) do
      if type(m) == "table" then
        local copy = {}
        for k, v in pairs(m) do copy[k] = v end
        copy.content = map_texts(m.content, look)
        out.messages[i] = copy
      else
        out.messages[i] = m
      end
    end
  end
  if not any then return call, found end
  if action == "block" then
    core.raise({ type = "blocked", found = found,
            message = ("prompt blocked: it holds %s, and the policy sends no personal data or secrets")
              :format(M.describe(found)) }, 2)
  end
  return out, found
end

--- nyx.pii.scan(text): what the scanner finds, {{kind=, start=, stop=}, ...}.
M.scan = core.guard_scan
--- nyx.pii.redact(text): the text with [EMAIL], [CARD], ... in place of what was found.
M.redact = core.guard_redact

-- nyx.pii(call, action) is nyx.pii.call(call, action): the name before namespaces.
return setmetatable(M, { __call = function(_, call, action) return M.call(call, action) end })
