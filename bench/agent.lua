-- Agent policy benchmark: the time a:call adds over a plain nyx.call. The call itself is
-- stubbed (a function returning a fixed result), so what is timed is exactly the policy
-- path of nyx.agent (lua/nyx/agent.lua's run): limits, choose, applying its changes, and
-- on_result. Run: NYX_DB=:memory: nyx run bench/agent.lua [--var short=1]
local nyx = require "nyx"
local agent_mod = require "nyx.agent"

local short = nyx.vars.short == "1"
local N = short and 5000 or 100000

local result = { text = "ok", model = "claude-haiku-5-5", usage = { input_tokens = 10, output_tokens = 5,
  cost_usd = 0.00001 } }
local function send(_) return result end

local call = { prompt = "Summarise the quarterly figures for the board in three lines.", max_tokens = 200 }

local function per_call_us(a)
  for _ = 1, 200 do agent_mod.run(a, call, send) end -- warm up
  local t0 = os.clock()
  for _ = 1, N do send(call) end
  local base = os.clock() - t0
  t0 = os.clock()
  for _ = 1, N do agent_mod.run(a, call, send) end
  local with = os.clock() - t0
  return math.max(0, (with - base) / N * 1e6)
end

-- A typical hand-written policy: choose picks a model and caps max_tokens by the prompt's
-- size; on_result counts spending.
local typical = { spent = 0 }
function typical.choose(c)
  local long = #c.prompt > 2000
  return { model = long and "claude-sonnet-5-5" or "claude-haiku-5-5", max_tokens = math.min(c.max_tokens or 1024, 512) }
end
function typical.on_result(_, r) typical.spent = typical.spent + (r.usage.cost_usd or 0) end
function typical.on_error() return "fail" end

local rows = {
  { "policy_hooks_per_call_us", nyx.agent{ name = "bench_typical", policy = typical } },
  { "policy_hooks_default_per_call_us", nyx.agent{ name = "bench_default", policy = "policies.default" } },
  { "policy_hooks_careful_per_call_us", nyx.agent{ name = "bench_careful", policy = "policies.careful" } },
  { "policy_hooks_cost_saver_per_call_us", nyx.agent{ name = "bench_saver", policy = "policies.cost_saver" } },
}
-- The cost saver reads the budget ledger: give it a row, as a running agent has.
rows[4][2]:call{ prompt = "warm up", max_tokens = 5 }
for _, row in ipairs(rows) do
  print(("%s: %.2f"):format(row[1], per_call_us(row[2])))
end
print(("policy_hooks_iterations: %d"):format(N))
