-- Conversation benchmark against `nyx sim` over HTTP (bench/run.sh starts the server and points
-- ANTHROPIC_BASE_URL at it): a chat with a ~1.1k-token system prompt, short questions and
-- 60-token answers, turn after turn, once with nyx's own cache marks (cache = "auto") and once
-- with the API's automatic caching (cache = "api": one top-level cache_control), on the same
-- server with its cache emptied in between, so both runs send the same conversation. Prints the
-- dollars of each and their ratio (nyx / automatic caching; below 1 is cheaper); then a second
-- user's chat over the same system prompt, and a tool loop whose every step adds more than 20
-- blocks (the API's lookback): there a second mark keeps the cache read.
-- Run: ANTHROPIC_API_KEY=x ANTHROPIC_BASE_URL=http://127.0.0.1:PORT nyx run bench/chat.lua [--var short=1]
local nyx = require "nyx"

local short = nyx.vars.short == "1"

local sim = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "sim_control.lua")
local control = sim.control

local system = sim.system("You are the planning assistant of a regional retailer.")

--- A chat of `turns` turns by user `who`; returns the dollars of every turn, and how many
--- turns after the first cache write read nothing. `keep` keeps the server's cache.
local function chat(model, turns, cache, who, keep)
  if not keep then control("POST", "/sim/reset") end
  local msgs, cost, written, unread = {}, {}, false, 0
  for t = 1, turns do
    msgs[#msgs + 1] = { role = "user", content = ("%s, question %d: given the figures so far, what should region %d change next quarter, and at what cost?"):format(who, t, t) }
    local r = nyx.call{ model = model, system = system, messages = msgs, max_tokens = 60, cache = cache }
    cost[t] = assert(r.usage.cost_usd, "unpriced model")
    if written and r.usage.cache_read_input_tokens == 0 then unread = unread + 1 end
    written = written or r.usage.cache_creation_input_tokens > 0
    msgs[#msgs + 1] = { role = "assistant", content = r.text }
  end
  return cost, unread
end

--- A tool loop sent as plain messages: each step an assistant turn, then a user turn of
--- `results` blocks (one per tool result).
local function loop(model, steps, results, cache)
  control("POST", "/sim/reset")
  local msgs, cost = { { role = "user", content = "Audit every store and report." } }, {}
  for s = 1, steps do
    local r = nyx.call{ model = model, system = system, messages = msgs, max_tokens = 60, cache = cache }
    cost[s] = r.usage.cost_usd
    msgs[#msgs + 1] = { role = "assistant", content = r.text }
    local blocks = {}
    for i = 1, results do blocks[i] = ("Store %d.%d: stock %d, sales %d."):format(s, i, s * i, s + i) end
    msgs[#msgs + 1] = { role = "user", content = blocks }
  end
  return cost
end

local function sum(t, n)
  local s = 0
  for i = 1, n or #t do s = s + t[i] end
  return s
end

local function report(name, nyx_cost, api_cost, n)
  local a, b = sum(nyx_cost, n), sum(api_cost, n)
  print(("%s_nyx_usd: %.6f"):format(name, a))
  print(("%s_api_usd: %.6f"):format(name, b))
  print(("%s_vs_api: %.3f"):format(name, a / b))
  local worse = 0
  for i = 1, n or #nyx_cost do
    if nyx_cost[i] > api_cost[i] + 1e-12 then worse = worse + 1 end
  end
  print(("%s_turns_costlier_than_api: %d"):format(name, worse))
end

control("POST", "/sim/config", { ttft_ms = 1, token_ms = 0, rpm = 0, itpm = 0, otpm = 0 })
-- The short pass: the model with the lower minimum, where a few turns already cache.
local models = short and { "claude-sonnet-5-5" } or { "claude-sonnet-4-6", "claude-sonnet-5-5" }
local turns = short and 4 or 30
for _, model in ipairs(models) do
  local tag = model:gsub("^claude%-", ""):gsub("%-", "")
  -- Then another user's chat over the same system prompt: a changed tail, where the system
  -- prompt's own mark helps (when the prompt reaches the model's minimum).
  local own, unread = chat(model, turns, "auto", "Ann")
  local own2 = chat(model, 3, "auto", "Bob", true)
  local api = chat(model, turns, "api", "Ann")
  local api2 = chat(model, 3, "api", "Bob", true)
  if not short then report("chat12_" .. tag, own, api, 12) end
  report(("chat%d_%s"):format(turns, tag), own, api, turns)
  print(("chat%d_%s_turns_unread_after_first_write: %d"):format(turns, tag, unread))
  report("second_chat3_" .. tag, own2, api2)
end
local steps = short and 3 or 15
local loop_model = models[1]
report(("toolloop%d_%s"):format(steps, loop_model:gsub("^claude%-", ""):gsub("%-", "")),
       loop(loop_model, steps, 22, "auto"), loop(loop_model, steps, 22, "api"))
