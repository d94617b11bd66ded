-- Budgets through the Lua API: concurrency cannot overshoot a limit, refused calls raise
-- budget_exceeded and reach no server, unknown prices cannot be budgeted, alerts fire at their
-- thresholds, and the ledger is visible to scripts. Each case runs in-process and over HTTP.
local H = require "helpers.nyx_case"
local DB = require "helpers.db"

local function dbfile()
  return DB.fresh(H.tempdir)
end

H.describe_setups("budgets", function(setup)
  -- Sizes are for the default model, Haiku 5.5: about $0.0001 per call of 200 output tokens.
  it("100 concurrent calls against a budget for about 30 worst cases: never over, calls that fit once others settle wait, refused calls send nothing", function()
    local v = setup:run([[
      local s = nyx.session{ name = "tight", budget_usd = 0.003 }
      local tasks, outcome, needs = {}, {}, {}
      for i = 1, 100 do
        tasks[i] = nyx.spawn(function()
          local ok, r = pcall(nyx.call, { prompt = "call " .. i, max_tokens = 200, session = s })
          outcome[i] = ok and "ok" or r.type
          if not ok then
            needs[#needs + 1] = tonumber(r.message:match("this call needs up to %$([%d.]+)"))
          end
        end)
      end
      for i = 1, 100 do tasks[i]:wait() end
      local counts = {}
      for _, o in ipairs(outcome) do counts[o] = (counts[o] or 0) + 1 end
      return { counts = counts, spent = s:stats().cost_usd, sent = #sim.requests(), row = budget_row("session:tight"),
               needs = needs }
    ]], { env = { NYX_DB = dbfile() } })
    local ok, refused = v.counts.ok or 0, v.counts.budget_exceeded or 0
    assert.are.equal(100, ok + refused, "every call either ran or was refused by the budget")
    -- About 30 worst cases fit at once; calls cost less than their worst case, so those that
    -- waited for the first ones to settle fit too.
    assert.is_true(ok > 35, "more than the worst cases fit: " .. ok)
    -- Only a call that could not fit even with nothing pending was refused.
    for _, need in ipairs(v.needs) do
      assert.is_true(v.spent + need > 0.003 - 1e-6, ("refused a call needing %g with %g left"):format(need, 0.003 - v.spent))
    end
    assert.are.equal(ok, v.sent, "the server received exactly the calls the budget covered")
    assert.is_true(v.spent <= 0.003, "spent " .. v.spent)
    assert.is_true(math.abs(v.row.spent_usd - v.spent) < 1e-9, "the ledger holds what was spent")
    assert.are.equal(0, v.row.reserved_usd, "every reservation was settled")
    assert.are.equal(0.003, v.row.limit_usd)
  end)

  it("refuses a model with no known price while a budget applies, before sending", function()
    local v = setup:run([[
      local s = nyx.session{ name = "priced", budget_usd = 1 }
      local ok, err = pcall(nyx.call, { model = "]] .. H.UNPRICED_MODEL .. [[", prompt = "x",
                                        max_tokens = 5, session = s })
      return { ok = ok, err = err, sent = #sim.requests() }
    ]], { env = { NYX_DB = dbfile() } })
    assert.is_false(v.ok)
    H.assert_error(v.err, "invalid_argument", "no price", true)
    assert.are.equal(0, v.sent)
  end)

  it("raises budget_alert at 50, 80 and 100 percent, once each", function()
    local v = setup:run([[
      local seen = {}
      nyx.on("budget_alert", function(a) seen[#seen + 1] = a.threshold end)
      nyx.budget.limit("day", 0.0004)
      for i = 1, 40 do
        local ok = pcall(nyx.call, { prompt = "spend " .. i, max_tokens = 60 })
        if not ok then break end
      end
      return seen
    ]], { env = { NYX_DB = dbfile() } })
    assert.are.same({ 0.5, 0.8 }, { v[1], v[2] })
    for i = 3, #v do assert.are.equal(1.0, v[i]) end
    assert.is_true(#v <= 3, "each threshold once")
  end)
end)
