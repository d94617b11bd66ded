-- Answers that take longer than CLAUDE_TIMEOUT_SECONDS. A streamed call without a timeout of its
-- own ends only when no byte has come for CLAUDE_TIMEOUT_SECONDS, so an answer lives as long as
-- its tokens flow; a call's own timeout stays its total. A call not asked to stream whose
-- max_tokens may take longer than CLAUDE_TIMEOUT_SECONDS (an hour for 128,000 tokens, the SDKs'
-- estimate) goes as a stream and comes back as the answer in one piece would have. Here
-- CLAUDE_TIMEOUT_SECONDS is 1 s, and the simulator sends a token every 100 ms: an answer of 20
-- tokens and more (every answer of the simulator) takes 2 s and more, each event 0.3 s apart.
local H = require "helpers.nyx_case"
local wire = require "helpers.wire"

local SLOW = { ttft_ms = 300, token_ms = 100, env = { CLAUDE_TIMEOUT_SECONDS = "1", LLM_MAX_RETRIES = "0" } }

-- One call of spec (Lua source), with faults scripted first: {ok, r | err, log}.
local CALL = [[
  local function try(spec)
    local ok, r = pcall(nyx.call, spec)
    if ok then r.messages = nil end
    return { ok = ok, r = ok and r or nil, err = not ok and r or nil }
  end
]]

H.describe_setups("answers longer than CLAUDE_TIMEOUT_SECONDS", function(setup)
  it("a stream whose events keep coming outlives it; a call's own timeout still ends one in all", function()
    if H.valgrind then pending("under valgrind: the events must come sooner than 1 s apart") end
    local v = setup:run(CALL .. [[
      local streamed = try{ prompt = "Tell me about caches", max_tokens = 30, stream = function() end }
      local bounded = try{ prompt = "Tell me about caches", max_tokens = 30, timeout = 1.5, stream = function() end }
      return { streamed = streamed, bounded = bounded, log = sim.requests() }
    ]], SLOW)
    assert.is_true(v.streamed.ok, v.streamed.err and v.streamed.err.tostring)
    assert.are.equal(1, v.streamed.r.attempts)
    assert.is_true(v.streamed.r.usage.output_tokens >= 20, "an answer of 2 s and more at 100 ms a token")
    assert.is_false(v.bounded.ok)
    assert.are.equal("timeout", v.bounded.err.type)
    assert.matches("each attempt has 1.5 s %(the call's timeout%)$", v.bounded.err.message)
    assert.are.same({ true, true }, { v.log[1].stream, v.log[2].stream })
  end)

  it("a stream that falls silent ends at the silence limit, naming it, and is retried and billed as before", function()
    local v = setup:run(CALL .. [[
      sim.faults{ { fault = "stall", after_events = 1, count = 2 } }
      local failed = try{ prompt = "Hello there, a long answer please", max_tokens = 80, stream = function() end }
      local clean = try{ prompt = "Hello there, a long answer please", max_tokens = 80, stream = function() end }
      sim.faults{ { fault = "stall", after_events = 1 } }
      local retried = try{ prompt = "Hello there, a long answer please", max_tokens = 80, stream = function() end }
      return { failed = failed, clean = clean, retried = retried, log = sim.requests() }
    ]], { env = { CLAUDE_TIMEOUT_SECONDS = "1", LLM_MAX_RETRIES = "1" } })
    assert.is_false(v.failed.ok)
    assert.are.equal("timeout", v.failed.err.type)
    assert.are.equal(2, v.failed.err.attempts)
    assert.matches("no byte received for %d+ milliseconds, %d+ bytes of the answer in %d+ milliseconds%); "
                   .. "a stream ends after no byte for 1 s %(CLAUDE_TIMEOUT_SECONDS%)$", v.failed.err.message)
    assert.is_true(v.retried.ok, v.retried.err and v.retried.err.tostring)
    assert.are.equal(2, v.retried.r.attempts)
    assert.are.equal(v.clean.r.text, v.retried.r.text)
    -- the silent attempt read message_start (its input, one output token): the API billed those
    assert.are.equal(2 * v.clean.r.usage.input_tokens, v.retried.r.usage.input_tokens)
    assert.are.equal(v.clean.r.usage.output_tokens + 1, v.retried.r.usage.output_tokens)
    assert.are.same({ "stall", "stall", "stall" }, { v.log[1].fault, v.log[2].fault, v.log[4].fault })
    assert.are.equal(5, #v.log)
  end)

  it("a call not asked to stream goes as a stream past the SDKs' estimate, and only then", function()
    if H.valgrind then pending("under valgrind: the events must come sooner than 1 s apart") end
    -- 1 s is the estimate of 35.6 tokens: 36 go as a stream and outlive it, 35 go whole and time out
    local v = setup:run(CALL .. [[
      local long = try{ prompt = "Tell me about caches", max_tokens = 36 }
      local short = try{ prompt = "Tell me about caches", max_tokens = 35 }
      local own = try{ prompt = "Tell me about caches", max_tokens = 36, timeout = 1 }
      return { long = long, short = short, own = own, log = sim.requests() }
    ]], { ttft_ms = 300, token_ms = 60, env = SLOW.env })
    assert.are.same({ 36, 35, 36 }, { v.log[1].max_tokens, v.log[2].max_tokens, v.log[3].max_tokens })
    assert.are.same({ true, false, false }, { v.log[1].stream, v.log[2].stream, v.log[3].stream })
    assert.is_true(v.long.ok, v.long.err and v.long.err.tostring)
    assert.are.equal(1, v.long.r.attempts)
    assert.is_false(v.short.ok)
    assert.matches("each attempt has 1 s %(CLAUDE_TIMEOUT_SECONDS%)$", v.short.err.message)
    assert.is_false(v.own.ok, "a call's own timeout is its total: it goes as asked")
    assert.matches("each attempt has 1 s %(the call's timeout%)$", v.own.err.message)
  end)

  it("what a call not asked to stream gets back from the stream is the answer in one piece, and so is its record", function()
    local db = H.tempdir() .. "/nyx.db"
    local v = setup:run(CALL .. [[
      local lookup = nyx.tool{ name = "lookup", description = "Find an order",
        input = { type = "object", properties = { id = { type = "integer" }, why = { type = "string" } },
                  required = { "id", "why" } } }
      local kinds = {
        text = { prompt = "Tell me about caches", max_tokens = 200 },
        cut = { prompt = "Tell me about caches", max_tokens = 40 },
        stop = { prompt = "Tell me about caches", max_tokens = 200, stop_sequences = { " the" } },
        tool = { prompt = "Find order 42", tools = { lookup }, tool_choice = "any", max_tokens = 300 },
        thinking = { prompt = "Think about caches", thinking = "adaptive", max_tokens = 4096 },
        thinking_tool = { prompt = "Find order 42 carefully", thinking = "adaptive", max_tokens = 4096,
                          tools = { lookup } },
        output = { prompt = "Give me a person", max_tokens = 300,
                   output = { type = "object", properties = { name = { type = "string" }, age = { type = "integer" } },
                              required = { "name", "age" }, additionalProperties = false } },
      }
      local names = { "text", "cut", "stop", "tool", "thinking", "thinking_tool", "output" }
      local out = {}
      for _, name in ipairs(names) do
        local whole = {}
        for k, val in pairs(kinds[name]) do whole[k] = val end
        whole.timeout = 600 -- its own timeout: sent as asked, unstreamed
        local a, b = try(whole), try(kinds[name])
        for _, r in ipairs({ a.r, b.r }) do
          r.latency_ms, r.ttfb_ms, r.interaction_id, r.id, r.request_id = nil, nil, nil, nil, nil
        end
        out[#out + 1] = { name = name, whole = a, streamed = b }
      end
      -- A stream of the engine's choosing that falls silent after its text began is tried again:
      -- none of it reached the script.
      sim.faults{ { fault = "stall", after_events = 4 } }
      local stalled = try(kinds.text)
      return { out = out, stalled = stalled, log = sim.requests() }
    ]], { env = { CLAUDE_TIMEOUT_SECONDS = "1", LLM_MAX_RETRIES = "1", NYX_DB = db } })
    for i, k in ipairs(v.out) do
      assert.is_true(k.whole.ok and k.streamed.ok, k.name)
      assert.are.same(k.whole.r, k.streamed.r, k.name)
      assert.are.same({ false, true }, { v.log[2 * i - 1].stream, v.log[2 * i].stream }, k.name)
    end
    local r = {}
    for _, k in ipairs(v.out) do r[k.name] = k.streamed.r end
    assert.are.same({ "text" }, { r.text.content[1].type })
    assert.are.equal("max_tokens", r.cut.stop_reason)
    assert.are.equal("stop_sequence", r.stop.stop_reason)
    assert.are.equal("lookup", r.tool.tool_calls[1].name)
    assert.is_string(r.tool.tool_calls[1].input.why)
    assert.are.equal("thinking", r.thinking.content[1].type)
    assert.is_string(r.thinking.content[1].signature)
    assert.is_true(#r.thinking.thinking > 0)
    assert.are.equal("tool_use", r.thinking_tool.stop_reason)
    assert.is_string(r.output.json.name)
    assert.is_true(v.stalled.ok, v.stalled.err and v.stalled.err.tostring)
    assert.are.equal(2, v.stalled.r.attempts)
    assert.are.equal(r.text.text, v.stalled.r.text)
    -- Each pair's records are the same but for what the request said: "stream": true.
    local cols = "model_served, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, "
      .. "cost_usd, attempts, status, error_type, stop_reason, response_text, tool_calls, "
      .. "replace(prompt_text, ',\"stream\":true', '')"
    local rows = wire.sql(db, "SELECT " .. cols .. " FROM llm_interactions ORDER BY rowid")
    assert.are.equal(2 * #v.out + 1, #rows)
    for i = 1, #v.out do
      assert.are.same(rows[2 * i - 1], rows[2 * i], v.out[i].name)
    end
  end)
end)
