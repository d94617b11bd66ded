--- Agents: named callers whose calls go through a policy, a Lua module that the host
--- reloads while it runs. A policy may define:
---   choose(call)            -> a table of changes to the call (model, max_tokens, cache,
---                              fallback, template, timeout), or nil
---   on_result(call, result)
---   on_error(call, err)     -> "retry" | "fallback" | "fail"
--- and limits: budget_usd, calls_per_minute. A hook that raises is reported once (with its
--- file and line) and the last version of it that worked keeps serving.
local core = require "nyx.core"

local M = {}

local CHANGEABLE = { model = true, max_tokens = true, cache = true, fallback = true,
                     template = true, timeout = true, temperature = true }

local Agent = {}
Agent.__index = Agent

local function bad(problem)
  error({ type = "invalid_argument", message = "bad argument #1 to 'agent' (" .. problem .. ")" }, 3)
end

local function load_policy(policy)
  if type(policy) == "table" then return policy end
  if policy == nil then return require "policies.default" end
  if type(policy) ~= "string" then bad("policy must be a module name or a table") end
  return require(policy)
end

--- Calls hook `name` of the policy. When it raises, reports once and falls back to the last
--- version of that hook that worked (the one from before an edit), or to nothing.
function Agent:_hook(name, ...)
  local fn = self.policy[name]
  if type(fn) ~= "function" then return nil end
  local ok, result = pcall(fn, ...)
  if ok then
    self.good[name] = fn
    return result
  end
  if type(result) == "table" and result.type == "blocked" then
    error(result, 0) -- a guard's refusal is the policy's decision, not its failure
  end
  local key = tostring(fn)
  if not self.reported[key] then
    self.reported[key] = true
    io.stderr:write(("nyx: policy hook %s of agent %s failed: %s\n"):format(name, self.name, tostring(result)))
  end
  local good = self.good[name]
  if good and good ~= fn then
    local ok2, result2 = pcall(good, ...)
    if ok2 then return result2 end
  end
  return nil
end

function Agent:_apply_limits()
  local p = self.policy
  local budget = self.budget_usd or p.budget_usd
  local rpm = self.calls_per_minute or p.calls_per_minute
  if budget ~= self.applied_budget then
    core.budget.limit("agent:" .. self.name, budget)
    self.applied_budget = budget
  end
  if rpm ~= self.applied_rpm then
    core.rate_limit("agent:" .. self.name, { rpm = rpm or 0 })
    self.applied_rpm = rpm
  end
end

--- Makes a call as this agent, through its policy.
---@param call table the same fields as nyx.call
function Agent:call(call)
  if type(call) ~= "table" then
    error({ type = "invalid_argument", message = "bad argument #1 to 'call' (table expected)" }, 2)
  end
  self:_apply_limits()
  local req = {}
  for k, v in pairs(call) do req[k] = v end
  req.agent = self.name
  req.session = req.session or self.session
  local changes = self:_hook("choose", req)
  if type(changes) == "table" then
    for k, v in pairs(changes) do
      if CHANGEABLE[k] then req[k] = v end
    end
  end
  local tried, attempts = {}, 0
  while true do
    attempts = attempts + 1
    tried[req.model or core.config.get("CLAUDE_DEFAULT_MODEL")] = true
    for _, m in ipairs(type(req.fallback) == "table" and req.fallback or { req.fallback }) do
      tried[m] = true -- the engine tries a call's own fallback routes itself
    end
    local ok, result = pcall(core.call, req)
    if ok then
      self:_hook("on_result", req, result)
      return result
    end
    local decision = self:_hook("on_error", req, result) or "fail"
    local next_model
    for _, m in ipairs(self.policy.fallback or {}) do
      if not tried[m] then next_model = m; break end
    end
    if decision == "retry" and attempts < 3 then
      -- the same call once more
    elseif decision == "fallback" and next_model then
      req.model, req.fallback = next_model, nil
    else
      error(result, 2)
    end
  end
end

--- Creates an agent.
---@param opts {name: string, policy?: string|table, session?: any, budget_usd?: number, calls_per_minute?: number}
function M.agent(opts)
  if type(opts) ~= "table" then bad("options must be a table") end
  if type(opts.name) ~= "string" or opts.name == "" then bad("name must be a non-empty string") end
  local a = setmetatable({ name = opts.name, session = opts.session, budget_usd = opts.budget_usd,
                           calls_per_minute = opts.calls_per_minute, good = {}, reported = {} }, Agent)
  a.policy = load_policy(opts.policy)
  return a
end

return M
