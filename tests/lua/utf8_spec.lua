-- A request is JSON, which the API reads only as UTF-8: a text in another encoding (Latin-1, a
-- string cut inside a character, a surrogate, a byte no UTF-8 has) got the whole request
-- refused with a 400 after a round trip. Each is an invalid_argument naming the field and the
-- byte, before anything is reserved, counted or sent; the simulator refuses such a body as the
-- API does.
local H = require "helpers.nyx_case"

H.describe_setups("texts that are not UTF-8", function(setup)
  it("are refused naming the field and the byte, and nothing is sent", function()
    local v = setup:run [[
      -- A budget no call fits: a call that reached its reservation would fail budget_exceeded.
      nyx.budget.limit("day", 0.000001)
      local function try(t)
        t.max_tokens = t.max_tokens or 5
        local ok, e = pcall(nyx.call, t)
        if ok then return { ok = true } end
        return { type = e.type, message = e.message }
      end
      local long = ("A shared instruction line of a long system prompt.\n"):rep(100) -- 5.1 KB
      local r = {
        content = try({ messages = { { role = "user", content = "hi" }, { role = "assistant", content = "ok" },
                                     { role = "user", content = "caf\xe9 au lait" } } }),
        prompt = try({ prompt = "caf\xe9" }),
        block = try({ messages = { { role = "user", content = { { text = "fine" }, { type = "text", text = "cut \xc3" } } } } }),
        system = try({ system = "na\xefve", prompt = "x" }),
        system_block = try({ system = { { text = "ok" }, { text = "\xed\xa0\x80 surrogate", cache = true } }, prompt = "x" }),
        long_system = try({ system = long .. "\xe9", prompt = "x" }),
        long_again = try({ system = long .. "\xe9", prompt = "y" }),
        beyond = try({ prompt = "\xf4\x90\x80\x80 past U+10FFFF" }),
        five_bytes = try({ prompt = "\xf8\x88\x80\x80\x80" }),
        overlong = try({ prompt = "slash \xc0\xaf" }),
        tool_description = try({ prompt = "x", tools = { nyx.tool{ name = "t", description = "K\xf6ln", input = { type = "object" } } } }),
        tool_schema = try({ prompt = "x", tools = { { name = "t", input = { type = "object",
                            properties = { q = { type = "string", description = "\xe9" } } } } } }),
        tool_result = try({ messages = { { role = "user", content = "x" },
          { role = "assistant", content = { { type = "tool_use", id = "t1", name = "t", input = {} } } },
          { role = "user", content = { { type = "tool_result", tool_use_id = "t1", content = "caf\xe9" } } } } }),
        stop = try({ prompt = "x", stop_sequences = { "END", "\xff" } }),
        user_id = try({ prompt = "x", user_id = "u\x80" }),
        output = try({ prompt = "x", output = { type = "object", properties = { ["k\xe9"] = { type = "string" } } } }),
      }
      local refused = { sent = sim.sent(), calls = nyx.stats().calls, errors = nyx.stats().errors }
      local ok, over = pcall(nyx.call, { prompt = "caf\xc3\xa9", max_tokens = 5 })
      refused.budget = not ok and over.type
      nyx.budget.limit("day", 1)
      -- The same texts made whole go: 2-, 3- and 4-byte characters, U+10FFFF the last.
      local good = nyx.call{ system = long .. "\xc3\xa9", prompt = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
                             max_tokens = 5 }
      return { r = r, refused = refused, good = good.text ~= nil, sent = sim.sent() }
    ]]
    local want = {
      content = "messages[3].content[1].text is not valid UTF-8 (its byte 4 is 0xE9)",
      prompt = "prompt is not valid UTF-8 (its byte 4 is 0xE9)",
      block = "messages[1].content[2].text is not valid UTF-8 (its byte 5 is 0xC3)",
      system = "system[1].text is not valid UTF-8 (its byte 3 is 0xEF)",
      system_block = "system[2].text is not valid UTF-8 (its byte 1 is 0xED)",
      long_system = "system[1].text is not valid UTF-8 (its byte 5101 is 0xE9)",
      long_again = "system[1].text is not valid UTF-8 (its byte 5101 is 0xE9)",
      beyond = "prompt is not valid UTF-8 (its byte 1 is 0xF4)",
      five_bytes = "prompt is not valid UTF-8 (its byte 1 is 0xF8)",
      overlong = "prompt is not valid UTF-8 (its byte 7 is 0xC0)",
      tool_description = "tools[1].description is not valid UTF-8 (its byte 2 is 0xF6)",
      tool_schema = "tools[1].input.properties.q.description is not valid UTF-8 (its byte 1 is 0xE9)",
      tool_result = "messages[3].content[1].content is not valid UTF-8 (its byte 4 is 0xE9)",
      stop = "stop_sequences[2] is not valid UTF-8 (its byte 1 is 0xFF)",
      user_id = "user_id is not valid UTF-8 (its byte 2 is 0x80)",
      output = "output.properties has a key that is not valid UTF-8 (its byte 2 is 0xE9)",
    }
    H.assert_errors(v.r, "invalid_argument", want)
    assert.are.equal(0, v.refused.sent, "no request reached the server")
    assert.are.equal(0, v.refused.calls)
    assert.are.equal(0, v.refused.errors)
    assert.are.equal("budget_exceeded", v.refused.budget, "the budget stops a call that reaches it")
    assert.is_true(v.good)
    assert.are.equal(1, v.sent)
  end)

  it("refuse a batch whole, naming the request, before it is submitted", function()
    local v = setup:run [[
      local ok, e = pcall(nyx.batch, { requests = { { id = "fine", prompt = "one", max_tokens = 5 },
                                                    { id = "latin1", prompt = "caf\xe9", max_tokens = 5 } } })
      return { ok = ok, type = e.type, message = e.message, sent = #sim.requests() }
    ]]
    assert.is_false(v.ok)
    assert.are.equal("invalid_argument", v.type)
    assert.are.equal('requests[2] (id "latin1"): prompt is not valid UTF-8 (its byte 4 is 0xE9)', v.message)
    assert.are.equal(0, v.sent)
  end)

  it("reach the simulator only from another client, which refuses them as the API does", function()
    local v = setup:run [[
      local body = '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"caf\xe9"}]}'
      local r = sim.messages(body)
      local fine = sim.messages(body:gsub("\xe9", "\xc3\xa9"))
      return { r = r, fine = fine.type }
    ]]
    assert.are.equal("error", v.r.type)
    assert.are.equal("invalid_request_error", v.r.error.type)
    assert.matches("The request body is not valid JSON: invalid UTF-8 byte 0xE9: line 1 column 85 (char 84)",
                   v.r.error.message, 1, true)
    assert.are.equal("message", v.fine)
  end)
end)
