-- An agent with a policy: it renders the task-execution template, records a thought node,
-- and calls Claude within a session. Run: nyx run examples/agent.lua
local nyx = require "nyx"

local s <close> = nyx.session{ name = "agent_demo_" .. os.date("!%Y%m%dT%H%M%S"), budget_usd = 0.50 }
local analyst = nyx.agent{ name = "analyst", policy = nyx.vars.policy or "policies.cost_saver", session = s }

local root = nyx.thought{ label = "quarterly review", session = s }
local node = nyx.thought{ label = "find the riskiest assumption", parent = root, session = s }

local task = nyx.templates.render("task_execution", {
  role = "financial analyst",
  task = "Find the riskiest assumption in the subscription plan's base case.",
  constraints = { "cite the number you doubt", "propose one test to check it" },
  context = "Base case: 38,000 members after year one, 28% annual churn, 2.3x spend per member.",
  output_format = "three short paragraphs",
})

-- template= records this use under the task template's version (nyx templates stats task_execution).
local r = analyst:call{ prompt = task, template = "task_execution", max_tokens = 300, thought = node }
print(("model %s, %d input + %d output tokens, cost $%.6f"):format(
  r.model, r.usage.input_tokens, r.usage.output_tokens, r.usage.cost_usd or 0))
print(r.text)
