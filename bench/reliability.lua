-- Reliability benchmark against `nyx sim` over HTTP with injected faults (bench/run.sh starts
-- the server and points ANTHROPIC_BASE_URL at it). Three figures of issue 5:
--   1. many calls, many in flight, 20 % transient faults: every call either succeeds or fails
--      after exactly its allowed attempts; attempts per call; wall time.
--   2. the primary failing every request: after the breaker opens, no request reaches it until
--      the cool-down, and calls fail fast.
--   3. a 429 with retry-after while calls queue: none is sent before the retry-after elapses.
-- Run: ANTHROPIC_API_KEY=x ANTHROPIC_BASE_URL=http://127.0.0.1:PORT nyx run bench/reliability.lua
--      [--var short=1] [--var part=calls|breaker|hold] [--var prefix=NAME]
-- part: one section only (default all); prefix: what the section-1 figures are called
-- (default "reliability"), so a second run with another breaker configuration can be told apart.
local nyx = require "nyx"

local short = nyx.vars.short == "1"
local part = nyx.vars.part
local prefix = nyx.vars.prefix or "reliability"
local max_retries = tonumber(nyx.config.get("LLM_MAX_RETRIES"))
local cooldown = tonumber(os.getenv("NYX_BREAKER_COOLDOWN_SECONDS") or "30")

-- ---- the simulator's control endpoints ----

local sim = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "sim_control.lua")
local control = sim.control

--- Messages requests that reached the simulator for a model, by arrival time.
local function sent(model)
  local out = {}
  for _, r in ipairs(control("GET", "/sim/requests").requests) do
    if r.path == "/v1/messages" and r.model == model then out[#out + 1] = r end
  end
  table.sort(out, function(a, b) return a.t < b.t end)
  return out
end

local function report(name, fmt, value) print(("%s: " .. fmt):format(name, value)) end

control("POST", "/sim/reset")
control("POST", "/sim/config", { ttft_ms = 20, token_ms = 0.05, rpm = 0, itpm = 0, otpm = 0, seed = 5 })

-- ---- 1. many calls in flight through 20 % transient faults ----
if part == nil or part == "calls" then
  local model = "claude-haiku-5-5"
  local calls, in_flight = short and 200 or 1000, 50
  -- Four kinds, 5 % each of all requests: a rule is tried only when the ones before it did not
  -- fire, so each rule's probability is 5 % of what is left.
  local faults, left = {}, 1
  for _, f in ipairs({ "server_error", "overloaded", "rate_limit", "reset" }) do
    faults[#faults + 1] = { fault = f, model = model, probability = 0.05 / left }
    left = left - 0.05
  end
  control("POST", "/sim/faults", { faults = faults })
  local outcomes, next_call = {}, 0
  local t0 = nyx.now()
  local workers = {}
  for w = 1, in_flight do
    workers[w] = nyx.spawn(function()
      while next_call < calls do
        next_call = next_call + 1
        local i = next_call
        local ok, r = pcall(nyx.call, { model = model, prompt = "Reliability call " .. i, max_tokens = 32 })
        outcomes[i] = { ok = ok, attempts = r.attempts, type = not ok and r.type or nil }
      end
    end)
  end
  for _, w in ipairs(workers) do w:wait() end
  local wall = nyx.now() - t0
  control("DELETE", "/sim/faults")
  local succeeded, failed_max, attempts, other, refused = 0, 0, 0, {}, 0
  for i = 1, calls do
    local o = outcomes[i]
    if o then attempts = attempts + (o.attempts or 0) end
    if o and o.ok then
      succeeded = succeeded + 1
    elseif o and o.attempts == 1 + max_retries then
      failed_max = failed_max + 1
    else
      local key = o and o.type or "no_outcome"
      other[key] = (other[key] or 0) + 1
    end
  end
  local requests = #sent(model)
  local function fig(name, fmt, value) report(prefix .. "_" .. name, fmt, value) end
  fig("calls", "%d", calls)
  fig("succeeded", "%d", succeeded)
  fig("failed_after_max_attempts", "%d", failed_max)
  -- Calls that neither succeeded nor used all their attempts, by error type (circuit_open:
  -- refused by a breaker that the faults opened).
  fig("unaccounted", "%d", calls - succeeded - failed_max)
  for k, n in pairs(other) do fig("unaccounted_" .. k, "%d", n) end
  fig("attempts_per_call", "%.3f", attempts / calls)
  -- What the server saw: more than the engine's attempts when the HTTP layer re-sent a request.
  fig("requests_per_call", "%.3f", requests / calls)
  fig("wall_s", "%.2f", wall)
end

-- ---- 2. circuit breaker: the primary fails every request ----
if part == nil or part == "breaker" then
  local model = "claude-sonnet-5-5"
  control("POST", "/sim/faults", { faults = { { fault = "server_error", model = model, probability = 1 } } })
  -- Calls until one is refused by the open breaker.
  local opened = false
  for _ = 1, 50 do
    local ok, err = pcall(nyx.call, { model = model, prompt = "until open", max_tokens = 16 })
    if not ok and err.type == "circuit_open" then opened = true break end
  end
  assert(opened, "the breaker never opened")
  local log = sent(model)
  local t_last = log[#log].t -- the request whose failure opened it
  -- While it is open: calls one after another, then a burst from many tasks at once.
  local n = short and 200 or 2000
  local total, refused = 0, 0
  for i = 1, n do
    local t0 = nyx.now()
    local ok, err = pcall(nyx.call, { model = model, prompt = "while open " .. i, max_tokens = 16 })
    total = total + (nyx.now() - t0)
    if not ok and err.type == "circuit_open" then refused = refused + 1 end
  end
  local tasks = {}
  for i = 1, 50 do
    tasks[i] = nyx.spawn(function() return pcall(nyx.call, { model = model, prompt = "burst " .. i, max_tokens = 16 }) end)
  end
  for _, t in ipairs(tasks) do
    local ok, err = t:wait()
    if not ok and err.type == "circuit_open" then refused = refused + 1 end
  end
  -- After the cool-down: one probe (it fails: the breaker opens again).
  local wait = t_last + cooldown - nyx.now() + 0.05
  if wait > 0 then nyx.sleep(wait) end
  pcall(nyx.call, { model = model, prompt = "probe", max_tokens = 16 })
  control("DELETE", "/sim/faults")
  local early, probes = 0, 0
  for _, r in ipairs(sent(model)) do
    if r.t > t_last and r.t < t_last + cooldown then early = early + 1 end
    if r.t >= t_last + cooldown then probes = probes + 1 end
  end
  report("breaker_cooldown_s", "%g", cooldown)
  report("breaker_calls_while_open", "%d", n + 50)
  report("breaker_refused_circuit_open", "%d", refused)
  report("breaker_requests_after_open", "%d", early)
  report("breaker_probe_requests", "%d", probes)
  report("breaker_fail_fast_us", "%.1f", total / n * 1e6)
end

-- ---- 3. a 429 with retry-after holds every queued call to the model ----
if part == nil or part == "hold" then
  local model = "claude-opus-4-8"
  local queued, retry_after = short and 10 or 50, 1
  control("POST", "/sim/faults", { faults = { { fault = "rate_limit", model = model, retry_after = retry_after, count = 1 } } })
  local function call(prompt)
    return nyx.spawn(function() return pcall(nyx.call, { model = model, prompt = prompt, max_tokens = 16 }) end)
  end
  local tasks = { call("first") }
  for _ = 1, 500 do
    if #sent(model) > 0 then break end
    nyx.sleep(0.01)
  end
  nyx.sleep(0.05) -- the 429 is back at the engine
  for i = 1, queued do
    tasks[#tasks + 1] = call("queued " .. i)
  end
  local ok_calls = 0
  for _, t in ipairs(tasks) do
    if t:wait() then ok_calls = ok_calls + 1 end
  end
  local log = sent(model)
  local t429, early, last = log[1].t, 0, 0
  for i = 2, #log do
    if log[i].t < t429 + retry_after then early = early + 1 end
    last = math.max(last, log[i].t - t429)
  end
  report("hold_queued_calls", "%d", queued)
  report("hold_succeeded", "%d", ok_calls)
  report("hold_sent_before_retry_after", "%d", early)
  report("hold_last_sent_after_429_s", "%.3f", last)
end
