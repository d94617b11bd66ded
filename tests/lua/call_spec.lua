-- nyx.call through stock Lua: the shape of a result, usage and cost, prompt caching at the
-- model's minimum, system blocks, conversations, stop sequences, streaming and argument
-- checking. Every case runs against the in-process simulator and against `nyx sim` over HTTP.
local H = require "helpers.nyx_case"

local close = H.close

H.describe_setups("nyx.call", function(setup)
  it("returns text, ids, model and a complete usage table", function()
    local v = setup:run [[
      local r = nyx.call{ prompt = "Summarise the quarterly numbers", max_tokens = 40 }
      return { r = r, log = sim.requests() }
    ]]
    local r, log = v.r, v.log
    assert.are.equal(1, #log)
    assert.is_string(r.text)
    assert.is_true(#r.text > 0)
    assert.truthy(r.text:find("Summarise the quarterly numbers", 1, true),
                  "the simulator's reply names the prompt's topic: " .. r.text)
    assert.are.equal("claude-haiku-5-5", r.model)
    assert.are.equal("claude-haiku-5-5", r.model_requested)
    assert.are.equal("msg_sim_" .. log[1].n, r.id)
    assert.are.equal("req_sim_" .. log[1].n, r.request_id)
    assert.truthy(r.stop_reason == "end_turn" or r.stop_reason == "max_tokens", r.stop_reason)
    assert.are.equal(1, r.attempts)
    -- The reply's blocks, its one text block holding the text.
    assert.are.equal(1, #r.content)
    assert.are.equal("text", r.content[1].type)
    assert.are.equal(r.text, r.content[1].text)
    assert.is_false(r.cache_hit)
    assert.matches("^ix_" .. ("%x"):rep(22) .. "$", r.interaction_id)
    assert.is_true(r.latency_ms > 0)
    assert.is_true(r.ttfb_ms > 0 and r.ttfb_ms <= r.latency_ms)
    -- What was sent and what the server billed.
    assert.are.equal(40, log[1].max_tokens)
    assert.is_false(log[1].stream)
    local u = r.usage
    for _, k in ipairs({ "input_tokens", "output_tokens", "cache_creation_input_tokens",
                         "cache_read_input_tokens" }) do
      assert.are.equal("integer", math.type(u[k]), k)
    end
    assert.are.equal(log[1].input_tokens, u.input_tokens)
    assert.are.equal(log[1].output_tokens, u.output_tokens)
    assert.is_true(u.output_tokens > 0 and u.output_tokens <= 40)
    assert.are.equal(0, u.cache_creation_input_tokens)
    assert.are.equal(0, u.cache_read_input_tokens)
    assert.are.same({ ephemeral_5m_input_tokens = 0, ephemeral_1h_input_tokens = 0 }, u.cache_creation)
    assert.is_number(u.cost_usd)
    assert.is_true(u.cost_usd > 0)
    assert.are.equal(u.cost_usd, u.cost_without_cache_usd)
    assert.are.equal(0, u.saved_usd)
  end)

  it("uses CLAUDE_DEFAULT_MODEL and CLAUDE_MAX_TOKENS when the call gives neither", function()
    local v = setup:run([[
      local r = nyx.call{ prompt = "Hello" }
      return { r = r, log = sim.requests() }
    ]], { env = { CLAUDE_DEFAULT_MODEL = "claude-sonnet-4-5", CLAUDE_MAX_TOKENS = "77" } })
    assert.are.equal("claude-sonnet-4-5", v.r.model)
    assert.are.equal("claude-sonnet-4-5", v.log[1].model)
    assert.are.equal(77, v.log[1].max_tokens)
  end)

  it("costs exactly the model's prices times the reported usage", function()
    local v = setup:run [[
      local ctx = context("cost")
      local first = nyx.call{ system = ctx, prompt = "First", max_tokens = 30 }
      local second = nyx.call{ system = ctx, prompt = "Second", max_tokens = 30 }
      local plain = nyx.call{ model = "claude-sonnet-4-5", prompt = "Third", max_tokens = 30 }
      return { first = first, second = second, plain = plain,
               haiku = nyx.model("claude-haiku-5-5"), sonnet = nyx.model("claude-sonnet-4-5") }
    ]]
    assert.is_true(v.first.usage.cache_creation_input_tokens > 0, "precondition: a write")
    assert.is_true(v.second.usage.cache_read_input_tokens > 0, "precondition: a read")
    for _, c in ipairs({ { v.first, v.haiku }, { v.second, v.haiku }, { v.plain, v.sonnet } }) do
      local u, price = c[1].usage, c[2]
      local expected = H.cost_of(u, price)
      assert.is_true(close(expected, u.cost_usd), ("cost %.12f, expected %.12f"):format(u.cost_usd, expected))
      local all_input = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
      local without = (all_input * price.input + u.output_tokens * price.output) / 1e6
      assert.is_true(close(without, u.cost_without_cache_usd))
      assert.is_true(close(u.cost_without_cache_usd - u.cost_usd, u.saved_usd))
    end
    -- The table's prices for Haiku 5.5 (below its 100,000-token tier), as the reference gives them.
    assert.is_true(close(0.10, v.haiku.input) and close(0.50, v.haiku.output))
    assert.is_true(close(0.125, v.haiku.cache_write_5m) and close(0.20, v.haiku.cache_write_1h))
    assert.is_true(close(0.01, v.haiku.cache_read))
    assert.are.equal(512, v.haiku.min_cache_tokens)
  end)

  it("resolves aliases and honours the user's own price file (NYX_MODELS)", function()
    local prices = setup:file("prices.json", [[
      {"models": [{"id": "claude-haiku-5-5", "input": 2, "output": 10, "cache_write_5m": 2.5,
                   "cache_write_1h": 4, "cache_read": 0.2}]} ]])
    local v = setup:run([[
      local r = nyx.call{ model = "claude-sonnet-4-5-20250929", prompt = "Hello", max_tokens = 20 }
      local h = nyx.call{ prompt = "Hello", max_tokens = 20 }
      return { r = r, alias = nyx.model("claude-sonnet-4-5-20250929"), h = h,
               haiku = nyx.model("claude-haiku-5-5"), opus = nyx.model("claude-opus-4-1"),
               unknown = nyx.model("claude-no-such-model") }
    ]], { env = { NYX_MODELS = prices } })
    assert.are.equal("claude-sonnet-4-5", v.alias.id)
    assert.are.equal("claude-sonnet-4-5", v.r.model, "the server reports the canonical id")
    assert.are.equal("claude-sonnet-4-5-20250929", v.r.model_requested)
    assert.is_true(close(H.cost_of(v.r.usage, v.alias), v.r.usage.cost_usd))
    assert.are.equal(2, v.haiku.input)
    assert.are.equal(10, v.haiku.output)
    assert.are.equal(512, v.haiku.min_cache_tokens, "fields the file does not give are kept")
    assert.is_true(close((v.h.usage.input_tokens * 2 + v.h.usage.output_tokens * 10) / 1e6,
                         v.h.usage.cost_usd), "the call is billed at the user's prices")
    assert.are.equal("2026-08-05", v.opus.retires)
    assert.is_nil(v.unknown)
  end)

  it("reads the cache on a second identical call above the minimum, for less", function()
    local v = setup:run [[
      local ctx = context("second-call")
      local a = nyx.call{ system = ctx, prompt = "Same question", max_tokens = 30 }
      local b = nyx.call{ system = ctx, prompt = "Same question", max_tokens = 30 }
      return { a = a, b = b, log = sim.requests() }
    ]]
    local a, b = v.a.usage, v.b.usage
    assert.is_true(a.cache_creation_input_tokens >= 4096, "the first call writes the prefix")
    assert.are.equal(0, a.cache_read_input_tokens)
    assert.is_false(v.a.cache_hit)
    assert.are.equal(a.cache_creation_input_tokens, b.cache_read_input_tokens)
    assert.are.equal(0, b.cache_creation_input_tokens)
    assert.is_true(v.b.cache_hit)
    assert.is_true(b.cost_usd < a.cost_usd)
    assert.is_true(b.saved_usd > 0)
    assert.is_true(a.saved_usd < 0, "the first call pays the write premium")
    assert.are.equal(a.cache_creation_input_tokens, v.log[1].cache_write)
    assert.are.equal(b.cache_read_input_tokens, v.log[2].cache_read)
  end)

  it("below the minimum: no cache activity and no error", function()
    local v = setup:run [[
      local out = {}
      for i = 1, 2 do
        out[i] = nyx.call{ system = "You are a terse analyst.", prompt = "Same question", max_tokens = 20 }
      end
      return { calls = out, log = sim.requests() }
    ]]
    for i, r in ipairs(v.calls) do
      assert.are.equal(0, r.usage.cache_creation_input_tokens, i)
      assert.are.equal(0, r.usage.cache_read_input_tokens, i)
      assert.is_false(r.cache_hit)
      assert.are.equal(r.usage.cost_without_cache_usd, r.usage.cost_usd)
      assert.are.equal(200, v.log[i].status)
      assert.are.equal(0, v.log[i].cache_write + v.log[i].cache_read)
    end
  end)

  it("sends system text blocks with the script's own marks", function()
    local v = setup:run [[
      local ctx = context("blocks")
      local function ask(persona)
        return nyx.call{ system = { { text = ctx, cache = true }, "Respond as " .. persona .. "." },
                         prompt = "Should we launch?", max_tokens = 30 }
      end
      local a, b = ask("the CFO"), ask("the CTO")
      local h = nyx.call{ system = { { text = context("blocks-1h"), cache = "1h" }, "Respond briefly." },
                          prompt = "Should we launch?", max_tokens = 30 }
      return { a = a, b = b, h = h }
    ]]
    local a, b, h = v.a.usage, v.b.usage, v.h.usage
    assert.is_true(a.cache_creation_input_tokens >= 4096)
    -- The persona block lies after the mark: the second call reads exactly the marked block
    -- and pays only for its own persona.
    assert.are.equal(a.cache_creation_input_tokens, b.cache_read_input_tokens)
    assert.are.equal(0, b.cache_creation_input_tokens)
    assert.is_true(b.input_tokens < 50, "the persona block is uncached: " .. b.input_tokens)
    assert.are.equal(a.cache_creation_input_tokens, a.cache_creation.ephemeral_5m_input_tokens)
    assert.are.equal(0, a.cache_creation.ephemeral_1h_input_tokens)
    assert.is_true(h.cache_creation_input_tokens >= 4096)
    assert.are.equal(h.cache_creation_input_tokens, h.cache_creation.ephemeral_1h_input_tokens)
    assert.are.equal(0, h.cache_creation.ephemeral_5m_input_tokens)
  end)

  it("sends a multi-turn conversation as messages", function()
    local v = setup:run [[
      local one = nyx.call{ messages = { { role = "user", content = "My name is Ada." } }, max_tokens = 30 }
      local three = nyx.call{ messages = {
        { role = "user", content = "My name is Ada." },
        { role = "assistant", content = one.text },
        { role = "user", content = "Which name did I give?" },
      }, max_tokens = 30 }
      local ok, bad = pcall(nyx.call, { messages = { { role = "system", content = "x" } } })
      return { one = one, three = three, bad = bad, bad_ok = ok, log = sim.requests() }
    ]]
    assert.truthy(v.three.text:find("Which name did I give", 1, true),
                  "the reply answers the last user turn: " .. v.three.text)
    assert.is_true(v.three.usage.input_tokens > v.one.usage.input_tokens + v.one.usage.output_tokens,
                   "the whole history was sent")
    assert.is_false(v.bad_ok)
    H.assert_error(v.bad, "invalid_argument", "role")
    assert.are.equal(2, #v.log, "the bad conversation was never sent")
  end)

  it("ends the text at the first stop sequence", function()
    local v = setup:run [[
      local full = nyx.call{ prompt = "Tell me about stop words", max_tokens = 100 }
      -- A word from the middle of the reply (the simulator answers the same prompt alike).
      local words = {}
      for w in full.text:gmatch("%a%a%a%a+") do words[#words + 1] = w end
      local stop = " " .. words[#words // 2]
      local cut = nyx.call{ prompt = "Tell me about stop words", max_tokens = 100, stop_sequences = { stop, "zzzz-never" } }
      return { full = full, cut = cut, stop = stop }
    ]]
    local at = v.full.text:find(v.stop, 1, true)
    assert.truthy(at, "precondition: the stop word occurs in the reply")
    assert.are.equal("stop_sequence", v.cut.stop_reason)
    assert.are.equal(v.stop, v.cut.stop_sequence)
    assert.are.equal(v.full.text:sub(1, at - 1), v.cut.text)
    assert.is_true(v.cut.usage.output_tokens < v.full.usage.output_tokens)
  end)

  it("streams text deltas that arrive while the call is in flight and add up to the text", function()
    local v = setup:run([[
      local ctx = context("stream")
      local plain = nyx.call{ system = ctx, prompt = "Write a long answer about streaming", max_tokens = 120 }
      local deltas, started_first, seen_partial = {}, nil, {}
      local done = false
      local streamer = nyx.spawn(function()
        local r = nyx.call{ system = ctx, prompt = "Write a long answer about streaming", max_tokens = 120,
          on_start = function() started_first = (#deltas == 0) end,
          stream = function(text) deltas[#deltas + 1] = text end }
        done = true
        return r
      end)
      -- Another task looks while the call runs: it sees some deltas but not all.
      local watcher = nyx.spawn(function()
        while not done do
          seen_partial[#seen_partial + 1] = #deltas
          nyx.sleep(0.002)
        end
      end)
      local r = streamer:wait()
      watcher:wait()
      return { r = r, plain = plain, deltas = deltas, seen = seen_partial,
               started_first = started_first, log = sim.requests() }
    ]], { token_ms = 3 })
    local r = v.r
    assert.is_true(#v.deltas > 2, "several deltas: " .. #v.deltas)
    assert.are.equal(r.text, table.concat(v.deltas))
    assert.is_true(#r.text > 0)
    assert.is_true(v.started_first, "on_start runs before the first delta")
    local partial = false
    for _, n in ipairs(v.seen) do
      if n > 0 and n < #v.deltas then partial = true end
    end
    assert.is_true(partial, "some deltas were delivered before the last one arrived")
    assert.is_false(v.log[1].stream)
    assert.is_true(v.log[2].stream)
    -- The stream's usage is what the server billed (message_delta's running totals replace
    -- message_start's), the same as the plain call's but for the cache read.
    assert.are.equal(v.log[2].output_tokens, r.usage.output_tokens)
    assert.are.equal(v.plain.text, r.text)
    assert.are.equal(v.plain.usage.output_tokens, r.usage.output_tokens)
    assert.are.equal(v.plain.usage.input_tokens, r.usage.input_tokens)
    assert.are.equal(v.plain.usage.cache_creation_input_tokens, r.usage.cache_read_input_tokens)
    assert.are.equal(0, r.usage.cache_creation_input_tokens)
    assert.is_true(r.cache_hit)
    assert.are.equal(v.plain.stop_reason, r.stop_reason)
  end)

  it("reads a reply that arrives at once in many pieces of curl's receive buffer whole", function()
    -- No delay between events: the stream (some 200 events, tens of KB) reaches the socket at
    -- once and curl hands it over 4 KB at a time (call_http.c), cutting events anywhere.
    local v = setup:run([[
      -- The simulator's reply length follows the prompt: take the longest of a few.
      local q, plain
      for i = 1, 12 do
        local p = { prompt = "Write a long answer about buffers, take " .. i, max_tokens = 200 }
        local r = nyx.call(p)
        if not plain or #r.text > #plain.text then q, plain = p, r end
      end
      local deltas = {}
      q.stream = function(text) deltas[#deltas + 1] = text end
      local streamed = nyx.call(q)
      return { plain = plain, streamed = streamed, deltas = deltas }
    ]], { ttft_ms = 0, token_ms = 0 })
    assert.is_true(#v.deltas > 40, -- each an SSE event of 100 bytes or more: over 4 KB in all
                   "precondition: a long reply, " .. #v.plain.text .. " bytes in " .. #v.deltas .. " deltas")
    assert.are.equal(v.plain.text, v.streamed.text)
    assert.are.equal(v.plain.text, table.concat(v.deltas))
    assert.are.equal(v.plain.usage.output_tokens, v.streamed.usage.output_tokens)
  end)

  it("sends each call its own system prompt while prompts of one length take turns", function()
    -- Each prompt's JSON sits at the same offset of its body: a body in one piece kept from a
    -- call before (call.c, sent_bodies) holds another prompt's there, which must not be sent.
    local v = setup:run [[
      sim.config{ keep_bodies = 64 }
      local systems = {}
      for j = 1, 3 do systems[j] = ("Prompt %d. "):format(j) .. ("the same words said again and again. "):rep(50) end
      local tasks = {}
      for i = 1, 30 do
        tasks[i] = nyx.spawn(function()
          return nyx.call{ system = systems[(i - 1) % 3 + 1], prompt = ("question %02d"):format(i), max_tokens = 8 }
        end)
      end
      for _, t in ipairs(tasks) do t:wait() end
      local bodies = {}
      for _, q in ipairs(sim.requests()) do
        if q.path == "/v1/messages" then bodies[#bodies + 1] = q.body end
      end
      return { bodies = bodies, systems = systems }
    ]]
    local json = require "dkjson"
    assert.are.equal(30, #v.bodies)
    for _, text in ipairs(v.bodies) do
      local b = assert(json.decode(text), "the body is JSON")
      local i = tonumber(b.messages[1].content:match("question (%d+)") or
                        b.messages[1].content[1].text:match("question (%d+)"))
      local system = type(b.system) == "string" and b.system or b.system[1].text
      assert.are.equal(v.systems[(i - 1) % 3 + 1], system, "the system prompt of question " .. i)
    end
  end)

  it("rejects a bad temperature or max_tokens with Lua's wording, before sending", function()
    local v = setup:run [[
      local bad = {
        { temperature = 1.5 }, { temperature = -0.1 }, { temperature = "hot" },
        { max_tokens = 0 }, { max_tokens = 2.5 }, { max_tokens = -3 }, { max_tokens = "many" },
      }
      local errs = {}
      for i, b in ipairs(bad) do
        b.prompt = "Hello"
        local ok, e = pcall(nyx.call, b)
        errs[i] = ok and "no error" or e
      end
      local ok, neither = pcall(nyx.call, { max_tokens = 10 })
      return { errs = errs, neither = neither, log = sim.requests() }
    ]]
    for i, e in ipairs(v.errs) do
      assert.is_table(e, "case " .. i .. " raised")
      assert.are.equal("invalid_argument", e.type)
      local field = i <= 3 and "temperature" or "max_tokens"
      assert.matches("^bad argument #1 to 'call' %(" .. field .. " must be", e.message)
      assert.is_nil(e.status)
    end
    H.assert_error(v.neither, "invalid_argument", "prompt or messages")
    assert.are.equal(0, #v.log, "nothing reached the server")
  end)

  it("reports a nil cost, never 0, for a model with no known price, and warns once", function()
    local v = setup:run(([[
      local a = nyx.call{ model = %q, prompt = "Hello", max_tokens = 20 }
      local b = nyx.call{ model = %q, prompt = "Hello again", max_tokens = 20 }
      local warnings = 0
      for _, n in ipairs(notices) do
        if n:find("no price known", 1, true) then warnings = warnings + 1 end
      end
      return { a = a, b = b, warnings = warnings, stats = nyx.stats() }
    ]]):format(H.UNPRICED_MODEL, H.UNPRICED_MODEL))
    for _, r in ipairs({ v.a, v.b }) do
      assert.are.equal(H.UNPRICED_MODEL, r.model)
      assert.is_true(r.usage.input_tokens > 0 and r.usage.output_tokens > 0)
      assert.is_nil(r.usage.cost_usd)
      assert.is_nil(r.usage.cost_without_cache_usd)
      assert.is_nil(r.usage.saved_usd)
    end
    assert.are.equal(1, v.warnings)
    assert.are.equal(2, v.stats.unknown_cost_calls)
    assert.are.equal(0, v.stats.cost_usd)
  end)
end)
