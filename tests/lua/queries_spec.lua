-- `nyx stats` and `nyx log` read the database, so they answer across runs and processes: two
-- processes log calls into one database, and the commands' totals, groups, filters and limits
-- are checked against what the scripts themselves saw. Plain output is an aligned table;
-- `--json` is one object per line; a bad flag value is a usage error naming the flag.
local H = require "helpers.nyx_case"
local DB = require "helpers.db"
local json = require "dkjson"

local nyx = H.nyx

local function lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

-- Every line of a table is as long as the header and no column runs into the next.
local function assert_aligned(text, want_rows)
  local rows = lines(text)
  assert.are.equal(want_rows + 1, #rows, text)
  for i = 2, #rows do
    assert.are.equal(#rows[1], #rows[i], "line " .. i .. " is out of line:\n" .. text)
  end
  for start in rows[1]:gmatch("()%S+") do
    if start > 1 then
      for i = 2, #rows do
        assert.are.equal(" ", rows[i]:sub(start - 1, start - 1), "a column runs into the next:\n" .. text)
      end
    end
  end
end

local host = H.setups()[1]

describe("nyx stats and nyx log", function()
  teardown(function() host:stop() end)

  local db, seen
  setup(function()
    db = DB.fresh(H.tempdir)
    -- Two processes, one after the other, on one database: n calls of a session, each with
    -- the call options given; returns what each call reported.
    local function process(session, n, options)
      return host:run(([[
        local s = nyx.session{ name = %q }
        local out = {}
        for i = 1, %d do
          local call = { prompt = %q .. i, max_tokens = 20, session = s }
          for k, v in pairs(%s) do call[k] = v end
          local r = nyx.call(call)
          out[i] = { input = r.usage.input_tokens, output = r.usage.output_tokens, cost = r.usage.cost_usd }
        end
        return out
      ]]):format(session, n, session .. " ", options), { env = { NYX_DB = db } })
    end
    local a = process("alpha", 3, '{ agent = "scout" }')
    local b = process("beta", 2, '{ model = "claude-sonnet-4-5" }')
    seen = { alpha = a, beta = b }
  end)

  local function sum(list, key)
    return H.sum(list, function(x) return x[key] end)
  end

  it("totals every run's calls, and by session, agent and model", function()
    local out, code = nyx(db, "stats --json")
    assert.are.equal(0, code, out)
    local total = assert(json.decode(lines(out)[1]), out)
    local all = { seen.alpha[1], seen.alpha[2], seen.alpha[3], seen.beta[1], seen.beta[2] }
    assert.are.same({ group = "total", calls = 5, input = sum(all, "input"), output = sum(all, "output"), errors = 0 },
                    { group = total.group, calls = total.calls, input = total.input, output = total.output,
                      errors = total.errors })
    assert.is_true(math.abs(total.cost_usd - sum(all, "cost")) < 1e-9, total.cost_usd .. " vs " .. sum(all, "cost"))

    local by = {}
    for _, kind in ipairs({ "session", "agent", "model" }) do
      by[kind] = {}
      for _, row in ipairs(H.nyx_json(db, "stats --by " .. kind)) do by[kind][row.group or "(none)"] = row.calls end
    end
    assert.are.same({ alpha = 3, beta = 2 }, by.session)
    assert.are.same({ scout = 3, ["(none)"] = 2 }, by.agent)
    assert.are.equal(2, by.model["claude-sonnet-4-5"])

    local alpha = H.nyx_json(db, "stats --session alpha")[1]
    assert.are.same({ 3, sum(seen.alpha, "output") }, { alpha.calls, alpha.output })
  end)

  it("--since counts only what came after the date", function()
    assert.are.equal(5, H.nyx_json(db, "stats --since 2000-01-01")[1].calls)
    assert.are.equal(0, H.nyx_json(db, "stats --since 2999-01-01T00:00:00")[1].calls)
    local out, code = nyx(db, "stats --since yesterday")
    assert.are.equal(2, code)
    assert.matches('since must be a date YYYY%-MM%-DD.*got "yesterday"', out)
  end)

  it("nyx log --last N gives the newest N, one line each", function()
    local rows = H.nyx_json(db, "log --last 2")
    assert.are.equal(2, #rows)
    for _, row in ipairs(rows) do
      assert.are.same({ "beta", "claude-sonnet-4-5", "ok" }, { row.session, row.model, row.status })
    end
    assert.are.equal(5, #H.nyx_json(db, "log"))
    local out, code = nyx(db, "log --last -1")
    assert.are.equal(2, code)
    assert.matches('last must be a whole number from 1 to 1000000000, got "%-1"', out)
    -- Above the bound the message gives it, not "positive" of a positive number.
    out, code = nyx(db, "log --last 999999999999")
    assert.are.equal(2, code)
    assert.matches('last must be a whole number from 1 to 1000000000, got "999999999999"', out)
  end)

  it("nyx budget shows the ledger and nyx audit the refusal, with its session and agent", function()
    local own = DB.fresh(H.tempdir)
    local v = host:run([[
      local s = nyx.session{ name = "gamma", budget_usd = 0.0002 }
      local r = nyx.call{ prompt = "gamma 1", max_tokens = 20, session = s, agent = "planner" }
      local ok, err = pcall(nyx.call, { prompt = "gamma 2", max_tokens = 2000, session = s, agent = "planner" })
      -- A script's own event, beside the engine's.
      nyx.audit("review_requested", "by the planner, ann@example.org", { session = s, agent = "planner" })
      local bad = {}
      for i, args in ipairs({ { "" }, { "x", "d", { agent = 7 } }, { "x", "d", { session = 7 } } }) do
        local okb, e = pcall(nyx.audit, table.unpack(args))
        bad[i] = { okb, e.type, e.message }
      end
      return { spent = r.usage.cost_usd, refused = not ok and err.type, bad = bad }
    ]], { env = { NYX_DB = own } })
    assert.are.equal("budget_exceeded", v.refused)
    local scope
    for _, row in ipairs(H.nyx_json(own, "budget")) do
      if row.scope == "session:gamma" then scope = row end
    end
    assert.are.same({ 0.0002, 0 }, { scope.limit_usd, scope.reserved_usd })
    assert.is_true(math.abs(scope.spent_usd - v.spent) < 1e-12)
    assert.is_true(math.abs(scope.remaining_usd - (0.0002 - v.spent)) < 1e-12)
    local last = H.nyx_json(own, "audit --last 2")
    assert.are.equal(2, #last)
    assert.are.same({ "budget_refused", "gamma", "planner" }, { last[1].kind, last[1].session, last[1].agent })
    assert.matches("session:gamma", last[1].detail)
    -- A script's detail is stored as prompts are: redacted by default.
    assert.are.same({ "review_requested", "gamma", "planner", "by the planner, [EMAIL]" },
                    { last[2].kind, last[2].session, last[2].agent, last[2].detail })
    assert_aligned((nyx(own, "audit --last 2")), 2)
    for i, want in ipairs({ "kind must be a non%-empty string", "agent must be a string",
                            "session must be a session or its name" }) do
      assert.are.same({ false, "invalid_argument" }, { v.bad[i][1], v.bad[i][2] })
      assert.matches(want, v.bad[i][3])
    end
  end)

  it("plain output is an aligned table", function()
    assert_aligned((nyx(db, "stats")), 1)
    assert_aligned((nyx(db, "stats --by session")), 2)
    assert_aligned((nyx(db, "log")), 5)
  end)
end)
