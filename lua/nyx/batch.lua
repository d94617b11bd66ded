--- nyx.batch: Message Batches, every token at the API's batch price.
--- Each request is an nyx.call table with an `id`; the requests become calls that carry the
--- batch, so they are budgeted (worst case at batch prices, reserved before anything is sent),
--- accounted and logged exactly as nyx.call's, and their results and errors are the same tables.
local core = require "nyx.core"

local M = {}

local Batch = {}
local methods = {}

local function core_status(self)
  return rawget(self, "_handle"):status()
end

Batch.__index = function(self, key)
  if key == "id" then
    return core_status(self).id
  end
  return methods[key]
end

local function argerror(message)
  core.raise({ type = "invalid_argument", message = message }, 3)
end

-- What a retry may run again: what the batch did not process, and what failed on the API's side.
local RETRYABLE = { batch_expired = true, batch_canceled = true, api_error = true,
                    overloaded_error = true, rate_limit_error = true }

local function call_spec(spec)
  local c = {}
  for k, v in pairs(spec) do
    if k ~= "batch" and k ~= "batch_id" then c[k] = v end
  end
  return c
end

--- nyx.batch{requests = {{id = "row1", prompt = ..., ...}, ...}, session = s, agent = a,
---           name = "nightly", warm = false, retry = nil|"standard"|"batch", partial = false}
--- partial = true: requests a budget refuses fail alone (budget_exceeded) and the rest go out,
--- instead of the batch being refused whole.
function M.batch(t)
  if type(t) ~= "table" then argerror("nyx.batch expects a table") end
  local requests = t.requests
  if type(requests) ~= "table" or #requests == 0 then
    argerror("requests must be a non-empty list of call tables")
  end
  if t.name ~= nil and type(t.name) ~= "string" then argerror("name must be a string") end
  if t.retry ~= nil and t.retry ~= "standard" and t.retry ~= "batch" then
    argerror('retry must be "standard" or "batch"')
  end
  local seen, specs = {}, {}
  for i, r in ipairs(requests) do
    if type(r) ~= "table" then argerror(("requests[%d] must be a table"):format(i)) end
    local id = r.id
    if type(id) ~= "string" then argerror(("requests[%d].id must be a string"):format(i)) end
    if seen[id] then argerror(("requests[%d].id %q is not unique"):format(i, id)) end
    seen[id] = true
    local spec = {}
    for k, v in pairs(r) do
      if k ~= "id" then spec[k] = v end
    end
    if spec.session == nil then spec.session = t.session end
    if spec.agent == nil then spec.agent = t.agent end
    -- Processing may take longer than 5 minutes: shared prefixes are written for an hour.
    if spec.cache == nil or spec.cache == true then spec.cache = "1h" end
    spec.batch_id = id
    specs[i] = spec
  end
  local self = setmetatable({ _ids = {}, _tasks = {}, _results = {}, _specs = specs, _retry = t.retry,
                              _name = t.name }, Batch)
  local first = 1
  if t.warm and #specs > 1 then
    -- One standard call writes the shared prefix; the batch starts once its response has
    -- begun (the cache entry exists from then on), so its requests can read it.
    local began = core.event()
    local warm = call_spec(specs[1])
    warm.on_start = function() began:set() end
    self._ids[1] = specs[1].batch_id
    self._tasks[1] = core.spawn(function()
      local ok, r = pcall(core.call, warm)
      began:set()
      if ok then return r end
      error(r, 0)
    end)
    began:wait()
    first = 2
  end
  local handle = core.batch_open(t.name, #specs - first + 1, t.partial)
  self._handle = handle
  for i = first, #specs do
    local spec = specs[i]
    spec.batch = handle
    self._ids[i] = spec.batch_id
    self._tasks[i] = core.spawn(function()
      local ok, r = pcall(core.call, spec)
      if ok then return r end
      -- An error without an interaction never became a call: the batch cannot be sent whole.
      if type(r) ~= "table" or r.interaction_id == nil then handle:abandon(r) end
      error(r, 0)
    end)
  end
  return self
end

--- Counts per outcome: processing, succeeded, errored, canceled, expired; processing_status; id.
function methods:status()
  return core_status(self)
end

--- Waits (this task only; the engine polls in its loop) until every request has its result.
--- With retry, what the batch did not process (expired, cancelled by the API) or failed on the
--- API's side runs again once: as ordinary calls ("standard") or as a new batch ("batch").
function methods:wait()
  for i, task in ipairs(self._tasks) do
    if self._results[i] == nil then
      local ok, r = pcall(task.wait, task)
      self._results[i] = { ok = ok, value = r }
    end
  end
  if self._retry and not self._retried then
    self._retried = true
    local again, where = {}, {}
    for i, r in ipairs(self._results) do
      if not r.ok and type(r.value) == "table" and RETRYABLE[r.value.type] and
         not (self._cancelled and r.value.type == "batch_canceled") then
        again[#again + 1] = self._specs[i]
        where[#where + 1] = i
      end
    end
    if #again > 0 and self._retry == "batch" then
      local reqs = {}
      for k, spec in ipairs(again) do
        reqs[k] = call_spec(spec)
        reqs[k].id = spec.batch_id
      end
      local b2 = M.batch{ requests = reqs, name = self._name }
      self.retried_as = b2
      local k = 0
      for _, r, ok in b2:results() do
        k = k + 1
        self._results[where[k]] = { ok = ok, value = r }
      end
    elseif #again > 0 then
      local tasks = {}
      for k, spec in ipairs(again) do tasks[k] = core.spawn(core.call, call_spec(spec)) end
      for k, task in ipairs(tasks) do
        local ok, r = pcall(task.wait, task)
        self._results[where[k]] = { ok = ok, value = r }
      end
    end
  end
  return self
end

--- Iterates id, r_or_err, ok: the result (a table as nyx.call returns) or the error (a table
--- with a type, as nyx.call raises), in the order of the requests; waits for the batch first.
function methods:results()
  self:wait()
  local i = 0
  return function()
    i = i + 1
    local r = self._results[i]
    if r == nil then return nil end
    return self._ids[i], r.value, r.ok
  end
end

--- Cancels the batch: requests the API has not processed end with error type batch_canceled.
function methods:cancel()
  self._cancelled = true
  return self._handle:cancel()
end

return M
