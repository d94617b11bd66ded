--- The careful policy: a fallback chain for outages, a strict injection guard that refuses
--- prompts that look like an attempt to override instructions, and personal data and secrets
--- redacted from every prompt before it is sent.
local guard = require "nyx.guard"

local M = {
  fallback = { "claude-sonnet-5-5", "claude-haiku-5-5" },
  calls_per_minute = 60,
  pii = "redact", -- personal data and secrets leave as [EMAIL], [CARD], [SECRET], ...
  allow_tools = {}, -- names of the tools its agents may run; every other tool is refused
}

local function texts(call)
  local out = {}
  if type(call.prompt) == "string" then out[#out + 1] = call.prompt end
  for _, m in ipairs(call.messages or {}) do
    if type(m.content) == "string" and m.role == "user" then out[#out + 1] = m.content end
  end
  return out
end

function M.choose(call)
  for _, text in ipairs(texts(call)) do
    guard.enforce(text, { action = "block", threshold = 0.5 })
  end
  return { fallback = M.fallback, cache = call.cache or "auto" }
end

function M.on_tool(_, tool_call)
  for _, name in ipairs(M.allow_tools) do
    if name == tool_call.name then return "allow" end
  end
  return "deny"
end

function M.on_error(_, err)
  if err.type == "blocked" then return "fail" end
  if err.type == "overloaded_error" or err.type == "circuit_open" or err.type == "api_error" then
    return "fallback"
  end
  return err.retryable and "retry" or "fail"
end

return M
