-- Conversations (issue 15): nyx's automatic cache marks against the API's automatic caching
-- (one top-level cache_control, which `cache = "api"` sends), on the same simulator with its
-- cache emptied between the two runs, so both send the same conversation. Turn by turn nyx
-- costs no more; where a second mark helps (the system prompt, a link within the 20-block
-- lookback) it costs less; and every turn after the first write reads the cache.
local H = require "helpers.nyx_case"

local EPS = 1e-12

-- A chat: ~1.1k tokens of system prompt, short questions, 60-token answers.
local CHAT = [[
  local lines = { "You are the planning assistant of a regional retailer." }
  local words = { "revenue", "margin", "customers", "retention", "inventory", "forecast",
                  "regional", "growth", "pricing", "channel", "partners", "capacity" }
  for i = 1, 49 do
    lines[#lines + 1] = ("Rule %d: weigh the %s of %s against %s in the %s quarter."):format(i,
      words[i % 12 + 1], words[(i * 5) % 12 + 1], words[(i * 7) % 12 + 1], words[(i * 11) % 12 + 1])
  end
  local system = table.concat(lines, "\n")

  -- The usage of every turn of a chat of `turns` turns (user `who` asking), through `call`
  -- (nyx.call unless given).
  local function chat(model, turns, cache, who, call)
    local msgs, out = {}, {}
    for t = 1, turns do
      msgs[#msgs + 1] = { role = "user", content =
        ("%s, question %d: what should region %d change next quarter, and at what cost?"):format(who or "Ann", t, t) }
      local r = (call or nyx.call){ model = model, system = system, messages = msgs, max_tokens = 60, cache = cache }
      out[t] = r.usage
      msgs[#msgs + 1] = { role = "assistant", content = r.text }
    end
    return out
  end

  -- A tool loop sent as messages: each step an assistant turn, then one user turn holding the
  -- results of `results` tools, one block each.
  local function loop(model, steps, results, cache)
    local msgs, out = { { role = "user", content = "Audit every store and report." } }, {}
    for s = 1, steps do
      local r = nyx.call{ model = model, system = system, messages = msgs, max_tokens = 60, cache = cache }
      out[s] = r.usage
      msgs[#msgs + 1] = { role = "assistant", content = r.text }
      local blocks = {}
      for i = 1, results do blocks[i] = ("Store %d.%d: stock %d, sales %d."):format(s, i, s * i, s + i) end
      msgs[#msgs + 1] = { role = "user", content = blocks }
    end
    return out
  end

  -- Tools of ~1.2k tokens (a JSON array, as nyx.call takes them).
  local function tools_json()
    local rules = {}
    for i = 1, 50 do rules[i] = lines[i + 1] or lines[2] end
    return json.encode({ { name = "lookup_region", description = table.concat(rules, " "),
                           input_schema = { type = "object", properties = { region = { type = "string" } } } } })
  end

  -- Chats without a system prompt, over the tools.
  local function tool_chat(model, turns, cache, who)
    local msgs, out = {}, {}
    for t = 1, turns do
      msgs[#msgs + 1] = { role = "user", content = ("%s, question %d: which region first?"):format(who, t) }
      -- The tools are the cached prefix here; the model answers in text (tool_choice none).
      local r = nyx.call{ model = model, tools = tools_json(), tool_choice = { type = "none" }, messages = msgs,
                          max_tokens = 60, cache = cache }
      out[t] = r.usage
      msgs[#msgs + 1] = { role = "assistant", content = r.text }
    end
    return out
  end

  local function system_tokens(model)
    return sim.count_tokens{ model = model, system = system, messages = { { role = "user", content = "x" } } }
  end
]]

local function total(u)
  return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
end

local function sum(list, field)
  return H.sum(list, function(u) return u[field] end)
end

--- Turn by turn: the same conversation, and nyx's cost at most automatic caching's.
local function no_costlier(own, api, what)
  assert.are.equal(#api, #own)
  for t = 1, #own do
    assert.are.equal(total(api[t]), total(own[t]), ("%s %d: the same request"):format(what, t))
    assert.is_true(own[t].cost_usd <= api[t].cost_usd + EPS,
                   ("%s %d: nyx %.8f USD, automatic caching %.8f USD"):format(what, t, own[t].cost_usd, api[t].cost_usd))
  end
end

--- Every turn after the first one that wrote reads the cache; returns that first turn.
local function reads_after_first_write(turns, what)
  local first
  for t, u in ipairs(turns) do
    if first then
      assert.is_true(u.cache_read_input_tokens > 0, ("%s %d reads the cache"):format(what, t))
    elseif u.cache_creation_input_tokens > 0 then
      first = t
    end
  end
  assert.is_not_nil(first, what .. ": something was written")
  return first
end

H.describe_setups("conversations", function(setup)
  it("cache = \"api\" sends the API's automatic caching: one top-level cache_control, no mark of nyx's own", function()
    local v = setup:run(CHAT .. [[
      local a = chat("claude-sonnet-5-5", 2, "api")
      local ok, err = pcall(nyx.call, { system = { { text = "a", cache = true }, { text = "b", cache = true },
                                                   { text = "c", cache = true }, { text = "d", cache = true } },
                                        prompt = "e", max_tokens = 10, cache = "api" })
      return { a = a, ok = ok, err = err, log = sim.requests() }
    ]])
    -- The top-level mark acts on the last block: turn 1 writes all it sends, turn 2 reads it.
    assert.is_true(v.a[1].cache_creation_input_tokens >= 1024)
    assert.are.equal(v.a[1].cache_creation_input_tokens, v.a[2].cache_read_input_tokens)
    assert.are.equal(v.a[1].input_tokens, v.a[2].input_tokens, "only what follows the last block is uncached")
    assert.is_false(v.ok)
    assert.are.equal("invalid_argument", v.err.type, "a fifth mark is refused before sending")
    assert.are.equal(2, #v.log)
  end)

  for _, model in ipairs({ "claude-sonnet-4-6", "claude-sonnet-5-5" }) do
    it(model .. ": a 30-turn chat costs no more than automatic caching at any turn, and reads the cache on every turn after its first write", function()
      local v = setup:run(CHAT .. ([[
        local own = chat(%q, 30, "auto")
        local again = chat(%q, 3, "auto", "Bob") -- another user, the same system prompt
        sim.reset()
        local api = chat(%q, 30, "api")
        local api_again = chat(%q, 3, "api", "Bob")
        return { own = own, api = api, again = again, api_again = api_again,
                 system = system_tokens(%q), min = nyx.model(%q).min_cache_tokens }
      ]]):format(model, model, model, model, model, model))
      assert.is_true(v.system > 1000 and v.system < 1200, "a ~1.1k-token system prompt: " .. v.system)
      no_costlier(v.own, v.api, "turn")
      no_costlier(v.again, v.api_again, "second chat, turn")
      local first = reads_after_first_write(v.own, "turn")
      assert.are.equal(first, reads_after_first_write(v.api, "automatic caching, turn"),
                       "nyx starts caching no later than automatic caching")
      local own_cost, api_cost = sum(v.again, "cost_usd"), sum(v.api_again, "cost_usd")
      if v.system >= v.min then
        -- The system prompt's own mark: the second chat reads it from its first turn on,
        -- which automatic caching (a mark on the last block only) cannot.
        assert.is_true(v.again[1].cache_read_input_tokens >= v.system - 10)
        assert.are.equal(0, v.api_again[1].cache_read_input_tokens)
        assert.is_true(own_cost < api_cost, ("nyx %.8f USD, automatic caching %.8f USD"):format(own_cost, api_cost))
      else
        assert.is_true(own_cost <= api_cost + EPS)
      end
    end)
  end

  it("tools without a system prompt: their own mark lets another chat read them, which automatic caching cannot", function()
    local v = setup:run(CHAT .. [[
      local own = { tool_chat("claude-sonnet-5-5", 3, "auto", "Ann"), tool_chat("claude-sonnet-5-5", 3, "auto", "Bob") }
      sim.reset()
      local api = { tool_chat("claude-sonnet-5-5", 3, "api", "Ann"), tool_chat("claude-sonnet-5-5", 3, "api", "Bob") }
      return { own = own, api = api }
    ]])
    for c = 1, 2 do no_costlier(v.own[c], v.api[c], ("chat %d, turn"):format(c)) end
    assert.is_true(v.own[2][1].cache_read_input_tokens > 1024, "the second chat reads the tools")
    assert.are.equal(0, v.api[2][1].cache_read_input_tokens)
    local own, api = sum(v.own[2], "cost_usd"), sum(v.api[2], "cost_usd")
    assert.is_true(own < api, ("nyx %.8f USD, automatic caching %.8f USD"):format(own, api))
  end)

  it("an agent's conversation goes through the same marks", function()
    local v = setup:run(CHAT .. [[
      local planner = nyx.agent{ name = "planner" }
      local by_agent = chat("claude-sonnet-5-5", 6, nil, "Ann", function(c) return planner:call(c) end)
      sim.reset()
      local direct = chat("claude-sonnet-5-5", 6)
      return { by_agent = by_agent, direct = direct }
    ]])
    reads_after_first_write(v.by_agent, "turn")
    for t = 1, 6 do
      for _, k in ipairs({ "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens" }) do
        assert.are.equal(v.direct[t][k], v.by_agent[t][k], ("turn %d: %s"):format(t, k))
      end
    end
  end)

  it("a 15-step tool loop adding 22 blocks a step keeps reading the cache, for less than automatic caching", function()
    local v = setup:run(CHAT .. [[
      local own = loop("claude-sonnet-5-5", 15, 22, "auto")
      sim.reset()
      local api = loop("claude-sonnet-5-5", 15, 22, "api")
      return { own = own, api = api }
    ]])
    no_costlier(v.own, v.api, "step")
    for s = 2, 15 do
      assert.is_true(v.own[s].cache_read_input_tokens > 0, ("step %d reads the cache"):format(s))
      -- The previous step's entry is 23 blocks back, beyond the lookback of the last block.
      assert.are.equal(0, v.api[s].cache_read_input_tokens, ("automatic caching misses at step %d"):format(s))
    end
    assert.is_true(sum(v.own, "cost_usd") < 0.5 * sum(v.api, "cost_usd"))
  end)
end)
