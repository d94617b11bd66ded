--- Agents: named callers whose calls go through a policy, a Lua module that the host
--- reloads while it runs. A policy may define:
---   choose(call)            -> a table of changes to the call (model, max_tokens, cache,
---                              fallback, template, timeout, temperature), or nil
---   on_result(call, result)
---   on_error(call, err)     -> "retry" | "fallback" | "fail"
---   fallback                   models that on_error's "fallback" moves to, in order
---   retries                    how many times on_error's "retry" may repeat a call (2)
---   pii                        "redact" or "block": personal data and secrets in a prompt
---                              are replaced by labels or refuse the call (nyx.pii)
--- and limits: budget_usd (the agent's budget: over it a call fails with budget_exceeded),
--- budget_per (its window: "day", the default, "month" or "total") and calls_per_minute
--- (calls over it wait in the engine's queue).
--- Every call of an agent is logged with its name. A hook that raises is reported once
--- (through the engine's log, with the hook's file and line) and the last version of it that
--- worked keeps serving: after an edit that breaks a hook, the one from before the edit.
--- A prompt the policy blocks (a guard in choose, or pii) or redacts is recorded in the audit
--- trail as prompt_blocked or prompt_redacted, with the agent and session.
local core = require "nyx.core"
local pii = require "nyx.pii"
local tools = require "nyx.tools"

local M = {}

-- Each field choose may change, with the check of its value: nil when a call takes it, else
-- what it must be. A value a call cannot take failed the call with the call's own argument
-- error ("bad argument #1 to 'call' (max_tokens must be ...)", naming neither the policy nor
-- the hook) where a change of a field choose cannot change is reported and ignored; now both are.
local function is_name(v) return type(v) == "string" and v ~= "" end
local CACHE_WORDS = { auto = true, ["1h"] = true, api = true }
local CHANGEABLE = {
  model = function(v) return not is_name(v) and "a model name" or nil end,
  max_tokens = function(v)
    local ok = type(v) == "number" and v == math.floor(v) and v >= 1 and v <= 1000000
    return not ok and "an integer from 1 to 1000000" or nil
  end,
  cache = function(v)
    return type(v) ~= "boolean" and not CACHE_WORDS[v] and '"auto", true, false, "1h" or "api"' or nil
  end,
  fallback = function(v)
    if is_name(v) then return nil end
    local ok = type(v) == "table"
    if ok then for i = 1, #v do ok = ok and is_name(v[i]) end end
    return not ok and "a model name or an array of them" or nil
  end,
  template = function(v) return not is_name(v) and "a template name" or nil end,
  timeout = function(v)
    return not is_name(v) and not (type(v) == "number" and v > 0) and "seconds > 0 or a timeout profile's name" or nil
  end,
  temperature = function(v)
    return not (type(v) == "number" and v >= 0 and v <= 1) and "a number from 0 to 1" or nil
  end,
}

local CHANGEABLE_LIST = "model, max_tokens, cache, fallback, template, timeout, temperature"

-- A value as a report shows it: the same text each time (a table's address would differ per
-- call, and the report is made once per text).
local function shown(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return "a " .. type(v)
end

local Agent = {}
Agent.__index = Agent

-- The policy's settings, each with the check of its value (nil when it is fine). A wrong one
-- failed every call with an error of the function it reached ("bad argument #2 to
-- 'rate_limit' (rpm must be ...)" for calls_per_minute = -5; a string for retries raised a
-- comparison error), and an edit of a running policy that broke one did the same.
local function finite(v) return type(v) == "number" and v >= 0 and v < math.huge end
local SETTINGS = {
  budget_usd = function(v) return not finite(v) and "a finite number >= 0" or nil end,
  calls_per_minute = function(v) return not finite(v) and "a finite number >= 0" or nil end,
  budget_per = function(v)
    return v ~= "day" and v ~= "month" and v ~= "total" and '"day", "month" or "total"' or nil
  end,
  retries = function(v)
    return not (finite(v) and v == math.floor(v)) and "an integer >= 0" or nil
  end,
  -- choose's check, less the single name it also takes
  fallback = function(v)
    return (type(v) ~= "table" or CHANGEABLE.fallback(v)) and "an array of model names" or nil
  end,
  pii = function(v)
    return v ~= "allow" and v ~= "redact" and v ~= "block" and '"allow", "redact" or "block"' or nil
  end,
}
local SETTING_NAMES = { "budget_usd", "budget_per", "calls_per_minute", "retries", "fallback", "pii" }
-- The last right value of each setting, per policy table (shared by its agents).
local good_settings = setmetatable({}, { __mode = "k" })

local function bad(problem, level)
  core.raise({ type = "invalid_argument", message = "bad argument #1 to 'agent' (" .. problem .. ")" }, level or 3)
end

local function load_policy(policy)
  if type(policy) == "table" then return policy end
  if policy == nil then return require "policies.default" end
  if type(policy) ~= "string" then bad("policy must be a module name or a table", 4) end
  -- require's own failure is a string listing every path it tried (two dozen lines), not an
  -- error table: say which policy, and whether it is missing or broken.
  local ok, m = pcall(require, policy)
  if not ok then
    local why = type(m) == "table" and tostring(m.message) or tostring(m)
    if why:find("module '" .. policy .. "' not found", 1, true) then
      bad(("policy %q was not found on package.path (as %s.lua)"):format(policy, (policy:gsub("%.", "/"))), 4)
    end
    bad(("policy %q failed to load: %s"):format(policy, why), 4)
  end
  if type(m) ~= "table" then
    bad(("policy %q must return a table of hooks and limits (it returned %s)"):format(policy, type(m)), 4)
  end
  return m
end

local function where(fn)
  local info = debug.getinfo(fn, "S")
  return info and ("%s:%d"):format(info.short_src, info.linedefined) or "?"
end

--- Calls hook `name` of the policy. When it raises, reports once and falls back to the last
--- version of that hook that worked (the one from before an edit), or to nothing.
-- Errors a hook raises on purpose, not because it is broken: a guard's refusal is the
-- policy's decision, and a cancelled task must stop, not go on without the hook.
local DECISIONS = { blocked = true, cancelled = true }

local function decided(result)
  return type(result) == "table" and DECISIONS[result.type]
end

function Agent:_hook(name, ...)
  local fn = self.policy[name]
  if fn == nil then return nil end
  -- Which tasks are inside one of this agent's hooks: a hook that calls its own agent would
  -- run the hook again, and again, each level sending a call (65 levels deep, until the C
  -- stack ran out, for one call of the script).
  local task = coroutine.running()
  local inside = self.hooking[task]
  self.hooking[task] = (inside or 0) + 1
  local ok, result = pcall(fn, ...)
  self.hooking[task] = inside
  if ok then
    self.good[name] = fn
    return result
  end
  if decided(result) then error(result, 0) end
  if not self.reported[fn] then
    self.reported[fn] = true
    local message = type(result) == "table" and (result.message or tostring(result)) or tostring(result)
    local good = self.good[name]
    core.log(("nyx: policy hook %s (%s) of agent %s failed: %s; %s"):format(name, where(fn), self.name,
      message, good and good ~= fn and "the previous version serves" or "the call goes on without it"))
  end
  local good = self.good[name]
  if good and good ~= fn then
    local ok2, result2 = pcall(good, ...)
    if ok2 then return result2 end
    if decided(result2) then error(result2, 0) end
  end
  return nil
end

--- The policy's setting `k`, or, when its value is wrong (an edit of the running policy broke
--- it), the last value that was right, with the problem said once per value.
function Agent:_setting(k)
  local v = self.policy[k]
  if v == self.settings[k] then return v end -- as it was when found right: every call but an edit's
  local wrong = v ~= nil and SETTINGS[k](v)
  if not wrong then
    self.settings[k] = v
    return v
  end
  local problem = ("%s = %s, where %s must be %s"):format(k, shown(v), k, wrong)
  if not self.said[problem] then
    self.said[problem] = true
    core.log(("nyx: policy of agent %s sets %s; %s"):format(self.name, problem,
      self.settings[k] ~= nil and ("the previous value serves (%s)"):format(shown(self.settings[k]))
      or "it is left unset"))
  end
  return self.settings[k]
end

function Agent:_apply_limits()
  local budget = self.budget_usd or self:_setting("budget_usd")
  local per = self.budget_per or self:_setting("budget_per")
  local rpm = self.calls_per_minute or self:_setting("calls_per_minute")
  if budget ~= self.applied_budget or per ~= self.applied_per then
    core.budget.limit("agent:" .. self.name, budget, per)
    self.applied_budget, self.applied_per = budget, per
  end
  if rpm ~= self.applied_rpm then
    core.rate_limit("agent:" .. self.name, { rpm = rpm or 0 })
    self.applied_rpm = rpm
  end
end

--- What choose returned and the call could not take, said once per version of the hook and
--- problem (it would otherwise be dropped unsaid: a policy returning {system = ...} ran as if
--- it had returned nothing).
function Agent:_report(hook, problem)
  local fn = self.policy[hook]
  local seen = self.noted[fn]
  if seen == nil then
    seen = {}
    self.noted[fn] = seen
  end
  if seen[problem] then return end
  seen[problem] = true
  core.log(("nyx: policy hook %s (%s) of agent %s %s"):format(hook, where(fn), self.name, problem))
end

local ERROR_DECISIONS = { retry = true, fallback = true, fail = true }

--- The next model of the policy's fallback list that this call has not tried yet.
local function next_fallback(agent, req, tried)
  tried[req.model or core.config.get("CLAUDE_DEFAULT_MODEL")] = true
  local own = req.fallback -- the engine tried the call's own fallback routes itself
  if type(own) == "table" then
    for _, m in ipairs(own) do tried[m] = true end
  elseif own then
    tried[own] = true
  end
  for _, m in ipairs(agent:_setting("fallback") or {}) do
    if not tried[m] then return m end
  end
  return nil
end

--- Applies the agent's policy to one call: limits, choose, then `send(req)` (nyx.call), with
--- on_result, or on_error's retry / fallback / fail. This is all an agent adds to a call; it
--- is separate so that the benchmark can time it with `send` stubbed.
---@param agent table
---@param call table the same fields as nyx.call
---@param send fun(req: table): table
function M.run(agent, call, send)
  agent:_apply_limits()
  local req = {}
  for k, v in pairs(call) do req[k] = v end
  req.agent = agent.name
  if req.session == nil then req.session = agent.session end
  local function audit(kind, detail)
    -- The trail is the database's; without one the refusal still stands.
    pcall(core.audit, kind, detail, { session = req.session, agent = agent.name })
  end
  local ok, changes = pcall(agent._hook, agent, "choose", req)
  if not ok then
    if type(changes) == "table" and changes.type == "blocked" then audit("prompt_blocked", changes.message) end
    error(changes, 0)
  end
  if type(changes) == "table" then
    for k, v in pairs(changes) do
      local check = CHANGEABLE[k]
      local wrong = check and check(v)
      if wrong then
        agent:_report("choose", ("returned %s = %s, where %s must be %s: ignored")
          :format(k, shown(v), k, wrong))
      elseif check then
        req[k] = v
      else
        agent:_report("choose", ("returned a change of %s, which choose cannot change (it changes %s): ignored")
          :format(type(k) == "string" and ("'" .. k .. "'") or tostring(k), CHANGEABLE_LIST))
      end
    end
  elseif changes ~= nil then
    agent:_report("choose", ("returned a %s where a table of changes (or nil) was expected: ignored"):format(type(changes)))
  end
  local action = agent:_setting("pii")
  if action ~= nil and action ~= "allow" then
    local done, sent, found = pcall(pii.call, req, action)
    if not done then
      if type(sent) == "table" and sent.type == "blocked" then audit("prompt_blocked", sent.message) end
      error(sent, 0)
    end
    if next(found) then audit("prompt_redacted", "pii: " .. pii.describe(found)) end
    req = sent
  end
  local tried, retries = nil, 0
  while true do
    local ok, result = pcall(send, req)
    if ok then
      agent:_hook("on_result", req, result)
      return result
    end
    if type(result) ~= "table" then error(result, 0) end -- a bug, not an API error: as it is
    local decision = agent:_hook("on_error", req, result) or "fail"
    if not ERROR_DECISIONS[decision] then
      -- A misspelt decision ("retyr", true) failed the call without a word.
      agent:_report("on_error", ('returned %s where "retry", "fallback" or "fail" was expected: the call fails')
        :format(shown(decision)))
      decision = "fail"
    end
    if decision == "retry" and retries < (agent:_setting("retries") or 2) then
      retries = retries + 1
    elseif decision == "fallback" then
      tried = tried or {}
      local model = next_fallback(agent, req, tried)
      if not model then error(result, 0) end
      req.model, req.fallback = model, nil
    else
      error(result, 0)
    end
  end
end

--- With a policy's on_tool(call, tool_call): the tool loop asks it before each tool runs
--- ("allow", "deny" or a changed input); a refusal is audited.
function Agent:_tool_hook(req)
  if self.policy.on_tool == nil or req.tools == nil then return req end
  local out = {}
  for k, v in pairs(req) do out[k] = v end
  out._on_tool = function(tc)
    local decision = self:_hook("on_tool", req, tc)
    if decision ~= nil and decision ~= "allow" and decision ~= "deny" and type(decision) ~= "table" then
      -- A misspelt refusal ("denied", false) let the tool run: a hook that guards tools
      -- fails closed instead, and says so.
      self:_report("on_tool", ('returned %s where "allow", "deny" or a new input table was expected: '
        .. "the tool is refused"):format(shown(decision)))
      decision = "deny"
    end
    if decision == "deny" then
      pcall(core.audit, "tool_denied", ("tool %s refused by the policy"):format(tostring(tc.name)),
            { session = req.session, agent = self.name })
    end
    return decision
  end
  return out
end

--- Makes a call as this agent, through its policy.
---@param call table the same fields as nyx.call
function Agent:call(call)
  if type(call) ~= "table" then
    core.raise({ type = "invalid_argument", message = "bad argument #1 to 'call' (table expected)" }, 2)
  end
  if self.hooking[coroutine.running()] then
    core.raise({ type = "invalid_state", message = ("agent %s was called from its own policy hook, "
      .. "which would run the hook again for each call"):format(self.name) }, 2)
  end
  local ok, result = pcall(M.run, self, call, function(req) return tools.call(core.call, self:_tool_hook(req)) end)
  if ok then return result end
  -- An error of the engine's names the script's line, not this file's.
  if type(result) == "table" and type(result.type) == "string" then core.raise(result, 2) end
  error(result, 0)
end

--- Creates or changes a template as this agent (templates.writers may restrict who can).
---@param name string
---@param text string
function Agent:create_template(name, text)
  if getmetatable(self) ~= Agent then
    core.raise({ type = "invalid_argument", message = "create_template is a method: agent:create_template(name, text)" }, 2)
  end
  local res = table.pack(pcall(core.templates.create, name, text, { agent = self.name }))
  if not res[1] then
    if type(res[2]) == "table" and type(res[2].type) == "string" then core.raise(res[2], 2) end
    error(res[2], 0)
  end
  return table.unpack(res, 2, res.n)
end

--- Creates an agent.
---@param opts {name: string, policy?: string|table, session?: any, budget_usd?: number, budget_per?: "day"|"month"|"total", calls_per_minute?: number}
local OPTIONS = { "name", "policy", "session", "budget_usd", "budget_per", "calls_per_minute" }

function M.agent(opts)
  if type(opts) ~= "table" then bad("options must be a table") end
  local unknown = core.unknown_option(opts, OPTIONS)
  if unknown then bad(unknown) end
  if type(opts.name) ~= "string" or opts.name == "" then bad("name must be a non-empty string") end
  for _, k in ipairs({ "budget_usd", "calls_per_minute" }) do
    if opts[k] ~= nil and (type(opts[k]) ~= "number" or not (opts[k] >= 0) or opts[k] == math.huge) then
      bad(k .. " must be a finite number >= 0")
    end
  end
  if opts.budget_per ~= nil and opts.budget_per ~= "day" and opts.budget_per ~= "month" and opts.budget_per ~= "total" then
    bad('budget_per must be "day", "month" or "total"')
  end
  local a = setmetatable({ name = opts.name, session = opts.session, budget_usd = opts.budget_usd,
                           budget_per = opts.budget_per,
                           calls_per_minute = opts.calls_per_minute, good = {},
                           reported = setmetatable({}, { __mode = "k" }),
                           noted = setmetatable({}, { __mode = "k" }), said = {},
                           hooking = setmetatable({}, { __mode = "k" }) }, Agent)
  a.policy = load_policy(opts.policy)
  -- A policy seen before (nyx run --watch runs the script again after an edit, and the reload
  -- updated the module's table in place) keeps its last right values, as a running agent does;
  -- a policy never seen right is refused.
  a.settings = good_settings[a.policy]
  if a.settings == nil then
    for _, k in ipairs(SETTING_NAMES) do
      local v = a.policy[k]
      local wrong = v ~= nil and SETTINGS[k](v)
      if wrong then
        bad(("policy %s sets %s = %s, where %s must be %s"):format(
          type(opts.policy) == "string" and ("%q"):format(opts.policy) or "table", k, shown(v), k, wrong))
      end
    end
    a.settings = {}
    good_settings[a.policy] = a.settings
  end
  for _, k in ipairs(SETTING_NAMES) do a:_setting(k) end
  return a
end

return M
