-- A session's budget is set when it is first opened; opening it again with another budget_usd
-- (in the same process, or in a later one that finds the limit in the budget ledger) is an
-- invalid_argument naming both limits, never a silent raise. nyx.budget.limit changes it.
local H = require "helpers.nyx_case"

H.describe_setup("reopening a session with another budget", function(setup)
  it("in the same process: refused, naming both limits; the first limit keeps holding", function()
    local v = setup:run [[
      local s = nyx.session{ name = "cap", budget_usd = 0.001 }
      local ok, err = pcall(nyx.session, { name = "cap", budget_usd = 100 })
      local same = pcall(nyx.session, { name = "cap", budget_usd = 0.001 })
      local bare = pcall(nyx.session, { name = "cap" })
      -- A call whose worst case is over $0.001 is still refused.
      local cok, cerr = pcall(nyx.call, { prompt = "Hello", max_tokens = 4000, session = "cap" })
      return { ok = ok, err = err, same = same, bare = bare, call = cok or cerr.type }
    ]]
    assert.is_false(v.ok)
    H.assert_error(v.err, "invalid_argument", "budget_usd")
    assert.matches("$0.001", v.err.message, 1, true)
    assert.matches("$100", v.err.message, 1, true)
    assert.is_true(v.same, "the same budget again is fine")
    assert.is_true(v.bare, "no budget_usd keeps the limit")
    assert.are.equal("budget_exceeded", v.call)
  end)

  it("in a later process: the ledger's limit is compared; nyx.budget.limit raises it", function()
    local db = setup:new_db()
    local env = { env = { NYX_DB = db } }
    setup:run([[
      local s = nyx.session{ name = "cap", budget_usd = 0.05 }
      nyx.call{ prompt = "Hello", max_tokens = 5, session = s }
    ]], env)
    local v = setup:run([[
      local ok, err = pcall(nyx.session, { name = "cap", budget_usd = 100 })
      local same = pcall(nyx.session, { name = "cap", budget_usd = 0.05 })
      return { ok = ok, err = err, same = same }
    ]], env)
    assert.is_false(v.ok)
    H.assert_error(v.err, "invalid_argument", "$0.05", true)
    assert.matches("nyx.budget.limit", v.err.message, 1, true)
    assert.is_true(v.same)
    local raised = setup:run([[
      nyx.budget.limit("session:cap", 100)
      local s = nyx.session{ name = "cap", budget_usd = 100 }
      return nyx.call{ prompt = "Hello", max_tokens = 4000, session = s }.text ~= nil
    ]], env)
    assert.is_true(raised)
  end)
end)
