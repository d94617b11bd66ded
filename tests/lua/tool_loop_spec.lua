-- The tool loop's decisions, with the engine's call replaced by a script of answers: what
-- the simulator never says (pause_turn, a tool nobody defined) and what goes back each turn.
local tools = require "nyx.tools"

local function answers(list)
  local sent = {}
  local function call(req, conversation)
    assert(conversation == true, "the loop asks for the conversation")
    local copy, messages = {}, {}
    for i, m in ipairs(req.messages) do copy[i], messages[i] = m, m end
    sent[#sent + 1] = copy
    local a = assert(table.remove(list, 1), "more calls than answers")
    -- What core.call adds to the result of such a call (these answers hold no empty text block
    -- and no thinking): the tool calls, and the conversation with the answer appended.
    local calls = {}
    for _, b in ipairs(a.content) do
      if b.type == "tool_use" then calls[#calls + 1] = { id = b.id, name = b.name, input = b.input } end
    end
    messages[#messages + 1] = { role = "assistant", content = a.content }
    return { content = a.content, text = a.text or "", stop_reason = a.stop, tool_calls = calls, messages = messages,
             usage = { input_tokens = 10, output_tokens = 5 } }
  end
  return call, sent
end

local function use(id, name, input)
  return { type = "tool_use", id = id, name = name, input = input or {} }
end

describe("the tool loop", function()
  it("continues a pause_turn by sending the conversation back as it is", function()
    local call, sent = answers({
      { stop = "pause_turn", content = { { type = "text", text = "searching" } } },
      { stop = "end_turn", content = { { type = "text", text = "done" } } },
    })
    local t = tools.tool{ name = "t", run = function() return "x" end }
    local r = tools.run(call, { prompt = "go", tools = { t } })
    assert.are.equal(2, r.iterations)
    assert.are.equal("end_turn", r.stop_reason)
    assert.are.equal(2, #sent[2], "question and the paused turn, nothing added")
    assert.are.equal("assistant", sent[2][2].role)
    assert.are.equal(20, r.total_usage.input_tokens)
  end)

  it("answers a call to an unknown tool with an error result", function()
    local call, sent = answers({
      { stop = "tool_use", content = { use("a", "missing") } },
      { stop = "end_turn", content = { { type = "text", text = "ok" } } },
    })
    local t = tools.tool{ name = "t", run = function() return "x" end }
    tools.run(call, { prompt = "go", tools = { t } })
    local result = sent[2][3].content[1]
    assert.are.same({ type = "tool_result", tool_use_id = "a", is_error = true, content = "no tool named missing" }, result)
  end)

  it("a tool's answer that cannot be sent is an error result naming the tool, not the loop's end", function()
    local call, sent = answers({
      { stop = "tool_use", content = { use("a", "fn"), use("b", "nul"), use("c", "deep"), use("d", "mute") } },
      { stop = "end_turn", content = { { type = "text", text = "ok" } } },
    })
    local cyclic = {}
    cyclic.self = cyclic
    local fn = tools.tool{ name = "fn", run = function() return { f = print } end }
    local nul = tools.tool{ name = "nul", run = function() return "a\0b" end }
    local deep = tools.tool{ name = "deep", run = function() return cyclic end }
    local mute = tools.tool{ name = "mute", run = function()
      error(setmetatable({}, { __tostring = function() error("no text") end }))
    end }
    local r = tools.run(call, { prompt = "go", tools = { fn, nul, deep, mute } })
    assert.are.equal("end_turn", r.stop_reason)
    local results = sent[2][3].content
    assert.is_true(results[1].is_error)
    assert.matches("tool fn returned a table JSON cannot hold: value.f is a function", results[1].content, 1, true)
    assert.is_true(results[2].is_error)
    assert.matches("tool nul returned text holding a NUL byte", results[2].content, 1, true)
    assert.is_true(results[3].is_error)
    assert.matches("tool deep returned a table JSON cannot hold", results[3].content, 1, true)
    assert.are.same({ type = "tool_result", tool_use_id = "d", is_error = true, content = "tool mute failed" }, results[4])
  end)

  it("a tool's answer past NYX_MAX_PROMPT_BYTES is an error result naming the tool, and the loop goes on", function()
    local call, sent = answers({
      { stop = "tool_use", content = { use("a", "big"), use("b", "fits") } },
      { stop = "end_turn", content = { { type = "text", text = "ok" } } },
    })
    local core = require "nyx.core"
    local get = core.config.get
    core.config.get = function(k) if k == "NYX_MAX_PROMPT_BYTES" then return 1000.0 end return get(k) end
    local big = tools.tool{ name = "big", run = function() return ("x"):rep(1001) end }
    local fits = tools.tool{ name = "fits", run = function() return ("y"):rep(1000) end }
    local ok, r = pcall(tools.run, call, { prompt = "go", tools = { big, fits } })
    core.config.get = get
    assert.is_true(ok, tostring(r))
    assert.are.equal("end_turn", r.stop_reason)
    local results = sent[2][3].content
    assert.are.same({ type = "tool_result", tool_use_id = "a", is_error = true,
                      content = "tool big returned 1001 bytes, more than a whole request may hold (NYX_MAX_PROMPT_BYTES=1000)" },
                    results[1])
    assert.are.same({ type = "tool_result", tool_use_id = "b", content = ("y"):rep(1000) }, results[2])
  end)

  it("a tool that returns a function, coroutine or plain userdata is an error result, not its address", function()
    local call, sent = answers({
      { stop = "tool_use", content = { use("a", "fn"), use("b", "co"), use("c", "ud"), use("d", "num") } },
      { stop = "end_turn", content = { { type = "text", text = "ok" } } },
    })
    local fn = tools.tool{ name = "fn", run = function() return function() end end }
    local co = tools.tool{ name = "co", run = function() return coroutine.create(print) end }
    local ud = tools.tool{ name = "ud", run = function() return io.stdout end }
    local num = tools.tool{ name = "num", run = function() return 42 end }
    tools.run(call, { prompt = "go", tools = { fn, co, ud, num } })
    local results = sent[2][3].content
    assert.are.same({ type = "tool_result", tool_use_id = "a", is_error = true,
                      content = "tool fn returned a function, which a message cannot carry (return a string or a table)" },
                    results[1])
    assert.is_true(results[2].is_error)
    assert.matches("tool co returned a thread", results[2].content, 1, true)
    -- io.stdout says how it reads itself (its __tostring): that text is the answer
    assert.is_nil(results[3].is_error)
    assert.matches("^file %(", results[3].content)
    assert.are.same({ type = "tool_result", tool_use_id = "d", content = "42" }, results[4])
  end)

  it("a tool's answer that is not UTF-8 is an error result naming the tool and the byte", function()
    local call, sent = answers({
      { stop = "tool_use", content = { use("a", "latin1"), use("b", "cut"), use("c", "tbl"), use("d", "ok") } },
      { stop = "end_turn", content = { { type = "text", text = "ok" } } },
    })
    local latin1 = tools.tool{ name = "latin1", run = function() return "caf\xe9" end }
    local cut = tools.tool{ name = "cut", run = function() error("failed at caf\xc3", 0) end }
    local tbl = tools.tool{ name = "tbl", run = function() return { city = "K\xf6ln" } end }
    local ok = tools.tool{ name = "ok", run = function() return "caf\xc3\xa9 \xf0\x9f\x98\x80" end }
    tools.run(call, { prompt = "go", tools = { latin1, cut, tbl, ok } })
    local results = sent[2][3].content
    assert.is_true(results[1].is_error)
    assert.matches("tool latin1 returned text that is not valid UTF-8 (its byte 4 is 0xE9)", results[1].content, 1, true)
    assert.is_true(results[2].is_error)
    assert.matches("tool cut returned text that is not valid UTF-8 (its byte 14 is 0xC3)", results[2].content, 1, true)
    assert.is_true(results[3].is_error)
    assert.matches("tool tbl returned a table JSON cannot hold: value.city is not valid UTF-8 (its byte 2 is 0xF6)",
                   results[3].content, 1, true)
    assert.are.same({ type = "tool_result", tool_use_id = "d", content = "caf\xc3\xa9 \xf0\x9f\x98\x80" }, results[4])
  end)

  it("checks an answer against a schema with malformed parts without a Lua error of its own", function()
    for _, schema in ipairs({ { type = "object", properties = 42 }, { type = "object", required = 42 },
                              { type = "array", items = "x" }, { type = "object", enum = "x" } }) do
      local call = answers({ { stop = "end_turn", text = '{"a": 1}', content = { { type = "text", text = '{"a": 1}' } } } })
      local ok, r = pcall(tools.run, call, { messages = { { role = "user", content = "go" } }, output = schema })
      assert.is_true(ok or (type(r) == "table" and r.type == "invalid_output"), tostring(r))
    end
  end)

  it("hands the calls back when the model asks for a tool the script runs itself", function()
    local call, sent = answers({
      { stop = "tool_use", content = { use("a", "auto"), use("b", "manual", { n = 1 }) } },
    })
    local ran = 0
    local auto = tools.tool{ name = "auto", run = function() ran = ran + 1 end }
    local manual = tools.tool{ name = "manual" }
    local r = tools.run(call, { prompt = "go", tools = { auto, manual } })
    assert.are.equal(1, #sent)
    assert.are.equal(0, ran, "nothing ran: the script answers this turn")
    assert.are.equal("tool_use", r.stop_reason)
    assert.are.same({ { id = "a", name = "auto", input = {} }, { id = "b", name = "manual", input = { n = 1 } } }, r.tool_calls)
  end)

  it("refuses bad tool definitions and max_iterations", function()
    for _, def in ipairs({ { name = "has space" }, { name = ("x"):rep(65) }, { name = "t", input = { type = "string" } },
                           { name = "t", run = "not a function" } }) do
      local ok, e = pcall(tools.tool, def)
      assert.is_false(ok)
      assert.are.equal("invalid_argument", e.type)
    end
    local call = answers({})
    local t = tools.tool{ name = "t", run = function() end }
    local ok, e = pcall(tools.run, call, { prompt = "go", tools = { t }, max_iterations = 0 })
    assert.is_false(ok)
    assert.are.equal("invalid_argument", e.type)
    assert.matches("max_iterations", e.message)
  end)
end)
