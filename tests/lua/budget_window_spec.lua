-- An agent's budget is spent per window (a UTC day unless its policy says "month" or
-- "total"), a changed limit shows in the ledger at once, and `nyx budget reset SCOPE` starts a
-- scope's spending again from 0.
local H = require "helpers.nyx_case"
local json = require "dkjson"

H.describe_setup("budget windows and resets", function(setup)
  it("an agent's budget is per day by default, per month or in total when asked", function()
    local db = setup:new_db()
    local v = setup:run([[
      local daily = nyx.agent{ name = "daily", budget_usd = 1 }
      local monthly = nyx.agent{ name = "monthly", budget_usd = 1, budget_per = "month" }
      local forever = nyx.agent{ name = "forever", budget_usd = 1, budget_per = "total" }
      for _, a in ipairs({ daily, monthly, forever }) do a:call{ prompt = "hi", max_tokens = 10 } end
      local scopes = {}
      for _, row in ipairs(nyx.budget.status()) do scopes[row.scope] = row.spent_usd end
      local ok, err = pcall(nyx.agent, { name = "bad", budget_per = "week" })
      return { scopes = scopes, daily = nyx.budget.scope("agent:daily"), bad = err.message,
               session_window = select(2, pcall(nyx.budget.limit, "session:s", 1, "day")).message }
    ]], { env = { NYX_DB = db } })
    local day, month = os.date("!%Y-%m-%d"), os.date("!%Y-%m")
    assert.are.equal("agent:daily/" .. day, v.daily)
    assert.is_true(v.scopes["agent:daily/" .. day] > 0, json.encode(v.scopes))
    assert.is_true(v.scopes["agent:monthly/" .. month] > 0, json.encode(v.scopes))
    assert.is_true(v.scopes["agent:forever"] > 0, json.encode(v.scopes))
    assert.is_nil(v.scopes["agent:daily"], "no lifetime total for a daily budget")
    assert.matches("budget_per", v.bad)
    assert.matches("only an agent's budget has a window", v.session_window)
  end)

  it("a policy's new budget_usd shows in the ledger at once", function()
    local db = setup:new_db()
    local v = setup:run([[
      local policy = { budget_usd = 0.5 }
      local a = nyx.agent{ name = "changing", policy = policy }
      a:call{ prompt = "hi", max_tokens = 10 }
      policy.budget_usd = 2
      a:call{ prompt = "again", max_tokens = 10 }
      local limit = budget_row("agent:changing").limit_usd
      nyx.budget.limit("agent:changing", 3)
      return { limit = limit, after = budget_row("agent:changing").limit_usd }
    ]], { env = { NYX_DB = db } })
    assert.are.equal(2, v.limit)
    assert.are.equal(3, v.after, "shown without another call")
  end)

  it("nyx budget reset SCOPE starts the scope's spending again", function()
    local db = setup:new_db()
    setup:run([[
      local s = nyx.session{ name = "spent", budget_usd = 1 }
      nyx.call{ prompt = "hi", max_tokens = 10, session = s }
    ]], { env = { NYX_DB = db } })
    local before = H.nyx(db, "budget --json")
    assert.matches('"scope":"session:spent"', before)
    local out, rc = H.nyx(db, "budget reset session:spent")
    assert.are.equal(0, rc, out)
    assert.matches("session:spent reset", out)
    local rows = {}
    for line in H.nyx(db, "budget --json"):gmatch("[^\n]+") do
      local row = json.decode(line)
      if row then rows[row.scope] = row end
    end
    assert.are.equal(0, rows["session:spent"].spent_usd)
    local kinds = {}
    for _, ev in ipairs(H.audit(db)) do kinds[ev.kind] = ev end
    assert.truthy(kinds.budget_reset, "the reset is audited")
    out, rc = H.nyx(db, "budget reset session:nobody")
    assert.are.equal(1, rc, out)
    assert.matches("no budget scope", out)
    out, rc = H.nyx(db, "budget reset")
    assert.are.equal(2, rc, out)
  end)
end)
