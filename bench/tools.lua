-- Tool loop benchmark against `nyx sim` over HTTP (bench/run.sh starts the server and points
-- ANTHROPIC_BASE_URL at it), with no delays in the simulator:
-- 1. The engine's CPU per iteration of a tool loop (request building, the answer's blocks, the
--    tool run as a task, the transcript carried to the next call, its record), measured with
--    os.clock() in this process (the simulator is another process), beside a plain call's.
-- 2. A 10-iteration tool loop (tool_choice "any": the model asks for a tool every turn) with a
--    ~1.1k-token system prompt and two tools, once with nyx's cache marks (cache = "auto") and
--    once with the API's automatic caching (cache = "api"), on the same server with its cache
--    emptied in between: the dollars of each and their ratio (below 1: nyx is cheaper).
-- Run: ANTHROPIC_API_KEY=x ANTHROPIC_BASE_URL=http://127.0.0.1:PORT nyx run bench/tools.lua [--var short=1]
local nyx = require "nyx"

local short = nyx.vars.short == "1"

local sim = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "sim_control.lua")
local control = sim.control

local system = sim.system("You are the stock auditor of a regional retailer; use the tools, one store at a time.")

local n_stock = 0
local stock = nyx.tool{ name = "stock", description = "Stock and sales of one store",
  input = { type = "object", properties = { store = { type = "integer" } }, required = { "store" } },
  run = function(input)
    n_stock = n_stock + 1
    return ("store %d: %d items in stock, %d sold this week, reorder point %d"):format(
      input.store, 400 + n_stock * 7, 90 + n_stock * 3, 120)
  end }
local note = nyx.tool{ name = "note", description = "Writes a line of the audit report",
  input = { type = "object", properties = { line = { type = "string" } }, required = { "line" } },
  run = function() return "noted" end }

--- A loop of `iterations` calls that all ask for tools; returns its total usage.
local function tool_loop(model, iterations, cache, max_tokens)
  n_stock = 0 -- the same results each time: both caching modes see the same conversation
  local ok, e = pcall(nyx.call, { model = model, system = system, prompt = "Audit every store and report.",
                                  tools = { stock, note }, tool_choice = "any", max_iterations = iterations,
                                  max_tokens = max_tokens or 200, cache = cache })
  assert(not ok and e.type == "max_iterations", "the loop should run to max_iterations: " .. tostring(e))
  return e.usage
end

control("POST", "/sim/config", { ttft_ms = 0, token_ms = 0, rpm = 0, itpm = 0, otpm = 0 })

-- 1. CPU per iteration, against a plain call of the same model and system prompt.
local model = "claude-haiku-4-5"
local loops = short and 5 or 100
tool_loop(model, 10, "auto") -- warm: connection, model table, first records
local t0 = os.clock()
for _ = 1, loops do tool_loop(model, 10, "auto") end
local per_iteration = (os.clock() - t0) / (loops * 10)
local plain = loops * 10
t0 = os.clock()
for i = 1, plain do
  nyx.call{ model = model, system = system, prompt = "Store " .. i .. ": anything to reorder?", max_tokens = 60 }
end
local per_call = (os.clock() - t0) / plain
print(("toolloop_cpu_us_per_iteration: %.1f"):format(per_iteration * 1e6))
print(("plain_call_cpu_us: %.1f"):format(per_call * 1e6))

-- 2. A 10-iteration loop's dollars: nyx's marks against the API's automatic caching.
for _, m in ipairs(short and { "claude-sonnet-5-5" } or { "claude-sonnet-5-5", "claude-haiku-4-5" }) do
  local tag = m:gsub("^claude%-", ""):gsub("%-", "")
  control("POST", "/sim/reset")
  local own = tool_loop(m, 10, "auto")
  control("POST", "/sim/reset")
  local api = tool_loop(m, 10, "api")
  print(("toolloop10_%s_nyx_usd: %.6f"):format(tag, own.cost_usd))
  print(("toolloop10_%s_api_usd: %.6f"):format(tag, api.cost_usd))
  print(("toolloop10_%s_vs_api: %.3f"):format(tag, own.cost_usd / api.cost_usd))
  print(("toolloop10_%s_cache_read_nyx_api: %d %d"):format(tag, own.cache_read_input_tokens,
                                                            api.cache_read_input_tokens))
end
