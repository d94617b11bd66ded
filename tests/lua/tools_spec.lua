-- The whole Messages API from Lua: content blocks both ways, tools and the tool loop,
-- thinking, structured outputs, streamed tool inputs. Every case runs against the in-process
-- simulator and against `nyx sim` over HTTP, which keep the API's rules (a tool_use needs its
-- tool_result, thinking comes back unaltered).
local H = require "helpers.nyx_case"

local WEATHER = [[
  local weather = nyx.tool{ name = "weather", description = "Weather in a city",
    input = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
    run = function(input) return "sunny in " .. input.city end }
]]

H.describe_setups("tools, thinking and structured output", function(setup)
  it("returns the tool calls of a tool without run, and r.messages continues the chat", function()
    local v = setup:run [[
      local lookup = nyx.tool{ name = "lookup", description = "Find a record",
        input = { type = "object", properties = { id = { type = "integer" }, q = { type = "string" } } } }
      local r = nyx.call{ prompt = "Find order 42", tools = { lookup }, max_tokens = 200, max_iterations = 3 }
      local first_len = #r.messages
      local msgs = r.messages
      msgs[#msgs + 1] = { role = "user", content = {
        { type = "tool_result", tool_use_id = r.tool_calls[1].id, content = "order 42: shipped" } } }
      local r2 = nyx.call{ messages = msgs, tools = { lookup }, max_tokens = 200 }
      local ok, orphan = pcall(nyx.call, { messages = { r.messages[1], r.messages[2],
                               { role = "user", content = "and then?" } }, tools = { lookup } })
      return { r = r, r2 = r2, orphan = orphan, first_len = first_len, log = sim.requests() }
    ]]
    local r = v.r
    assert.are.equal("tool_use", r.stop_reason)
    assert.are.equal(1, #r.tool_calls)
    assert.are.equal("lookup", r.tool_calls[1].name)
    assert.matches("^toolu_", r.tool_calls[1].id)
    assert.are.same({ id = 1, q = "Find order 42" }, r.tool_calls[1].input, "input decoded to a table")
    assert.are.equal("tool_use", r.content[1].type)
    assert.are.equal(2, v.first_len)
    assert.are.equal("assistant", r.messages[2].role)
    assert.are.equal("end_turn", v.r2.stop_reason)
    assert.is_true(#v.r2.text > 0)
    assert.are.equal(4, #v.r2.messages)
    -- The API's rule: a tool_use left without its tool_result is a 400.
    assert.are.equal("invalid_request_error", v.orphan.type)
    assert.are.equal(400, v.orphan.status)
    assert.matches("tool_result", v.orphan.message)
    assert.are.equal(3, #v.log)
  end)

  it("runs the loop: tools at once as tasks, a raising tool an is_error result, one user turn", function()
    local v = setup:run(WEATHER .. [[
      local order = {}
      local slow = nyx.tool{ name = "slow", input = { type = "object", properties = {} },
        run = function() order[#order + 1] = "slow start"; nyx.sleep(0.05); order[#order + 1] = "slow end"; return { ok = true } end }
      local broken = nyx.tool{ name = "broken", input = { type = "object", properties = { n = { type = "integer" } } },
        run = function() order[#order + 1] = "broken"; error("the disk is full") end }
      local s = nyx.session{ name = "loop" }
      local r = nyx.call{ prompt = "Plan the trip", tools = { slow, broken, weather }, session = s,
                          max_tokens = 300 }
      return { r = r, order = order, log = sim.requests(), stats = s:stats() }
    ]])
    local r = v.r
    assert.are.equal(2, r.iterations)
    assert.are.equal("end_turn", r.stop_reason)
    assert.are.equal(2, #v.log, "one request per iteration")
    assert.are.equal(2, v.stats.calls, "each iteration is a call of the session")
    assert.are.equal(3, v.stats.tool_calls, "the session counts the tool calls")
    assert.are.equal(1, v.stats.tool_rounds)
    assert.are.equal(4, #r.messages)
    local results = r.messages[3].content
    assert.are.equal("user", r.messages[3].role)
    assert.are.equal(3, #results, "every result in one user turn")
    assert.are.same({ type = "tool_result", tool_use_id = r.messages[2].content[1].id, content = '{"ok":true}' },
                    results[1])
    assert.is_true(results[2].is_error)
    assert.matches("the disk is full", results[2].content)
    assert.are.equal("sunny in Plan the trip", results[3].content)
    -- broken ran while slow was waiting: the tools ran as concurrent tasks.
    assert.are.same({ "slow start", "broken", "slow end" }, v.order)
    assert.are.equal(v.log[1].input_tokens + v.log[2].input_tokens, r.total_usage.input_tokens)
  end)

  it("follows tool_choice, and an agent's call runs the same loop under its name", function()
    local v = setup:run(WEATHER .. [[
      local other = nyx.tool{ name = "other", input = { type = "object", properties = {} } }
      -- A named tool (or "any") forces a tool call on every turn, as the API does: the loop
      -- runs to max_iterations.
      local _, named = pcall(nyx.call, { prompt = "Weather in Rome", tools = { other, weather },
                                         tool_choice = { type = "tool", name = "weather" }, max_iterations = 2 })
      local none = nyx.call{ prompt = "Weather in Rome", tools = { other }, tool_choice = "none" }
      local one = nyx.call{ prompt = "Weather in Rome", tools = { other, nyx.tool{ name = "third" } },
                            tool_choice = { type = "auto", disable_parallel_tool_use = true } }
      local a = nyx.agent{ name = "forecaster" }
      local s = nyx.session{ name = "agent-loop" }
      local r = a:call{ prompt = "Weather in Rome", tools = { weather }, session = s }
      return { named = named, none = none, one = one, r = r, stats = s:stats() }
    ]])
    assert.are.equal("max_iterations", v.named.type)
    assert.are.equal(1, #v.named.messages[2].content, "only the tool named")
    assert.are.equal("weather", v.named.messages[2].content[1].name)
    assert.are.equal("weather", v.named.messages[4].content[1].name, "forced again after its result")
    assert.are.equal(5, #v.named.messages)
    assert.are.equal("end_turn", v.none.stop_reason)
    assert.are.equal(0, #v.none.tool_calls)
    assert.are.equal(1, #v.one.tool_calls, "no parallel calls when disabled")
    assert.are.equal(2, v.r.iterations)
    assert.are.equal(2, v.stats.calls, "both iterations are the agent's calls in its session")
  end)

  it("asks an agent's policy before each tool: allowed, refused (audited) or given a new input", function()
    local db = setup:new_db()
    local v = setup:run(WEATHER .. [[
      local never = nyx.tool{ name = "never", input = { type = "object", properties = {} },
                              run = function() error("must not run") end }
      local a = nyx.agent{ name = "guarded", policy = { on_tool = function(call, tc)
        if tc.name == "never" then return "deny" end
        return { city = "Bergen" }
      end } }
      local r = a:call{ prompt = "Weather in Rome", tools = { weather, never } }
      local careful = require "policies.careful"
      careful.allow_tools = { "weather" }
      local c = nyx.agent{ name = "careful", policy = "policies.careful" }
      local rc = c:call{ prompt = "Weather in Rome", tools = { weather, never } }
      return { results = r.messages[3].content, careful = rc.messages[3].content }
    ]], { env = { NYX_DB = db } })
    assert.are.equal("sunny in Bergen", v.results[1].content, "the policy changed the input")
    assert.is_true(v.results[2].is_error)
    assert.are.equal("the policy refused the tool never", v.results[2].content)
    assert.are.equal("sunny in Weather in Rome", v.careful[1].content)
    assert.is_true(v.careful[2].is_error, "careful refuses tools outside allow_tools")
    local denied = {}
    for _, ev in ipairs(H.audit(db)) do
      if ev.kind == "tool_denied" then denied[#denied + 1] = ev.agent end
    end
    assert.are.same({ "guarded", "careful" }, denied)
  end)

  it("refuses a tool when the policy's on_tool answers something it cannot mean, and says so once", function()
    local db = setup:new_db()
    local v, res = setup:run(WEATHER .. [[
      local ran = 0
      local counted = nyx.tool{ name = "counted", input = { type = "object", properties = {} },
                                run = function() ran = ran + 1; return "ran" end }
      local a = nyx.agent{ name = "typo", policy = { on_tool = function() return "denied" end } }
      local results = {}
      for i = 1, 2 do
        results[i] = a:call{ prompt = "Weather in Rome", tools = { counted } }.messages[3].content[1]
      end
      return { ran = ran, results = results }
    ]], { env = { NYX_DB = db } })
    assert.are.equal(0, v.ran, "a misspelt refusal does not let the tool run")
    for i = 1, 2 do
      assert.is_true(v.results[i].is_error)
      assert.are.equal("the policy refused the tool counted", v.results[i].content)
    end
    local said = 0
    for _, line in ipairs(res.notices) do
      if line:find('policy hook on_tool %(.-:%d+%) of agent typo returned "denied" where "allow", "deny" '
                   .. 'or a new input table was expected: the tool is refused') then said = said + 1 end
    end
    assert.are.equal(1, said, table.concat(res.notices, "\n"))
    local denied = 0
    for _, ev in ipairs(H.audit(db)) do
      if ev.kind == "tool_denied" and ev.agent == "typo" then denied = denied + 1 end
    end
    assert.are.equal(2, denied, "each refusal is audited")
  end)

  it("stops at max_iterations with an error carrying the transcript", function()
    local v = setup:run(WEATHER .. [[
      local ok, e = pcall(nyx.call, { prompt = "Weather in Rome", tools = { weather }, max_iterations = 1 })
      return { e = e, log = sim.requests() }
    ]])
    assert.are.equal("max_iterations", v.e.type)
    assert.are.equal(1, #v.log)
    assert.are.equal(3, #v.e.messages, "question, tool call, tool result")
    assert.are.equal("tool_result", v.e.messages[3].content[1].type)
  end)

  it("gives a tool an integer past 2^53 of its input whole, streamed or not, and sends [] for a marked {}", function()
    -- The simulator answers with the first member of an enum, as its digits (the API keeps them).
    local v = setup:run [[
      sim.config{ keep_bodies = 8 }
      local seen = {}
      local order = nyx.tool{ name = "order", input = { type = "object", required = nyx.json_array(),
        properties = { id = { type = "integer", enum = { 9007199254740993 } } } },
        run = function(input) seen[#seen + 1] = input.id; return "shipped" end }
      local r = nyx.call{ prompt = "Find the order", tools = { order }, max_tokens = 100 }
      nyx.call{ prompt = "Find the order", tools = { order }, max_tokens = 100, stream = function() end }
      local body
      for _, q in ipairs(sim.requests()) do
        if q.path == "/v1/messages" then body = body or q.body end
      end
      local out = { body = body, sent_back = tostring(r.messages[2].content[1].input.id) }
      for i, id in ipairs(seen) do out[i] = math.type(id) .. " " .. tostring(id) end
      return out
    ]]
    assert.are.equal("integer 9007199254740993", v[1])
    assert.are.equal("integer 9007199254740993", v[2], "streamed")
    assert.are.equal("9007199254740993", v.sent_back, "r.messages holds it for the next turn")
    assert.matches('"enum":[9007199254740993]', v.body, 1, true)
    assert.matches('"required":[]', v.body, 1, true)
  end)

  it("writes a float of a tool schema, a tool input and a stored reply as nyx.json_encode writes it", function()
    -- cJSON prints 15 digits that read back merely close (0.30000000000000004 as 0.3) or 17
    -- where 16 do (2/3); every JSON text nyx prints writes the shortest that read back exactly.
    -- The simulator answers each property with the first member of its enum.
    local db = setup:new_db()
    local v = setup:run([[
      sim.config{ keep_bodies = 8 }
      local values = { 0.1, 1e21, 5e-324, 0.30000000000000004, 2 / 3, -0.0 }
      local props = {}
      for i, x in ipairs(values) do props["p" .. i] = { type = "number", enum = { x } } end
      local t = nyx.tool{ name = "measure", input = { type = "object", properties = props } }
      local r = nyx.call{ prompt = "Measure it", tools = { t }, max_tokens = 100, cache_response = "always" }
      local body
      for _, q in ipairs(sim.requests()) do
        if q.path == "/v1/messages" then body = body or q.body end
      end
      local out = { body = body, lua = {}, input = {} }
      for i, x in ipairs(values) do
        out.lua[i] = nyx.json_encode(x)
        local got = r.tool_calls[1].input["p" .. i]
        out.input[i] = got == x
      end
      return out
    ]], { env = { NYX_DB = db } })
    local W = require "helpers.wire"
    local stored = W.sql(db, "SELECT response_json FROM llm_cache")
    assert.are.equal(1, #stored)
    local content = require("dkjson").decode(stored[1].response_json).content -- the blocks' JSON text
    assert.are.same({ "0.1", "1e+21", "4.94065645841247e-324", "0.30000000000000004", "0.6666666666666666", "-0" },
                    v.lua)
    for i, text in ipairs(v.lua) do
      assert.matches('"p' .. i .. '":{"enum":[' .. text .. '],"type":"number"}', v.body, 1, true)
      assert.is_true(v.input[i], "the tool input holds the schema's number: p" .. i)
      assert.matches('"p' .. i .. '":' .. text .. (i < #v.lua and "," or "}"), content, 1, true)
    end
  end)

  it("assembles streamed tool inputs before Lua sees them", function()
    local v = setup:run [[
      local t = nyx.tool{ name = "book", input = { type = "object", properties = {
        city = { type = "string" }, nights = { type = "integer" }, breakfast = { type = "boolean" },
        tags = { type = "array", items = { type = "string" } } } } }
      local pieces = 0
      local r = nyx.call{ prompt = "Book a long stay in Lisbon by the sea", tools = { t },
                          stream = function() pieces = pieces + 1 end }
      return { r = r, log = sim.requests() }
    ]]
    assert.is_true(v.log[1].stream)
    assert.are.same({ city = "Book a long stay in Lisbon", nights = 1, breakfast = true,
                      tags = { "Book a long stay in Lisbon" } }, v.r.tool_calls[1].input)
    assert.are.equal("tool_use", v.r.stop_reason)
  end)

  it("keeps the tools, system and transcript cached across iterations", function()
    local v = setup:run(WEATHER .. [[
      local r = nyx.call{ system = context("tool loop"), prompt = "Weather in Oslo", tools = { weather } }
      return { log = sim.requests() }
    ]])
    assert.are.equal(2, #v.log)
    assert.is_true(v.log[1].cache_write > 0)
    assert.are.equal(v.log[1].cache_write, v.log[2].cache_read, "the second iteration reads the first's prefix")
  end)

  it("accepts content blocks in messages and system as tables", function()
    local v = setup:run [[
      local r = nyx.call{ system = { { type = "text", text = "You are terse." } },
        messages = { { role = "user", content = { { type = "text", text = "Describe" },
          { type = "image", source = { type = "base64", media_type = "image/png", data = "iVBORw0KGgo=" } } } } } }
      local ok, e = pcall(nyx.call, { system = { { type = "image", source = {} } }, prompt = "x" })
      local ok2, e2 = pcall(nyx.call, { prompt = { { type = "tool_result", tool_use_id = "t", content = "x",
                                                      extra = function() end } } })
      return { r = r, e = e, e2 = e2 }
    ]]
    assert.matches("^As You are terse%.", v.r.text)
    H.assert_error(v.e, "invalid_argument", "system%[1%] must be a text block")
    H.assert_error(v.e2, "invalid_argument", "extra is a function")
  end)

  it("reads images and documents from a path or bytes, their media type checked", function()
    local v = setup:run [[
      local path = os.tmpname()
      local f = assert(io.open(path, "wb")); f:write("\137PNG\r\n\26\nrest of the image"); f:close()
      local r = nyx.call{ messages = { { role = "user", content = { { type = "image", path = path },
        { type = "document", data = "%PDF-1.4 a report", cache = true }, "What do these show?" } } } }
      local _, wrong = pcall(nyx.call, { prompt = { { type = "image", path = path, media_type = "image/jpeg" } } })
      local _, unknown = pcall(nyx.call, { prompt = { { type = "image", data = "just words" } } })
      os.remove(path)
      local _, missing = pcall(nyx.call, { prompt = { { type = "image", path = path } } })
      return { r = r, wrong = wrong, unknown = unknown, missing = missing, n = #sim.requests() }
    ]]
    assert.are.equal("end_turn", v.r.stop_reason)
    H.assert_error(v.wrong, "invalid_argument", "image/jpeg given, but .* holds image/png")
    H.assert_error(v.unknown, "invalid_argument", "give media_type")
    H.assert_error(v.missing, "invalid_argument", "cannot open")
    assert.are.equal(1, v.n, "refused blocks sent nothing")
  end)

  it("thinks when asked, passes thinking back in the loop, and the API refuses it altered", function()
    local v = setup:run(WEATHER .. [[
      local pieces = {}
      local H45 = "claude-haiku-4-5" -- takes a budget of thinking tokens, not "adaptive"
      local r = nyx.call{ model = H45, prompt = "Weather in Oslo", tools = { weather }, thinking = 2048, max_tokens = 4000,
                          on_thinking = function(t) pieces[#pieces + 1] = t end }
      local m = r.messages
      local altered = { m[1], { role = "assistant", content = { { type = "thinking", thinking = "something else",
                        signature = m[2].content[1].signature }, m[2].content[2] } }, m[3] }
      local _, e1 = pcall(nyx.call, { model = H45, messages = altered, thinking = 2048, max_tokens = 4000, tools = { weather } })
      local dropped = { m[1], { role = "assistant", content = { m[2].content[2] } }, m[3] }
      local _, e2 = pcall(nyx.call, { model = H45, messages = dropped, thinking = 2048, max_tokens = 4000, tools = { weather } })
      local _, e3 = pcall(nyx.call, { model = H45, prompt = "x", thinking = "adaptive" })
      local _, e4 = pcall(nyx.call, { model = H45, prompt = "x", thinking = 500, max_tokens = 4000 })
      local n = #sim.requests()
      return { r = r, pieces = pieces, e1 = e1, e2 = e2, e3 = e3, e4 = e4, n = n }
    ]])
    local r = v.r
    assert.are.equal(2, r.iterations)
    assert.are.equal("thinking", r.messages[2].content[1].type)
    assert.matches("^sig_sim_", r.messages[2].content[1].signature)
    assert.is_string(r.thinking)
    assert.is_true(#v.pieces > 1, "thinking streamed in pieces to on_thinking")
    assert.are.equal(r.messages[4].content[1].thinking, table.concat(v.pieces, ""):sub(-#r.messages[4].content[1].thinking))
    assert.are.equal(400, v.e1.status)
    assert.matches("signature", v.e1.message)
    assert.are.equal(400, v.e2.status)
    assert.matches("Expected `thinking`", v.e2.message)
    -- Refused before sending: haiku 4.5 takes a budget, not "adaptive"; a budget below 1024.
    H.assert_error(v.e3, "invalid_argument", 'does not accept "adaptive"')
    H.assert_error(v.e4, "invalid_argument", "at least 1024")
    assert.are.equal(4, v.n, "the refused calls sent nothing")
  end)

  it("refuses tool_choice any or a named tool while a model thinks, where the model does, sending nothing", function()
    local v = setup:run(WEATHER .. [[
      local S55 = "claude-sonnet-5-5" -- thinks when asked; cannot then be made to call a tool
      local _, any = pcall(nyx.call, { model = S55, prompt = "x", tools = { weather }, thinking = "adaptive",
                                       tool_choice = "any" })
      -- claude-opus-5-5 always thinks, so a named tool is refused without thinking asked for
      local _, named = pcall(nyx.call, { model = "claude-opus-5-5", prompt = "x", tools = { weather },
                                         tool_choice = { type = "tool", name = "weather" } })
      local refused = #sim.requests()
      local _, unthinking = pcall(nyx.call, { model = S55, prompt = "Weather in Oslo", tools = { weather },
                                              tool_choice = "any", max_iterations = 1 })
      local auto = nyx.call{ model = S55, prompt = "Weather in Oslo", tools = { weather }, thinking = "adaptive" }
      return { any = any, named = named, refused = refused, unthinking = unthinking, auto = auto }
    ]])
    H.assert_error(v.any, "invalid_argument", "^tool_choice: .*claude%-sonnet%-5%-5")
    H.assert_error(v.named, "invalid_argument", "^tool_choice: .*claude%-opus%-5%-5")
    assert.are.equal(0, v.refused, "the refused calls sent nothing")
    assert.are.equal("max_iterations", v.unthinking.type, "forced without thinking is sent")
    assert.are.equal("end_turn", v.auto.stop_reason)
  end)

  it("refuses two tools of one name, which the API refuses after the round trip, sending nothing", function()
    local v = setup:run(WEATHER .. [[
      local again = nyx.tool{ name = "weather", description = "another weather", run = function() return "sunny" end }
      local _, e = pcall(nyx.call, { prompt = "x", tools = { weather, again } })
      return { e = e, sent = #sim.requests() }
    ]])
    H.assert_error(v.e, "invalid_argument",
      'the tools name "weather" twice %(tools%[1%] and tools%[2%]%): the API takes each tool name once')
    assert.are.equal(0, v.sent)
  end)

  it("keeps cache marks off thinking blocks in a long loop with thinking", function()
    local v = setup:run [[
      local w = nyx.tool{ name = "weather", input = { type = "object", properties = { city = { type = "string" } } } }
      local M = "claude-haiku-4-5"
      local first = nyx.call{ model = M, prompt = "Weather in Oslo", tools = { w }, thinking = 2048, max_tokens = 4000 }
      local think, use = first.content[1], first.content[2]
      local function history(rounds)
        local m = { { role = "user", content = "Weather in Oslo" } }
        for i = 1, rounds do
          m[#m + 1] = { role = "assistant", content = { think, use } }
          m[#m + 1] = { role = "user", content = { { type = "tool_result", tool_use_id = use.id,
                        content = ("reading %d: %s"):format(i, ("mild and dry "):rep(40)) } } }
        end
        return m
      end
      local system = ("You forecast. "):rep(600)
      nyx.call{ model = M, system = system, messages = history(2), tools = { w }, thinking = 2048, max_tokens = 4000 }
      local out = {}
      -- Far enough past the written prefix that links are placed, at every phase of the
      -- thinking/tool_use/tool_result pattern.
      for extra = 7, 10 do
        local ok, r = pcall(nyx.call, { model = M, system = system, messages = history(2 + extra),
                                        tools = { w }, thinking = 2048, max_tokens = 4000 })
        out[#out + 1] = ok and r.usage.cache_read_input_tokens or r
      end
      return out
    ]]
    for i, r in ipairs(v) do
      assert.is_number(r, "call " .. i .. " was refused: " .. tostring(type(r) == "table" and r.message))
    end
    assert.is_true(v[#v] > 0, "the long conversation reads what the one before wrote")
  end)

  it("takes tools and output from a template's front matter, and tools by name", function()
    local v = setup:run(WEATHER .. [==[
      nyx.templates.create("forecast", table.concat({
        "---",
        'output: {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"], ' ..
          '"additionalProperties": false}',
        "tools: [weather]",
        "---",
        "Forecast for {{city}}" }, "\n"))
      local text = nyx.templates.render("forecast", { city = "Oslo" })
      local r = nyx.call{ prompt = text, template = "forecast" }
      local named = nyx.call{ prompt = "Weather in Rome", tools = { "weather" } }
      local _, unknown = pcall(nyx.call, { prompt = "x", tools = { "nowhere" } })
      local _, bad = pcall(nyx.templates.create, "broken", "---\ntools: weather\n---\nx")
      return { r = r, named = named, unknown = unknown, bad = bad, info = nyx.templates.get("forecast") }
    ]==])
    assert.are.same({ "weather" }, v.info.tools)
    assert.are.equal("object", v.info.output.type)
    assert.are.equal(2, v.r.iterations, "the template's tool ran")
    assert.are.same({ summary = "Forecast for Oslo" }, v.r.json, "the template's schema shaped the answer")
    assert.are.equal(2, v.named.iterations)
    H.assert_error(v.unknown, "invalid_argument", "no tool named nowhere")
    H.assert_error(v.bad, "invalid_argument", "tools:")
  end)

  it("decodes structured output, and a cut answer is invalid_output carrying the text", function()
    local v = setup:run [[
      local schema = { type = "object", additionalProperties = false, required = { "score", "verdict" },
                       properties = { score = { type = "integer" }, verdict = { type = "string", enum = { "go", "stop" } } } }
      local r = nyx.call{ prompt = "Rate the plan", output = schema }
      local _, e = pcall(nyx.call, { prompt = "Rate the plan", output = schema, max_tokens = 3 })
      return { r = r, e = e }
    ]]
    assert.are.same({ score = 1, verdict = "go" }, v.r.json)
    assert.are.equal("invalid_output", v.e.type)
    assert.are.equal("max_tokens", v.e.stop_reason)
    assert.is_string(v.e.text)
    assert.matches('^{"', v.e.text)
  end)
end)
