-- Council benchmark against the simulator: input cost against the minimum the pricing
-- allows, input saving against no caching, and wall time against one call's latency; with
-- the warm-up, a naive fan-out, and the concatenating pattern that shared-prefix discovery
-- serves. Run: NYX_SIM_TTFT_MS=300 nyx run bench/council.lua [--var short=1]
local nyx = require "nyx"

local short = nyx.vars.short == "1"
local model = nyx.model(nyx.config.get("CLAUDE_DEFAULT_MODEL"))

-- About 10,000 tokens of varied business prose.
local words = { "revenue", "margin", "customers", "retention", "inventory", "forecast", "regional",
  "growth", "pricing", "channel", "partners", "capacity", "quarter", "subscription", "churn",
  "logistics", "warranty", "platform", "demand", "segment", "budget", "supplier", "launch" }
local lines = {}
for i = 1, (short and 300 or 1250) do
  local w = {}
  for j = 1, 6 do w[j] = words[(i * 7 + j * 13) % #words + 1] end
  lines[i] = ("Line %d: the %s and %s of %s shift %s with %s in %s."):format(i, table.unpack(w))
end
local context = table.concat(lines, "\n")
local question = "What should the board decide, and why?"
local personas = {}
for i = 1, 10 do
  personas[i] = { name = "persona" .. i, instruction = "You are advisor number " .. i .. "; answer briefly." }
end

local function input_cost(u)
  return u.input_tokens * model.input + u.cache_creation_input_tokens * model.cache_write_5m
       + u.cache_read_input_tokens * model.cache_read
end

local function summarize(label, answers, wall_ms, single_ms)
  local actual, uncached, tokens_context, tokens_rest = 0, 0, nil, 0
  for _, a in ipairs(answers) do
    local u = assert(a.usage, a.error and tostring(a.error))
    actual = actual + input_cost(u)
    uncached = uncached + (u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens) * model.input
    tokens_context = tokens_context or (u.cache_creation_input_tokens + u.cache_read_input_tokens)
  end
  -- The floor: the shared context written once and read by every other persona; each
  -- persona's own text is uncached at best.
  local n = #answers
  for _, a in ipairs(answers) do
    local u = a.usage
    tokens_rest = tokens_rest + (u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens - tokens_context)
  end
  local floor = tokens_context * (model.cache_write_5m + (n - 1) * model.cache_read) + tokens_rest * model.input
  print(("%s_input_cost_vs_minimum: %.3f"):format(label, actual / floor))
  print(("%s_input_saving_pct: %.1f"):format(label, 100 * (1 - actual / uncached)))
  if single_ms then
    print(("%s_wall_vs_one_call: %.2f"):format(label, wall_ms / single_ms))
  end
end

-- One call's latency, for scale.
local t0 = nyx.now()
nyx.call{ system = context .. "\n\nsolo", prompt = question, max_tokens = 200, cache = false }
local single_ms = (nyx.now() - t0) * 1000
print(("one_call_latency_ms: %.0f"):format(single_ms))

local function council(n, salt, warm)
  local ps = {}
  for i = 1, n do ps[i] = personas[i] end
  local r = nyx.council{ context = salt .. context, personas = ps, question = question,
                         max_tokens = 200, warm = warm }
  return r.responses, r.totals.wall_ms
end

local answers, wall = council(5, "A", true)
summarize("council5", answers, wall, single_ms)
answers, wall = council(10, "B", true)
summarize("council10", answers, wall, single_ms)
answers, wall = council(5, "C", false)
summarize("naive_fanout5", answers, wall, single_ms)

-- The concatenating pattern: one string per persona, no marks from the script.
local concat = {}
local base = "D" .. context
for i = 1, 5 do
  local r = nyx.call{ system = base .. "\n\nRespond as: " .. personas[i].name, prompt = question, max_tokens = 200 }
  concat[i] = { usage = r.usage }
end
summarize("concatenated5", concat)
