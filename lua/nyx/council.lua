--- Council sessions: many personas answer one question over one shared, cached context.
--- The context goes in a cached system block and each persona's instruction in a block after
--- the mark, so all personas share one prefix. The first persona's call warms that prefix;
--- the rest fan out in parallel as soon as its response has begun (the cache entry exists
--- from then on), so they read the prefix instead of each paying to write it.
local core = require "nyx.core"

local M = {}

local councils = 0 -- councils run so far: each has its own part of the status line

local function bad(field, problem)
  core.raise({ type = "invalid_argument", message = ("bad argument #1 to 'council' (%s %s)"):format(field, problem) }, 3)
end

---@class nyx.Persona
---@field name string
---@field instruction string
---@field template? string  the template the instruction was rendered from (its use is recorded)

local PERSONA_FIELDS = { "name", "instruction", "template" }

---@param personas (string|nyx.Persona)[]
---@return nyx.Persona[]
local function normalize_personas(personas)
  if type(personas) ~= "table" or #personas == 0 then
    bad("personas", "must be a non-empty array")
  end
  local out = {}
  for i, p in ipairs(personas) do
    local field = ("personas[%d]"):format(i)
    -- A persona's name is the agent its call is filed under: an empty one failed each call
    -- with "agent must not be empty", a misspelt field was dropped (its default used).
    if type(p) == "table" then
      local unknown = core.unknown_option(p, PERSONA_FIELDS)
      if unknown then bad(field, "has an " .. unknown) end
      if type(p.name) ~= "string" or p.name == "" then bad(field .. ".name", "must be a non-empty string") end
      if p.instruction ~= nil and (type(p.instruction) ~= "string" or p.instruction == "") then
        bad(field .. ".instruction", "must be a non-empty string")
      end
      if p.template ~= nil and type(p.template) ~= "string" then bad(field .. ".template", "must be a string") end
      out[i] = { name = p.name, instruction = p.instruction or ("You are " .. p.name .. "."),
                 template = p.template }
    elseif type(p) == "string" and p ~= "" then
      out[i] = { name = p, instruction = "You are " .. p .. ". Answer from that role's point of view." }
    else
      bad(field, "must be a non-empty string or {name=, instruction=}")
    end
  end
  if #out ~= #personas then bad(("personas[%d]"):format(#out + 1), "is nil: personas must be an array without holes") end
  return out
end

local function shared_mark()
  local ttl = core.config.get("LLM_SHARED_CONTEXT_TTL")
  return (ttl and ttl > 300) and "1h" or true
end

local function persona_call(opts, persona, mark)
  return {
    model = opts.model,
    system = { { text = opts.context, cache = mark }, { text = persona.instruction } },
    prompt = opts.question,
    max_tokens = opts.max_tokens,
    temperature = opts.temperature,
    session = opts.session,
    agent = persona.name,
    template = persona.template,
    thought = opts.thought,
  }
end

local function answer_of(persona, started, ok, r)
  local answer = { persona = persona.name, wall_ms = (core.now() - started) * 1000 }
  if ok then
    answer.text, answer.usage, answer.cache_hit = r.text, r.usage, r.cache_hit
    answer.model, answer.latency_ms, answer.interaction_id = r.model, r.latency_ms, r.interaction_id
  else
    answer.error = r
  end
  return answer
end

local function ask(opts, persona, mark, on_start)
  local started = core.now()
  local spec = persona_call(opts, persona, mark)
  spec.on_start = on_start
  return answer_of(persona, started, pcall(core.call, spec))
end

-- batch = true: the personas go as one Message Batch at batch prices, the context marked for
-- an hour; warm = true answers the first persona with a standard call that writes it first.
local function council_batch(opts, personas)
  local started = core.now()
  local requests = {}
  for i, p in ipairs(personas) do
    requests[i] = persona_call(opts, p, "1h")
    requests[i].id = "persona" .. i
  end
  local b = require("nyx.batch").batch{ requests = requests, name = "council", warm = opts.warm == true }
  local answers, i = {}, 0
  for _, r, ok in b:results() do
    i = i + 1
    answers[i] = answer_of(personas[i], started, ok, r)
  end
  return answers
end

local function totals(answers, wall_ms)
  local t = { calls = #answers, errors = 0, cache_hits = 0, input_tokens = 0, output_tokens = 0,
              cache_read_input_tokens = 0, cache_creation_input_tokens = 0,
              cost_usd = 0, cost_without_cache_usd = 0, saved_usd = 0, wall_ms = wall_ms }
  for _, a in ipairs(answers) do
    -- A failed call that was billed (its stream cut after it began) carries its usage in the
    -- error, as its record carries its cost: counted, so the totals are the records'.
    local u = a.usage or (a.error and type(a.error) == "table" and a.error.usage)
    if a.error then t.errors = t.errors + 1 end
    if u then
      t.cache_hits = t.cache_hits + (a.cache_hit and 1 or 0)
      t.input_tokens = t.input_tokens + u.input_tokens
      t.output_tokens = t.output_tokens + u.output_tokens
      t.cache_read_input_tokens = t.cache_read_input_tokens + u.cache_read_input_tokens
      t.cache_creation_input_tokens = t.cache_creation_input_tokens + u.cache_creation_input_tokens
      if u.cost_usd then
        t.cost_usd = t.cost_usd + u.cost_usd
        t.cost_without_cache_usd = t.cost_without_cache_usd + u.cost_without_cache_usd
        t.saved_usd = t.saved_usd + u.saved_usd
      else
        t.unknown_cost = true
      end
    end
  end
  t.saving = t.cost_without_cache_usd > 0 and t.saved_usd / t.cost_without_cache_usd or 0
  return t
end

--- What a council will cost and the session budget it needs, sending nothing: the shared
--- context written once and read by every other persona (when it reaches the model's cache
--- minimum; all of it at the input price otherwise), each answer at its max_tokens.
--- budget_usd: a limit under which no persona is refused, from each persona's worst case (the
--- last persona to reserve needs its worst case on top of what the others cost).
-- A persona's worst case is the engine's (core.estimate): the call its answer is, as ask() or
-- council_batch() sends it, built into a request by what builds the real one (the model its
-- template names, the marks, every block and key of the body) and bounded as the reservation
-- bounds it. A copy of the body built here had the model, the keys and the marks to keep in
-- step with the engine's; without the JSON around the texts a council of one was refused under
-- the budget its estimate asked for.
-- In a batch, the request nyx.batch makes of the persona's call (batch.request_spec: the hour's
-- cache, a template's output schema), sent at batch prices unless it warms the batch.
local function persona_bound(opts, i, persona, mark, streams, tier, schemas)
  local spec = persona_call(opts, persona, mark)
  if schemas then spec = require("nyx.batch").request_spec(spec, {}, schemas) end
  if streams then spec.on_start = function() end end -- the first persona of a warmed council
  local bound = core.estimate(spec, tier)
  if not core.model(bound.model) or not bound.worst_case_usd then
    bad("model", ('"%s" of personas[%d] is not in the model table with its prices'):format(bound.model, i))
  end
  return bound
end

local function estimate(opts, personas, mark)
  -- In a batch: the context marked for an hour, every price the batch's, and without warm = true
  -- every persona writes the context (they are processed together); with it the first persona
  -- is a standard call that writes it (nyx.batch warms a batch of more than one request).
  local batch = opts.batch == true
  local ttl = (batch or mark == "1h") and "1h" or "5m"
  local warm = batch and opts.warm == true and #personas > 1 or (not batch and opts.warm ~= false)
  local models, bounds, tiers, schemas = {}, {}, {}, batch and {} or nil
  for i, p in ipairs(personas) do
    tiers[i] = batch and not (warm and i == 1) and "batch" or "standard"
    bounds[i] = persona_bound(opts, i, p, batch and "1h" or mark, warm and i == 1, tiers[i], schemas)
    models[i] = core.model(bounds[i].model)
  end
  local max_tokens = bounds[1].max_tokens
  local function costs(bound)
    local calls, total, plain_total = {}, 0, 0
    local written = {} -- models whose cache holds the context: each model has a cache of its own
    local first_context, first_cached
    for i, p in ipairs(personas) do
      local model = models[i]
      local context = core.tokens(opts.context, model.id, bound)
      local cached = context >= model.min_cache_tokens
      if i == 1 then first_context, first_cached = context, cached end
      local own = core.tokens(p.instruction .. "\n" .. opts.question, model.id, bound)
      local tier = tiers[i]
      local usage = { input_tokens = own, output_tokens = max_tokens, ttl = ttl, service_tier = tier }
      if not cached then
        usage.input_tokens = own + context
      elseif not written[model.id] or not warm then
        usage.cache_creation_input_tokens = context
      else
        usage.cache_read_input_tokens = context
      end
      written[model.id] = true
      local c = core.price(usage, model.id)
      calls[i] = { persona = p.name, model = model.id, cost_usd = c, worst_case_usd = bounds[i].worst_case_usd }
      total = total + c
      plain_total = plain_total + core.price({ input_tokens = own + context, output_tokens = max_tokens,
                                               service_tier = tier }, model.id)
    end
    return calls, total, plain_total, first_context, first_cached
  end
  local calls, cost, without, context, cached = costs("estimate")
  local upper, upper_total = costs("max")
  local budget = 0
  for i, c in ipairs(upper) do
    budget = math.max(budget, upper_total - c.cost_usd + c.worst_case_usd)
    calls[i].worst_case_usd = c.worst_case_usd
  end
  return { estimate = true, model = models[1].id, context_tokens = context, cached = cached, batch = batch,
           max_tokens = max_tokens, calls = calls, cost_usd = cost, cost_without_cache_usd = without,
           budget_usd = budget }
end

--- Runs a council. Returns {responses = {...}, totals = {...}}; one persona's failure is kept
--- in its response's `error` and does not stop the others.
--- With estimate = true it sends nothing and returns what the council would cost (estimate()).
---@param opts {context: string, personas: (string|nyx.Persona)[], question: string, session?: any, model?: string, max_tokens?: integer, temperature?: number, thought?: integer, warm?: boolean, estimate?: boolean, batch?: boolean}
local OPTIONS = { "context", "personas", "question", "session", "model", "max_tokens", "temperature",
                  "thought", "warm", "estimate", "batch" }

function M.council(opts)
  if type(opts) ~= "table" then bad("options", "must be a table") end
  local unknown = core.unknown_option(opts, OPTIONS)
  if unknown then core.raise({ type = "invalid_argument", message = "bad argument #1 to 'council' (" .. unknown .. ")" }, 2) end
  if type(opts.context) ~= "string" or opts.context == "" then bad("context", "must be a non-empty string") end
  if type(opts.question) ~= "string" or opts.question == "" then bad("question", "must be a non-empty string") end
  local personas = normalize_personas(opts.personas)
  local mark = shared_mark()
  if opts.estimate then return estimate(opts, personas, mark) end
  local began = core.now()
  if opts.batch then
    local answers = council_batch(opts, personas)
    return { responses = answers, totals = totals(answers, (core.now() - began) * 1000) }
  end
  local answers = {}
  local warm = opts.warm ~= false
  -- The live status line (nyx run on a terminal) shows how far the council is.
  councils = councils + 1
  local key, answered = "council:" .. councils, 0
  local function progress()
    core.progress(("council %d of %d answered"):format(answered, #personas), key)
  end
  progress()
  local function ask_counted(...)
    local a = ask(...)
    answered = answered + 1
    progress()
    return a
  end

  local first_started = core.event()
  local first = core.spawn(function()
    local a = ask_counted(opts, personas[1], mark, warm and function() first_started:set() end or nil)
    first_started:set() -- also when the call failed before its response began
    return a
  end)
  if warm then
    first_started:wait()
  end
  local rest = {}
  for i = 2, #personas do
    rest[i] = core.spawn(ask_counted, opts, personas[i], mark)
  end
  answers[1] = first:wait()
  for i = 2, #personas do
    answers[i] = rest[i]:wait()
  end
  core.progress(nil, key)
  return { responses = answers, totals = totals(answers, (core.now() - began) * 1000) }
end

return M
