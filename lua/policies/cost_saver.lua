--- Moves to a cheaper model as the agent's budget fills: the full model while under half the
--- budget is spent, a cheaper one past half, the cheapest past 80 % (with max_tokens capped).
--- The share spent is read from the budget ledger (shared by every process on the database)
--- at most every `refresh_s` seconds, and followed in between from each result's cost, so a
--- call does not pay for a ledger read.
local nyx = require "nyx"

local M = {
  budget_usd = 1.00,
  models = { "claude-sonnet-5-5", "claude-haiku-4-5", "claude-haiku-5-5" },
  fallback = { "claude-haiku-5-5" },
  refresh_s = 1.0,
}

-- agent name -> {share = spent / limit, limit = USD, at = when read}
local seen = {}

local function read_share(agent)
  local scope = nyx.budget.scope("agent:" .. agent) -- today's, for a daily agent budget
  for _, row in ipairs(nyx.budget.status()) do
    if row.scope == scope and row.limit_usd and row.limit_usd > 0 then
      return (row.spent_usd + row.reserved_usd) / row.limit_usd, row.limit_usd
    end
  end
  return 0, nil
end

local function spent_share(agent)
  local s, now = seen[agent], nyx.now()
  if not s or not s.limit or now - s.at >= M.refresh_s then -- no limit yet: no row until a call
    local share, limit = read_share(agent)
    s = { share = share, limit = limit, at = now }
    seen[agent] = s
  end
  return s.share
end

function M.choose(call)
  local share = spent_share(call.agent)
  local pick = share >= 0.8 and 3 or share >= 0.5 and 2 or 1
  return { model = M.models[pick], max_tokens = share >= 0.8 and math.min(call.max_tokens or 512, 512) or nil }
end

function M.on_result(call, result)
  local s = seen[call.agent]
  local cost = result.usage and result.usage.cost_usd
  if s and s.limit and cost then s.share = s.share + cost / s.limit end
end

function M.on_error(_, err)
  return err.type == "overloaded_error" and "fallback" or "fail"
end

return M
