-- Values at the edges that once slipped through: NaN (dropped silently, or reported as out of
-- memory), infinite budgets (accepted, then every call failed), NUL bytes (C cut the name
-- there: another session or model than the script's) and empty names. Each is an
-- invalid_argument naming the field, and nothing is sent.
local H = require "helpers.nyx_case"

H.describe_setup("argument checks at the edges", function(setup)
  it("refuse NaN, infinity, NUL bytes and empty names with invalid_argument naming the field", function()
    local v = setup:run [[
      local function try(f, ...)
        local ok, e = pcall(f, ...)
        if ok then return { ok = true } end
        return { type = e.type, message = e.message }
      end
      local nan, inf = 0/0, math.huge
      local r = {
        temperature = try(nyx.call, { prompt = "x", max_tokens = 5, temperature = nan }),
        rpm = try(nyx.rate_limit, "claude-haiku-4-5", { rpm = nan }),
        rpm_inf = try(nyx.rate_limit, "claude-haiku-4-5", { input_tpm = inf }),
        rate_key = try(nyx.rate_limit, "agent:", { rpm = 1 }),
        limit_inf = try(nyx.budget.limit, "day", inf),
        limit_nan = try(nyx.budget.limit, "day", nan),
        session_inf = try(nyx.session, { name = "s", budget_usd = inf }),
        agent_inf = try(nyx.agent, { name = "a", budget_usd = inf }),
        agent_nan = try(nyx.agent, { name = "a", calls_per_minute = nan }),
        session_nul = try(nyx.session, { name = "ab\0cd" }),
        call_session_nul = try(nyx.call, { prompt = "x", max_tokens = 5, session = "ab\0cd" }),
        model_nul = try(nyx.call, { prompt = "x", max_tokens = 5, model = "claude-haiku-4-5\0evil" }),
        model_empty = try(nyx.call, { prompt = "x", max_tokens = 5, model = "" }),
        agent_empty = try(nyx.call, { prompt = "x", max_tokens = 5, agent = "" }),
        scope_empty = try(nyx.budget.limit, "session:", 1),
        scope_agent_empty = try(nyx.budget.limit, "agent:", 1),
        scope_nul = try(nyx.budget.limit, "session:a\0b", 1),
        profile_nul = try(nyx.timeout_profile, "a\0b", 5),
        tool_choice_word = try(nyx.call, { prompt = "x", max_tokens = 5, tool_choice = "sometimes" }),
        tool_choice_empty = try(nyx.call, { prompt = "x", max_tokens = 5, tool_choice = "" }),
        -- A misspelt option of any function taking named options is refused, named, with the
        -- option it was likely meant to be: read as absent, it would drop a budget or a limit.
        session_typo = try(nyx.session, { name = "s", budjet_usd = 0.01 }),
        thought_typo = try(nyx.thought, { lable = "x" }),
        council_typo = try(nyx.council, { context = "c", personas = { "A" }, question = "q", sesion = "s" }),
        -- A persona's name is the agent its call goes under, and its fields are named options too.
        persona_empty = try(nyx.council, { context = "c", personas = { "A", "" }, question = "q" }),
        persona_name_empty = try(nyx.council, { context = "c", personas = { { name = "" } }, question = "q" }),
        persona_typo = try(nyx.council, { context = "c", personas = { { name = "A", instrution = "Be brief." } },
                                          question = "q" }),
        persona_instruction = try(nyx.council, { context = "c", personas = { { name = "A", instruction = 5 } },
                                                 question = "q" }),
        agent_typo = try(nyx.agent, { name = "a", budget_usd = 1, calls_per_minut = 5 }),
        batch_typo = try(nyx.batch, { requests = { { id = "r", prompt = "x" } }, retyr = "batch" }),
        tool_typo = try(nyx.tool, { name = "t", rnu = function() end }),
        rate_limit_typo = try(nyx.rate_limit, "claude-haiku-4-5", { rmp = 5 }),
        audit_typo = try(nyx.audit, "k", "d", { agnet = "a" }),
        -- A request of a batch is refused as its nyx.call would be, by nyx.batch, naming it.
        batch_request_typo = try(nyx.batch, { requests = { { id = "r", prompt = "x", max_token = 5 } } }),
        -- A bad block names its message, not only its place in the content.
        message_block = try(nyx.call, { max_tokens = 5, messages = { { role = "user", content = "a" },
          { role = "assistant", content = "b" }, { role = "user", content = { { type = "text" } } } } }),
        -- The engine's own checks count a script's lists from 1, as the script does.
        mark_order = try(nyx.call, { max_tokens = 5, prompt = "x",
          system = { { text = "a", cache = "5m" }, { text = "b", cache = "1h" } } }),
      }
      local sent = sim.sent()
      return { r = r, sent = sent }
    ]]
    local fields = {
      temperature = "temperature", rpm = "rpm", rpm_inf = "input_tpm", rate_key = "agent",
      limit_inf = "limit", limit_nan = "limit", session_inf = "budget_usd", agent_inf = "budget_usd",
      agent_nan = "calls_per_minute", session_nul = "NUL", call_session_nul = "NUL", model_nul = "NUL",
      model_empty = "model", agent_empty = "agent", scope_empty = "scope", scope_agent_empty = "scope",
      scope_nul = "NUL", profile_nul = "NUL", tool_choice_word = 'tool_choice must be "auto", "any", "none"',
      tool_choice_empty = "tool_choice",
      session_typo = "bad argument #1 to 'session' (unknown option 'budjet_usd'; did you mean 'budget_usd'?)",
      thought_typo = "unknown option 'lable'; did you mean 'label'?",
      council_typo = "bad argument #1 to 'council' (unknown option 'sesion'; did you mean 'session'?)",
      persona_empty = "bad argument #1 to 'council' (personas[2] must be a non-empty string or {name=, instruction=})",
      persona_name_empty = "(personas[1].name must be a non-empty string)",
      persona_typo = "(personas[1] has an unknown option 'instrution'; did you mean 'instruction'?)",
      persona_instruction = "(personas[1].instruction must be a non-empty string)",
      agent_typo = "bad argument #1 to 'agent' (unknown option 'calls_per_minut'; did you mean 'calls_per_minute'?)",
      batch_typo = "unknown option 'retyr'; did you mean 'retry'?",
      tool_typo = "bad argument #1 to 'tool' (unknown option 'rnu'; did you mean 'run'?)",
      rate_limit_typo = "bad argument #2 to 'rate_limit' (unknown option 'rmp'; did you mean 'rpm'?)",
      audit_typo = "unknown option 'agnet'; did you mean 'agent'?",
      batch_request_typo = "requests[1] (id \"r\"): unknown option 'max_token'; did you mean 'max_tokens'?",
      message_block = "(messages[3].content[1] must be a string or a table with text)",
      mark_order = "system[2] has a 1h cache mark after a 5m mark",
    }
    H.assert_errors(v.r, "invalid_argument", fields)
    assert.are.equal(0, v.sent)
  end)
  it("reads every option of nyx.call by its exact name, from the table or its __index", function()
    local v = setup:run [[
      local function try(t)
        local ok, e = pcall(nyx.call, t)
        if ok then return { ok = true, model = e.model_requested } end
        return { type = e.type, message = e.message }
      end
      -- One bad value per option: each is refused naming its field, so none is skipped.
      local bad = { model = false, system = 42, max_tokens = 0, temperature = 5, stop_sequences = 42,
        user_id = false, tools = 42, tool_choice = 42, thinking = "x", effort = "x", output = 42,
        cache = "x", session = false, agent = "", template = false, thought = -1, iteration = 0,
        timeout = -1, cache_response = "x", fallback = 42, headers = 42, stream = 42, batch = 42,
        on_thinking = 42, on_start = 42 }
      local r = {}
      for name, value in pairs(bad) do
        r[name] = try({ prompt = "x", max_tokens = 5, [name] = value })
      end
      r.messages = try({ prompt = "x", messages = { { role = "user", content = "x" } } })
      -- Through __index as through the table itself.
      r.inherited_bad = try(setmetatable({ prompt = "x" }, { __index = { temperature = 5 } }))
      r.inherited = try(setmetatable({ prompt = "x", max_tokens = 5 }, { __index = { model = "claude-sonnet-4-5" } }))
      -- Any other key is refused, named (a misspelt option would be read as absent), with the
      -- option it was likely meant to be; a name followed by a NUL byte is not that name.
      local others = { colour = "unknown option 'colour'", [1] = "options are named (name = value); the key 1",
        [true] = "the key true is not a name", ["model\0x"] = "unknown option 'model\\0x'",
        ["max_tokens\0"] = "unknown option 'max_tokens\\0'",
        modelx = "unknown option 'modelx'; did you mean 'model'?", mode = "did you mean 'model'?",
        temprature = "unknown option 'temprature'; did you mean 'temperature'?",
        max_iteration = "did you mean 'max_iterations'?", xy = "unknown option 'xy'" }
      r.others = {}
      for key, want in pairs(others) do
        r.others[#r.others + 1] = { want = want, got = try({ prompt = "x", max_tokens = 5, [key] = 42 }) }
      end
      -- What the Lua library reads itself is an option too: max_iterations, without a tool loop.
      r.lua_layer = try({ prompt = "x", max_tokens = 5, max_iterations = 3 })
      return r
    ]]
    assert.are.equal(10, #v.others)
    for _, o in ipairs(v.others) do
      assert.are.equal("invalid_argument", o.got.type, o.want)
      assert.matches(o.want, o.got.message, 1, true)
    end
    assert.is_true(v.lua_layer.ok)
    for name in pairs(v) do
      if name ~= "inherited" and name ~= "others" and name ~= "lua_layer" then
        local e = v[name]
        assert.are.equal("invalid_argument", e.type, name .. ": " .. tostring(e.message))
        local field = name == "messages" and "prompt or messages" or name == "inherited_bad" and "temperature" or name
        assert.matches(field, e.message, 1, true)
      end
    end
    assert.are.equal(30, (function() local n = 0 for _ in pairs(v) do n = n + 1 end return n end)())
    assert.are.same({ ok = true, model = "claude-sonnet-4-5" }, v.inherited)
  end)
end)

