-- The opt-in response cache through the Lua API: an identical temperature-0 call asked with
-- cache_response is answered without a request, at cost 0, logged and counted as served from
-- the cache; sampled calls are not served unless the call insists; and answers outlive the
-- process in the database (SQLite, or PostgreSQL when the suite runs against it).
-- The calls name claude-haiku-4-5: the default model (Haiku 5.5) takes no temperature.
local H = require "helpers.nyx_case"
local DB = require "helpers.db"

H.describe_setups("the response cache", function(setup)
  it("answers an identical temperature-0 call from memory: no request, cost 0, counted", function()
    local v = setup:run [[
      local ask = { prompt = "Cache this answer", max_tokens = 30, model = "claude-haiku-4-5", temperature = 0, cache_response = true }
      local a = nyx.call(ask)
      local b = nyx.call(ask)
      local other = nyx.call{ prompt = "Another question", max_tokens = 30, model = "claude-haiku-4-5", temperature = 0, cache_response = true }
      local plain = nyx.call{ prompt = "Cache this answer", max_tokens = 30, model = "claude-haiku-4-5", temperature = 0 }
      return { a = a, b = b, other = other, plain = plain, requests = #sim.requests(), stats = nyx.stats() }
    ]]
    assert.are.equal(v.a.text, v.b.text)
    assert.is_false(v.a.from_cache)
    assert.is_true(v.b.from_cache)
    assert.are.equal(0, v.b.usage.cost_usd)
    assert.are.equal(0, v.b.usage.input_tokens)
    assert.is_false(v.other.from_cache)
    assert.is_false(v.plain.from_cache, "without cache_response the call goes to the API")
    assert.are.equal(3, v.requests)
    assert.are.equal(1, v.stats.from_response_cache)
    assert.are.equal(4, v.stats.calls)
  end)

  it("does not serve a sampled call unless it insists", function()
    local v = setup:run [[
      local ask = { prompt = "A creative answer", max_tokens = 30, model = "claude-haiku-4-5", temperature = 0.7, cache_response = true }
      local a = nyx.call(ask)
      local b = nyx.call(ask)
      ask.cache_response = "always"
      local c = nyx.call(ask)
      local d = nyx.call(ask)
      return { b = b.from_cache, c = c.from_cache, d = d.from_cache, requests = #sim.requests() }
    ]]
    assert.is_false(v.b)
    assert.is_false(v.c, "'always' caches this answer")
    assert.is_true(v.d, "and serves it the next time")
    assert.are.equal(3, v.requests)
  end)

  it("serves an answer from the database in a later process, logged with cost 0", function()
    local db = DB.fresh(H.tempdir)
    local script = [[
      local r = nyx.call{ prompt = "Remember across runs", max_tokens = 30, model = "claude-haiku-4-5", temperature = 0 }
      return { from_cache = r.from_cache, cost = r.usage.cost_usd, text = r.text,
               requests = #sim.requests(), id = r.interaction_id }
    ]]
    local env = { env = { NYX_DB = db, LLM_CACHE_ENABLED = "1" } }
    local first = setup:run(script, env)
    local second = setup:run(script, env)
    assert.is_false(first.from_cache)
    assert.is_true(second.from_cache)
    assert.are.equal(first.text, second.text)
    assert.are.equal(0, second.cost)
    local out = H.nyx(db, "log --json")
    local row
    for line in out:gmatch("[^\n]+") do
      if line:find(second.id, 1, true) then row = line end
    end
    assert.truthy(row, "the served call is logged: " .. out)
    assert.truthy(row:find('"cost":0', 1, true), row)
  end)
end)
