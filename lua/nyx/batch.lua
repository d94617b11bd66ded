--- nyx.batch: Message Batches, every token at the API's batch price.
--- Each request is an nyx.call table with an `id`; the requests become calls that carry the
--- batch, so they are budgeted (the worst case of all at batch prices, one reservation for the
--- batch made before anything is sent),
--- accounted and logged exactly as nyx.call's, and their results and errors are the same tables.
local core = require "nyx.core"
local tools = require "nyx.tools"

local M = {}

local Batch = {}
local methods = {}

local COUNTS = { "processing", "succeeded", "errored", "canceled", "expired" }

-- Counts summed over the batch's parts (one per submission when it was split); the status is
-- the least advanced part's.
local RANK = { refused = 0, preparing = 1, submitting = 2, canceling = 3, in_progress = 4, ended = 5 }
local function core_status(self)
  local handles = rawget(self, "_handles")
  local st = handles[1]:status()
  if #handles == 1 then return st end
  for i = 2, #handles do
    local s = handles[i]:status()
    for _, k in ipairs(COUNTS) do st[k] = st[k] + s[k] end
    if (RANK[s.processing_status] or 0) < (RANK[st.processing_status] or 0) then
      st.processing_status = s.processing_status
    end
    st.error = st.error or s.error
  end
  return st
end

Batch.__index = function(self, key)
  if key == "id" then
    return core_status(self).id
  elseif key == "ids" then -- the API's id of each part, once submitted
    local ids = {}
    for _, h in ipairs(rawget(self, "_handles")) do ids[#ids + 1] = h:status().id end
    return ids
  end
  return methods[key]
end

-- The bytes a string takes as a JSON string: its own and its quotes, a backslash before each
-- quote, backslash and \b \f \n \r \t, and \u00XX for any other control character. A prompt
-- of many lines grows by one byte a line: counting only its bytes, parts of 10,000 templated
-- rows (27 KB, 450 lines each) came out 1% over the API's limit and failed whole. sizes: the
-- sizes found so far by string, so a prefix shared by every request is read once.
local function json_size(s, sizes)
  local n = sizes[s]
  if n then return n end
  local _, quoted = s:gsub('["\\]', "")
  local _, short = s:gsub("[\b\f\n\r\t]", "")
  local _, control = s:gsub("%c", "")
  n = #s + 2 + quoted + short + 5 * (control - short)
  sizes[s] = n
  return n
end

-- About how many bytes a request adds to a submission: its text as JSON and the JSON around it
-- (the names, the custom_id, what the engine adds: the model, cache_control). The engine
-- refuses a submission over the limit before sending it, should this fall short.
local function size_of(v, depth, sizes)
  local t = type(v)
  if t == "string" then return json_size(v, sizes) + 6 end
  if t ~= "table" or depth > 8 then return 16 end
  local n = 2
  for k, x in pairs(v) do n = n + size_of(k, depth + 1, sizes) + size_of(x, depth + 1, sizes) end
  return n
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

--- The call a request of a batch is (without its id): what nyx.batch sends, and what a
--- council's estimate bounds (council.lua), so the two cannot differ. opts: the batch's (its
--- session and agent); schemas: the output schemas of templates looked up so far, by name.
---@param r table
---@param opts table
---@param schemas table
---@return table
function M.request_spec(r, opts, schemas)
  local spec = {}
  for k, v in pairs(r) do
    if k ~= "id" then spec[k] = v end
  end
  -- A request with template = and no output gets the template's schema, as nyx.call does
  -- (its r.json, or invalid_output, below); not its tools: a request in a batch is one turn.
  if type(spec.template) == "string" and spec.output == nil then
    local schema = schemas[spec.template]
    if schema == nil then
      schema = tools.with_template({ template = spec.template, tools = false }).output or false
      schemas[spec.template] = schema
    end
    if schema then spec.output = schema end
  end
  if spec.session == nil then spec.session = opts.session end
  if spec.agent == nil then spec.agent = opts.agent end
  -- Processing may take longer than 5 minutes: shared prefixes are written for an hour.
  if spec.cache == nil or spec.cache == true then spec.cache = "1h" end
  return spec
end

--- nyx.batch{requests = {{id = "row1", prompt = ..., ...}, ...}, session = s, agent = a,
---           name = "nightly", warm = false, retry = nil|"standard"|"batch", partial = false}
--- partial = true: requests a budget refuses fail alone (budget_exceeded) and the rest go out,
--- instead of the batch being refused whole.
local OPTIONS = { "requests", "session", "agent", "name", "warm", "retry", "partial", "max_requests", "max_bytes" }

function M.batch(t)
  if type(t) ~= "table" then argerror("nyx.batch expects a table") end
  local unknown = core.unknown_option(t, OPTIONS)
  if unknown then argerror(unknown) end
  local requests = t.requests
  if type(requests) ~= "table" or #requests == 0 then
    argerror("requests must be a non-empty list of call tables")
  end
  if t.name ~= nil and type(t.name) ~= "string" then argerror("name must be a string") end
  if t.retry ~= nil and t.retry ~= "standard" and t.retry ~= "batch" then
    argerror('retry must be "standard" or "batch"')
  end
  -- The API's limits on one batch; a larger one goes as several, transparently.
  local max_requests, max_bytes = t.max_requests or 100000, t.max_bytes or 256 * 1024 * 1024
  if math.type(max_requests) ~= "integer" or max_requests < 1 or max_requests > 100000 then
    argerror("max_requests must be an integer from 1 to 100000")
  end
  if math.type(max_bytes) ~= "integer" or max_bytes < 1 then
    argerror("max_bytes must be a positive integer")
  end
  -- A template's output schema, looked up once a template (10,000 rows name the same one).
  local schemas = {}
  local seen, specs = {}, {}
  for i, r in ipairs(requests) do
    if type(r) ~= "table" then argerror(("requests[%d] must be a table"):format(i)) end
    local id = r.id
    if type(id) ~= "string" then argerror(("requests[%d].id must be a string"):format(i)) end
    if seen[id] then argerror(("requests[%d].id %q is not unique"):format(i, id)) end
    seen[id] = true
    local spec = M.request_spec(r, t, schemas)
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
  -- Parts of at most max_requests requests and about max_bytes each, in order.
  local parts, count, bytes, sizes = {}, 0, 0, {}
  for i = first, #specs do
    local size = size_of(requests[i], 0, sizes) + 256
    if #parts == 0 or count == max_requests or (count > 0 and bytes + size > max_bytes) then
      parts[#parts + 1] = { from = i, n = 0 }
      count, bytes = 0, 0
    end
    local p = parts[#parts]
    p.n, count, bytes = p.n + 1, count + 1, bytes + size
  end
  self._handles = {}
  local handle_of = {}
  for k, p in ipairs(parts) do
    -- The parts are one batch: they carry the first's id and are recorded together.
    self._handles[k] = core.batch_open(t.name, p.n, t.partial, max_bytes, self._handles[1])
    for i = p.from, p.from + p.n - 1 do handle_of[i] = self._handles[k] end
  end
  self._handle = self._handles[1]
  local started, stop = pcall(function()
    for i = first, #specs do
      local spec = specs[i]
      local handle = handle_of[i]
      spec.batch = handle
      self._ids[i] = spec.batch_id
      self._tasks[i] = core.spawn(function()
        local ok, r = pcall(core.call, spec)
        if ok then return r end
        -- An error without an interaction never became a call: the batch cannot be sent whole.
        if type(r) ~= "table" or r.interaction_id == nil then handle:abandon(r, spec.batch_id) end
        error(r, 0)
      end)
    end
  end)
  if not started then
    -- Stopped while its requests were starting (Ctrl-C reaching 50,000 of them half started):
    -- nothing was sent, and the batch cannot go whole. The requests not started refuse it, so
    -- each started one ends with that error and is logged; each is waited for here, or every
    -- one would be a task that failed with nobody waiting, and calls the engine's close
    -- drops unlogged.
    for i = first, #specs do
      if self._tasks[i] == nil then handle_of[i]:abandon(stop, specs[i].batch_id) end
    end
    for _, task in pairs(self._tasks) do pcall(task.wait, task) end
    error(stop, 0)
  end
  -- A request its call refused at once (a bad id, a stream, a fallback: the task ran to its
  -- error inside spawn) refuses the batch whole, nothing sent: say so here, naming the request,
  -- rather than hand back a batch whose every result is that error, or whose tasks fail with
  -- nobody waiting when the script does not read them.
  for i = first, #specs do
    local task = self._tasks[i]
    if task:status() == "failed" then
      local _, e = pcall(task.wait, task)
      if type(e) == "table" and e.type == "invalid_argument" then
        for _, other in ipairs(self._tasks) do pcall(other.wait, other) end
        local why = tostring(e.message)
        argerror(("requests[%d] (id %q): %s"):format(i, tostring(requests[i].id),
          why:match("^bad argument #1 to 'call' %((.*)%)$") or why))
      end
      self._results[i] = { ok = false, value = e }
    end
  end
  return self
end

--- Counts per outcome: processing, succeeded, errored, canceled, expired; processing_status; id.
function methods:status()
  return core_status(self)
end

local waits = 0 -- names each wait's part of the progress line

--- Waits (this task only; the engine polls in its loop) until every request has its result,
--- the live status line (nyx run on a terminal, nyx_progress of a C host) showing the requests
--- done, errored, the dollars so far and the time.
--- With retry, what the batch did not process (expired, cancelled by the API) or failed on the
--- API's side runs again once: as ordinary calls ("standard") or as a new batch ("batch").
function methods:wait()
  waits = waits + 1
  local key, t0, dollars, waiting = "batch:" .. waits, core.now(), 0, true
  local function progress()
    local st = core_status(self)
    local failed = st.errored + st.canceled + st.expired
    local done = st.succeeded + failed
    core.progress(("batch %s%d of %d done, %d errored, $%.4f, %ds"):format(self._name and (self._name .. ": ") or "",
      done, done + st.processing, failed, dollars, math.floor(core.now() - t0)), key)
  end
  local ticker = core.spawn(function()
    -- Cancelled with the rest (an interrupted wait), it just stops: not a failure to report.
    while waiting do
      progress()
      if not pcall(core.sleep, 0.5) then return end
    end
  end)
  for i, task in ipairs(self._tasks) do
    if self._results[i] == nil then
      local ok, r = pcall(task.wait, task)
      self._results[i] = { ok = ok, value = r }
      if ok and r.usage and r.usage.cost_usd then dollars = dollars + r.usage.cost_usd end
    end
  end
  waiting = false
  ticker:cancel()
  core.progress(nil, key)
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
  -- A request with an output schema gets r.json, or invalid_output, as from nyx.call.
  for i, r in ipairs(self._results) do
    if r.ok and not r.checked and self._specs[i].output ~= nil then
      local ok, value = pcall(tools.structured, self._specs[i], r.value)
      self._results[i] = { ok = ok, value = value, checked = true }
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

--- Cancels the batch (every part): requests the API has not processed end with error type
--- batch_canceled.
function methods:cancel()
  self._cancelled = true
  local any = false
  for _, h in ipairs(self._handles) do any = h:cancel() or any end
  return any
end

--- nyx.batch_pickup(id, {wait = true, on_progress = fn}): picks a batch up from the database, by
--- nyx's id or the API's id of one of its parts (what a process that died while waiting, or
--- another one, does): asks the API for each part, and once a part has ended logs every result
--- not logged yet as its request's interaction, exactly once whichever process gets there (at
--- the price the API bills, settling the reservation the request holds). wait = false reports
--- what the API says without waiting. on_progress(status) is called while it waits.
--- Returns {batch_id, name, ids, processing_status, processing, succeeded, errored, canceled,
--- expired, logged (results this call logged), results = {{id, ok, value}, ...} by custom id}.
-- One GET of the batch endpoints; while the pickup waits, one answered with a retryable error (a
-- 429 or 529, a body cut on its way) is asked again, no sooner than its retry-after: the batch goes
-- on at the API whatever its polls meet, as the engine's own polls do (batch.c).
-- Tries of a poll failing past the batch's life (core.batch_polls_for_s from its creation: the
-- API ends a batch 24 hours after it was made, and a margin, as the submitting process allows).
local TRIES_PAST_LIFE = 3

-- A poll or results download; one answered with an error that may pass (429, 529, a reset) is
-- asked again, backing off from half a second to a minute (no sooner than its retry-after),
-- while the batch may still be running (until live_until, wall clock); past that, three tries
-- as a call gets, then the error is raised: the results stay at the API for 29 days, and a
-- server answering 529 for ever no longer holds nyx batch results (it asked every 0.25 s).
local function ask(path, wait, live_until)
  local delay, tries = 0.5, 0
  while true do
    local ok, body = pcall(core.batch_api, "GET", path)
    if ok then return body end
    tries = tries + 1
    if not wait or type(body) ~= "table" or not body.retryable or
       (os.time() >= live_until and tries >= TRIES_PAST_LIFE) then
      error(body, 0)
    end
    core.sleep(math.max(delay, tonumber(body.retry_after) or 0))
    delay = math.min(delay * 2, 60)
  end
end

function M.pickup(id, opts)
  if type(id) ~= "string" or id == "" then argerror("id must be a batch id") end
  opts = opts or {}
  if type(opts) ~= "table" then argerror("options must be a table") end
  local rows = core.batch_requests(id)
  if #rows == 0 then
    core.raise({ type = "not_found", message = ("batch %s is not in this database"):format(id) }, 2)
  end
  local out = { batch_id = rows[1].batch_id, name = rows[1].name, ids = {}, logged = 0, results = {},
                processing_status = "ended" }
  for _, k in ipairs(COUNTS) do out[k] = 0 end
  local parts, order = {}, {}
  for _, r in ipairs(rows) do
    local key = r.provider_id or ""
    if not parts[key] then parts[key] = {}; order[#order + 1] = key end
    table.insert(parts[key], r)
  end
  local interval = 0.25
  for _, pid in ipairs(order) do
    local prows = parts[pid]
    if pid == "" then
      -- The process that submitted it died before the API answered: nothing to ask for.
      for _, r in ipairs(prows) do
        out.results[#out.results + 1] = { id = r.custom_id, ok = false, value = { type = "batch_not_submitted",
          message = "the batch was recorded but the API's answer to its submission never arrived" } }
        out.errored = out.errored + 1
      end
    else
      out.ids[#out.ids + 1] = pid
      local live_until = (tonumber(prows[1].created_at) or os.time()) + core.batch_polls_for_s
      local st
      while true do
        st = core.json_decode(ask("/" .. pid, opts.wait ~= false, live_until))
        if st.processing_status == "ended" or opts.wait == false then break end
        if opts.on_progress then opts.on_progress(st) end
        local c = st.request_counts or {}
        local failed = (c.errored or 0) + (c.canceled or 0) + (c.expired or 0)
        core.progress(("batch %s: %d of %d done, %d errored"):format(pid, (c.succeeded or 0) + failed,
          (c.succeeded or 0) + failed + (c.processing or 0), failed), "batch_pickup")
        core.sleep(interval)
        interval = math.min(interval * 2, 60)
      end
      local c = st.request_counts or {}
      for _, k in ipairs(COUNTS) do out[k] = out[k] + (c[k] or 0) end
      if st.processing_status ~= "ended" then
        out.processing_status = st.processing_status
      else
        local by_id = {}
        for _, r in ipairs(prows) do by_id[r.custom_id] = r end
        local body = ask("/" .. pid .. "/results", opts.wait ~= false, live_until)
        for line in body:gmatch("[^\n]+") do
          local ok_line, o = pcall(core.json_decode, line)
          local r = ok_line and type(o) == "table" and by_id[o.custom_id]
          if r then
            by_id[o.custom_id] = nil
            local value, ok = core.batch_record(r, line)
            out.results[#out.results + 1] = { id = r.custom_id, ok = ok, value = value }
          end
        end
      end
    end
  end
  core.progress(nil, "batch_pickup")
  -- Each result names the interaction it is logged under: this call's, or the one whoever logged
  -- it first gave it (an earlier pickup, or another process picking it up at the same moment,
  -- whose write kept its row and dropped this call's); logged counts this call's alone.
  if #out.results > 0 then
    local stored = {}
    for _, r in ipairs(core.batch_requests(out.batch_id)) do stored[r.custom_id] = r.interaction_id end
    for _, res in ipairs(out.results) do
      local ix = stored[res.id]
      if ix then
        if res.value.interaction_id == ix then out.logged = out.logged + 1 end
        res.value.interaction_id = ix
      end
    end
  end
  -- The batch's reservations whose results are all logged now (by this process or another).
  core.batch_settle(out.batch_id)
  table.sort(out.results, function(a, b) return a.id < b.id end)
  return out
end

return M
