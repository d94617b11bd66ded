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
    }
    for name, want in pairs(fields) do
      local e = v.r[name]
      assert.are.equal("invalid_argument", e.type, name .. ": " .. tostring(e.message))
      assert.matches(want, e.message, 1, true)
    end
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
      -- Other keys are no options: ignored, as is a name followed by a NUL byte.
      r.others = try({ prompt = "x", max_tokens = 5, colour = "blue", [1] = "y", [true] = 1,
                       ["model\0x"] = 42, ["max_tokens\0"] = 0, modelx = 42, mode = 42 })
      return r
    ]]
    for name in pairs(v) do
      if name ~= "inherited" and name ~= "others" then
        local e = v[name]
        assert.are.equal("invalid_argument", e.type, name .. ": " .. tostring(e.message))
        local field = name == "messages" and "prompt or messages" or name == "inherited_bad" and "temperature" or name
        assert.matches(field, e.message, 1, true)
      end
    end
    assert.are.equal(29, (function() local n = 0 for _ in pairs(v) do n = n + 1 end return n end)())
    assert.are.same({ ok = true, model = "claude-sonnet-4-5" }, v.inherited)
    assert.is_true(v.others.ok)
  end)
end)

