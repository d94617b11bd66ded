-- Settings in the database from Lua (nyx.config.get/set/list): typed values and their
-- source, checking, precedence over the environment, and what the engine does with them —
-- the shared-context cache TTL on the wire, soft and hard budgets, template permissions and
-- alert thresholds. Cases run against the in-process simulator and `nyx sim` over HTTP.
local H = require "helpers.nyx_case"
local json = require "dkjson"

-- The engine author wires alerts_call_finished() into the call pipeline (call_account.c).

H.describe_setups("nyx.config", function(setup)
  it("reads settings with their source, typed, and keeps reading environment settings", function()
    local v = setup:run([[
      local out = {}
      local function get(k) local value, source = nyx.config.get(k) return { value = value, source = source } end
      out.before = get("budget.daily_usd")
      out.hard = get("budget.hard")
      out.ttl = get("cache.ttl.persistent")
      out.durability = get("storage.durability")
      nyx.config.set("budget.daily_usd", 12.5)
      nyx.config.set("budget.hard", false)
      nyx.config.set("templates.writers", { "analyst", "editor" })
      nyx.config.set("alert.error_rate", "0.2")
      out.after = get("budget.daily_usd")
      out.hard_after = get("budget.hard")
      out.session_hard = get("budget.session_hard")
      out.writers = get("templates.writers")
      out.rate = get("alert.error_rate")
      out.env_var = nyx.config.get("LLM_DAILY_BUDGET_USD") -- the engine's value in force
      out.model = nyx.config.get("CLAUDE_DEFAULT_MODEL")
      -- A count is a Lua integer (1024, not 1024.0, which a council estimate passed on).
      out.max_tokens = math.type(nyx.config.get("CLAUDE_MAX_TOKENS")) .. " " .. nyx.config.get("CLAUDE_MAX_TOKENS")
      out.retries = math.type(nyx.config.get("LLM_MAX_RETRIES"))
      out.from_env = get("budget.monthly_usd")
      nyx.config.set("budget.daily_usd", nil)
      out.removed = get("budget.daily_usd")
      out.list = nyx.config.list()
      return out
    ]], { env = { LLM_MONTHLY_BUDGET_USD = "40" } })
    assert.are.same({ source = "default" }, v.before)
    assert.are.same({ value = true, source = "default" }, v.hard)
    assert.are.same({ value = 86400, source = "default" }, v.ttl)
    assert.are.same({ value = "strict", source = "default" }, v.durability)
    assert.are.same({ value = 12.5, source = "database" }, v.after)
    assert.are.same({ value = false, source = "database" }, v.hard_after)
    assert.are.same({ value = false, source = "default" }, v.session_hard)
    assert.are.same({ value = { "analyst", "editor" }, source = "database" }, v.writers)
    assert.are.same({ value = 0.2, source = "database" }, v.rate)
    assert.are.equal(12.5, v.env_var)
    assert.are.equal("claude-haiku-5-5", v.model)
    assert.are.equal("integer 1024", v.max_tokens)
    assert.are.equal("integer", v.retries)
    assert.are.same({ value = 40, source = "environment" }, v.from_env)
    assert.are.same({ source = "default" }, v.removed)
    assert.are.equal(16, #v.list)
    for _, row in ipairs(v.list) do
      assert.is_string(row.key)
      assert.truthy(({ default = 1, database = 1, environment = 1 })[row.source], row.source)
    end
  end)

  it("refuses a malformed value with the key and the reason, as an error table", function()
    local v = setup:run([[
      local out = {}
      for _, case in ipairs({ { "budget.daily_usd", "lots" }, { "budget.daily_usd", -3 },
                              { "budget.hard", "maybe" }, { "alert.cache_hit_rate_floor", 2 },
                              { "templates.writers", { "ok", 7 } }, { "templates.writers", "a,,b" },
                              { "cache.ttl.ephemeral", {} }, { "no.such", 1 } }) do
        local ok, err = pcall(nyx.config.set, case[1], case[2])
        out[#out + 1] = { ok = ok, type = err.type, message = err.message }
      end
      out.unchanged = nyx.config.get("budget.daily_usd")
      local ok, err = pcall(nyx.config.get, "no.such")
      out.get = { ok = ok, type = err.type }
      return out
    ]])
    local says = { "budget.daily_usd: must be a number of USD, got \"lots\"", "budget.daily_usd: must be at least 0",
                   "budget.hard: must be true or false", "alert.cache_hit_rate_floor: must be at least 0 and at most 1",
                   "templates.writers: list item 2 is not a string", "templates.writers: must be a comma-separated list",
                   "cache.ttl.ephemeral: must be a number of seconds", "unknown setting \"no.such\"" }
    for i, want in ipairs(says) do
      assert.is_false(v[i].ok)
      H.assert_error(v[i], "invalid_argument", want, true)
    end
    assert.is_nil(v.unchanged)
    assert.are.same({ ok = false, type = "invalid_argument" }, v.get)
  end)

  it("applies cache.ttl.shared_context from the database: shared contexts are written for an hour", function()
    local v = setup:run([[
      local ctx = context("ttl")
      nyx.call{ system = ctx, prompt = "first", max_tokens = 10 }
      nyx.config.set("cache.ttl.shared_context", 3600)
      nyx.call{ system = context("ttl2"), prompt = "second", max_tokens = 10 }
      local out = {}
      for _, q in ipairs(sim.requests()) do
        if q.path == "/v1/messages" then out[#out + 1] = { write = q.cache_write, write_1h = q.cache_write_1h } end
      end
      return out
    ]])
    assert.are.equal(2, #v)
    assert.is_true(v[1].write > 0 and v[1].write_1h == 0, "before: the 5 minute cache")
    assert.is_true(v[2].write_1h > 0, "after: the 1 hour cache")
  end)

  it("a soft budget over its limit warns and alerts once, a hard one refuses", function()
    local v, res = setup:run([[
      local alerts = {}
      nyx.on("alert", function(a) alerts[#alerts + 1] = { kind = a.kind, scope = a.scope } end)
      nyx.config.set("budget.daily_usd", 0.000001)
      local ok, err = pcall(nyx.call, { prompt = "refused", max_tokens = 10 })
      local refused_sent = #sim.requests()
      nyx.config.set("budget.hard", false)
      local r1 = nyx.call{ prompt = "soft one", max_tokens = 10 }
      local r2 = nyx.call{ prompt = "soft two", max_tokens = 10 }
      local day
      for _, row in ipairs(nyx.budget.status()) do
        if row.scope:match("^day:") then day = row end
      end
      return { ok = ok, err = err, refused_sent = refused_sent, r1 = r1.model, r2 = r2.model,
               alerts = alerts, day = day }
    ]])
    assert.is_false(v.ok)
    assert.are.equal("budget_exceeded", v.err.type)
    assert.are.equal(0, v.refused_sent, "a hard budget sends nothing")
    assert.are.equal("claude-haiku-5-5", v.r1)
    assert.are.equal("claude-haiku-5-5", v.r2)
    assert.are.equal(1, #v.alerts, json.encode(v.alerts))
    assert.are.equal("budget_soft_limit", v.alerts[1].kind)
    assert.matches("^day:", v.alerts[1].scope)
    assert.are.equal(0.000001, v.day.limit_usd, "the ledger still shows the limit")
    assert.is_true(v.day.spent_usd > 0.000001)
    assert.are.equal(1, H.count_holding(res.notices, "over its soft limit"))
  end)

  it("lets only the agents of templates.writers create templates, and audits a refusal", function()
    local db = setup:new_db()
    local v = setup:run([[
      local out = {}
      out.open = nyx.templates.create("memo", "Memo about {{topic}}.")
      nyx.config.set("templates.writers", "editor")
      local function try(f, ...) local ok, e = pcall(f, ...) return ok and e or { type = e.type, message = e.message } end
      out.anonymous = try(nyx.templates.create, "memo", "Changed {{topic}}.")
      local intern = nyx.agent{ name = "intern" }
      out.intern = try(intern.create_template, intern, "memo", "Changed {{topic}}.")
      local editor = nyx.agent{ name = "editor" }
      out.editor = try(editor.create_template, editor, "memo", "Changed {{topic}}.")
      out.latest = nyx.templates.get("memo").text
      return out
    ]], { env = { NYX_DB = db } })
    assert.are.equal(1, v.open)
    assert.are.equal("permission_denied", v.anonymous.type)
    H.assert_error(v.intern, "permission_denied", 'agent "intern" may not create or change template "memo"', true)
    assert.are.equal(2, v.editor)
    assert.are.equal("Changed {{topic}}.", v.latest)
    local refused = {}
    for _, row in ipairs(H.audit(db)) do
      if row.kind == "template_write_refused" then refused[#refused + 1] = row.agent or "-" end
    end
    assert.are.same({ "-", "intern" }, refused)
  end)

  it("raises alert events when a call crosses alert.latency_ms", function()
    local v = setup:run([[
      local alerts = {}
      nyx.on("alert", function(a) alerts[#alerts + 1] = { kind = a.kind, value = a.value, agent = a.agent } end)
      nyx.call{ prompt = "fast enough", max_tokens = 5 }
      nyx.config.set("alert.latency_ms", 1)
      nyx.agent{ name = "slowpoke" }:call{ prompt = "too slow", max_tokens = 5 }
      return alerts
    ]], { ttft_ms = 20 })
    assert.are.equal(1, #v)
    assert.are.equal("latency", v[1].kind)
    assert.are.equal("slowpoke", v[1].agent)
    assert.is_true(v[1].value > 1)
  end)
end)
