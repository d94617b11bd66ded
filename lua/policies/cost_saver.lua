--- Moves to a cheaper model as the agent's budget fills: the full model while under half the
--- budget is spent, a cheaper one past half, the cheapest past 80 %.
local nyx = require "nyx"

local M = {
  budget_usd = 1.00,
  models = { "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku-20241022" },
}

local function spent_share(agent)
  for _, row in ipairs(nyx.budget.status()) do
    if row.scope == "agent:" .. agent and row.limit_usd and row.limit_usd > 0 then
      return (row.spent_usd + row.reserved_usd) / row.limit_usd
    end
  end
  return 0
end

function M.choose(call)
  local share = spent_share(call.agent)
  local pick = share >= 0.8 and 3 or share >= 0.5 and 2 or 1
  return { model = M.models[pick], max_tokens = share >= 0.8 and math.min(call.max_tokens or 512, 512) or nil }
end

function M.on_error(_, err)
  return err.type == "overloaded_error" and "fallback" or "fail"
end

M.fallback = { "claude-haiku-4-5" }

return M
