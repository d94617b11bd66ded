-- A council under tier-1 rate limits: 8 personas over a ~9,000-token context on
-- claude-sonnet-4-6 against a server that advertises and enforces 50 RPM, 30,000 input and
-- 8,000 output tokens per minute. Cache reads do not count toward input tokens per minute, so
-- the council should take about two calls' time (the warm-up's first token, then one call).
-- Run against `nyx sim --rpm 50 --itpm 30000 --otpm 8000 --ttft-ms 300` (bench/run.sh does).
local nyx = require "nyx"

local model = "claude-sonnet-4-6"
local words = { "revenue", "margin", "customers", "retention", "inventory", "forecast", "regional",
  "growth", "pricing", "channel", "partners", "capacity", "quarter", "subscription", "churn" }
local lines = {}
for i = 1, 470 do
  local w = {}
  for j = 1, 4 do w[j] = words[(i * 7 + j * 13) % #words + 1] end
  lines[i] = ("Line %d: the %s of %s shifts with %s in %s."):format(i, table.unpack(w))
end
local context = table.concat(lines, "\n")
local question = "What should the board decide, and why?"
local personas = {}
for i = 1, 8 do
  personas[i] = { name = "advisor" .. i, instruction = "You are advisor number " .. i .. "; answer briefly." }
end

-- One call's time, for scale: the same context uncached (it also tells the engine the limits,
-- from the server's headers).
local t0 = nyx.now()
local one = nyx.call{ model = model, system = context .. "\n\nsolo", prompt = question, max_tokens = 200, cache = false }
local single_s = nyx.now() - t0

t0 = nyx.now()
local r = nyx.council{ model = model, context = context, personas = personas, question = question, max_tokens = 200 }
local wall_s = nyx.now() - t0
assert(r.totals.errors == 0, "a persona failed")

print(("council8_tier1_context_tokens: %d"):format(one.usage.input_tokens))
print(("council8_tier1_one_call_s: %.2f"):format(single_s))
print(("council8_tier1_wall_s: %.2f"):format(wall_s))
print(("council8_tier1_wall_vs_one_call: %.2f"):format(wall_s / single_s))
