-- Every error class nyx.call can raise: the API's own error types with their status, whether
-- they are retried (the simulator's request log shows how many requests reached it), the
-- request id, and the engine's transport errors. A simulator fault and the expected outcome,
-- as data; each case runs against the in-process simulator and `nyx sim` over HTTP.
local H = require "helpers.nyx_case"

-- Runs one call (after scripting faults) and returns what came back: {ok, r | err, log}.
local function attempt(setup, faults, call, opts)
  return setup:run(([[
    sim.faults(%s)
    local deltas = {}
    local spec = %s
    if spec.stream then spec.stream = function(t) deltas[#deltas + 1] = t end end
    local t0 = nyx.now()
    local ok, r = pcall(nyx.call, spec)
    return { ok = ok, r = ok and r or nil, err = not ok and r or nil, log = sim.requests(),
             deltas = deltas, wall_ms = (nyx.now() - t0) * 1000 }
  ]]):format(faults, call or [[{ prompt = "Hello there, a long answer please", max_tokens = 80 }]]), opts)
end

local STREAM = [[{ prompt = "Hello there, a long answer please", max_tokens = 80, stream = true }]]

-- The raised value is an error table with the fields every error carries.
local function check_error(err, type_, status, retryable)
  assert.is_table(err, "an error table was raised")
  assert.are.equal(type_, err.type)
  assert.are.equal(status, err.status)
  assert.are.equal(retryable, err.retryable)
  assert.is_string(err.message)
  assert.is_true(#err.message > 0)
  assert.matches("^ix_", err.interaction_id)
  assert.are.equal((err.where or "") .. type_ .. ": " .. err.message, err.tostring,
                   "tostring(err) names where, type and message")
end

local statuses = require("helpers.wire").statuses

H.describe_setups("nyx.call errors", function(setup)
  describe("client errors are raised at once, never retried", function()
    local cases = {
      { "400 invalid_request_error", [[{{fault = "bad_request"}}]], nil, "invalid_request_error", 400 },
      { "401 authentication_error", [[{{fault = "unauthorized"}}]], nil, "authentication_error", 401 },
      { "402 billing_error", [[{{fault = "billing"}}]], nil, "billing_error", 402 },
      { "403 permission_error", [[{{fault = "forbidden"}}]], nil, "permission_error", 403 },
      { "404 not_found_error", [[{{fault = "not_found"}}]], nil, "not_found_error", 404 },
      { "404 not_found_error for an unknown model", [[{}]],
        [[{ model = "claude-no-such-model", prompt = "Hello", max_tokens = 20 }]], "not_found_error", 404 },
      { "413 request_too_large", [[{{fault = "too_large"}}]], nil, "request_too_large", 413 },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local v = attempt(setup, c[2], c[3])
        assert.is_false(v.ok)
        check_error(v.err, c[4], c[5], false)
        assert.are.equal(1, v.err.attempts)
        assert.are.same({ c[5] }, statuses(v.log))
        assert.are.equal("req_sim_" .. v.log[1].n, v.err.request_id)
      end)
    end

    it("413 request_too_large when the body exceeds the server's limit", function()
      local v = setup:run [[
        sim.config{ max_body = 2000 }
        local ok, err = pcall(nyx.call, { prompt = string.rep("lorem ipsum ", 400), max_tokens = 20 })
        local log = sim.requests()
        sim.config{ max_body = 0 }
        return { ok = ok, err = err, log = log }
      ]]
      assert.is_false(v.ok)
      check_error(v.err, "request_too_large", 413, false)
      assert.are.equal(1, #v.log)
    end)

    it("429 for a reached spend limit is not retried", function()
      local v = attempt(setup, [[{{fault = "spend_limit", count = 3}}]])
      assert.is_false(v.ok)
      check_error(v.err, "rate_limit_error", 429, false)
      assert.matches("spend limit", v.err.message)
      assert.are.same({ 429 }, statuses(v.log))
      assert.are.equal("req_sim_" .. v.log[1].n, v.err.request_id)
    end)
  end)

  describe("transient errors are retried", function()
    it("429 rate_limit_error honours retry-after, then succeeds", function()
      -- Backoff is 0.01-0.05 s in tests; only retry-after can make the retry wait 0.3 s.
      local v = attempt(setup, [[{{fault = "rate_limit", retry_after = 0.3}}]])
      assert.is_true(v.ok)
      assert.are.equal(2, v.r.attempts)
      assert.are.same({ 429, 200 }, statuses(v.log))
      assert.is_true(v.r.latency_ms >= 300, "waited the retry-after: " .. v.r.latency_ms)
    end)

    it("429 rate_limit_error raised after the retries carries retry_after", function()
      local v = attempt(setup, [[{{fault = "rate_limit", retry_after = 0, count = 9}}]], nil,
                        { env = { LLM_MAX_RETRIES = "1" } })
      assert.is_false(v.ok)
      check_error(v.err, "rate_limit_error", 429, true)
      assert.are.equal(0, v.err.retry_after)
      assert.are.equal(2, v.err.attempts)
      assert.are.same({ 429, 429 }, statuses(v.log))
    end)

    for _, c in ipairs({ { "500 api_error", "server_error", 500 },
                         { "529 overloaded_error", "overloaded", 529 } }) do
      it(c[1] .. " twice, then succeeds on the third attempt", function()
        local v = attempt(setup, ([[{{fault = %q, count = 2}}]]):format(c[2]))
        assert.is_true(v.ok, v.err and v.err.tostring)
        assert.are.equal(3, v.r.attempts)
        assert.are.same({ c[3], c[3], 200 }, statuses(v.log))
        assert.are.equal("req_sim_" .. v.log[3].n, v.r.request_id)
      end)
    end

    it("raises after exactly 1 + LLM_MAX_RETRIES attempts", function()
      for _, retries in ipairs({ 0, 2 }) do
        local v = attempt(setup, [[{{fault = "overloaded", count = 20}}]], nil,
                          { env = { LLM_MAX_RETRIES = tostring(retries) } })
        assert.is_false(v.ok)
        check_error(v.err, "overloaded_error", 529, true)
        assert.are.equal(1 + retries, v.err.attempts)
        assert.are.equal(1 + retries, #v.log)
        assert.are.equal("req_sim_" .. v.log[#v.log].n, v.err.request_id, "the last attempt's id")
      end
    end)

    it("a connection reset is a network_error, retried", function()
      local v = attempt(setup, [[{{fault = "reset"}}]])
      assert.is_true(v.ok)
      assert.are.equal(2, v.r.attempts)
      assert.are.same({ 0, 200 }, statuses(v.log))
      local f = attempt(setup, [[{{fault = "reset", count = 5}}]], nil, { env = { LLM_MAX_RETRIES = "1" } })
      assert.is_false(f.ok)
      check_error(f.err, "network_error", nil, true)
      assert.are.equal(2, f.err.attempts)
    end)

    it("a hung server hits the call's timeout: type timeout, retried", function()
      local call = [[{ prompt = "Hello", max_tokens = 20, timeout = 0.2 }]]
      local v = attempt(setup, [[{{fault = "hang", hang_ms = 5000, count = 5}}]], call,
                        { env = { LLM_MAX_RETRIES = "0" } })
      assert.is_false(v.ok)
      check_error(v.err, "timeout", nil, true)
      assert.are.equal(1, v.err.attempts)
      -- One hung attempt, then the retry answers: that answer must come within the timeout
      -- too, which at 0.2 s a loaded machine now and then missed (a third attempt). 2 s is
      -- still well short of the 5 s hang.
      local again = attempt(setup, [[{{fault = "hang", hang_ms = 5000}}]],
                            [[{ prompt = "Hello", max_tokens = 20, timeout = 2 }]])
      assert.is_true(again.ok)
      assert.are.equal(2, again.r.attempts)
    end)

    it("CLAUDE_TIMEOUT_SECONDS bounds a call that gives no timeout", function()
      local v = attempt(setup, [[{{fault = "hang", hang_ms = 5000, count = 5}}]],
                        [[{ prompt = "Hello", max_tokens = 20 }]],
                        { env = { LLM_MAX_RETRIES = "0", CLAUDE_TIMEOUT_SECONDS = "0.2" } })
      assert.is_false(v.ok)
      check_error(v.err, "timeout", nil, true)
    end)
  end)

  describe("broken responses", function()
    it("a malformed body is an api_error", function()
      local v = attempt(setup, [[{{fault = "malformed"}}]])
      assert.is_false(v.ok)
      check_error(v.err, "api_error", nil, v.err.retryable)
      assert.matches("JSON", v.err.message)
      assert.are.equal("req_sim_" .. v.log[1].n, v.err.request_id)
      local s = attempt(setup, [[{{fault = "malformed"}}]], STREAM)
      assert.is_false(s.ok)
      assert.are.equal("api_error", s.err.type)
    end)

    it("a stream cut before any text is retried and succeeds", function()
      local v = attempt(setup, [[{{fault = "cut", after_events = 1}}]], STREAM)
      assert.is_true(v.ok, v.err and v.err.tostring)
      assert.are.equal(2, v.r.attempts)
      assert.are.same({ 200, 200 }, statuses(v.log))
      assert.are.equal(v.r.text, table.concat(v.deltas), "no text was delivered twice")
    end)

    it("a stream cut after it began is billed with its retry: usage, cost and statistics count both", function()
      local v = setup:run [[
        local spec = { prompt = "Hello there, a long answer please", max_tokens = 80, stream = function() end }
        local clean = nyx.call(spec)
        sim.faults{ { fault = "cut", after_events = 1 } }
        local cut = nyx.call(spec)
        local s = nyx.stats()
        return { clean = clean.usage, cut = cut.usage, attempts = cut.attempts, log = sim.requests(),
                 stats_cost = s.cost_usd, stats_input = s.input_tokens }
      ]]
      assert.are.equal(2, v.attempts)
      assert.are.equal("cut", v.log[2].fault)
      -- the cut attempt read message_start (its input, one output token): the API billed those
      assert.are.equal(2 * v.clean.input_tokens, v.cut.input_tokens)
      assert.are.equal(v.clean.output_tokens + 1, v.cut.output_tokens)
      assert.is_true(v.cut.cost_usd > v.clean.cost_usd, "the retried call costs more than one answer")
      assert.are.near(v.clean.cost_usd + v.cut.cost_usd, v.stats_cost, 1e-12)
      assert.are.equal(v.clean.input_tokens + v.cut.input_tokens, v.stats_input)
    end)

    it("a stream that broke twice after it began fails billed for both attempts", function()
      local v = attempt(setup, [[{{fault = "cut", after_events = 1, count = 2}}]], STREAM,
                        { env = { LLM_MAX_RETRIES = "1" } })
      assert.is_false(v.ok)
      assert.are.equal(2, v.err.attempts)
      assert.are.equal(v.log[1].input_tokens + v.log[2].input_tokens, v.err.usage.input_tokens)
      assert.are.equal(2, v.err.usage.output_tokens, "message_start's one output token, twice")
    end)

    it("a stream cut after text raises with the partial text, not retried", function()
      local v = attempt(setup, [[{{fault = "cut", after_events = 8, count = 3}}]], STREAM)
      assert.is_false(v.ok)
      check_error(v.err, "network_error", nil, true)
      assert.are.equal(1, v.err.attempts, "text already handed to the script cannot be retried")
      assert.are.equal(1, #v.log)
      assert.is_string(v.err.partial_text)
      assert.is_true(#v.err.partial_text > 0)
      assert.are.equal(table.concat(v.deltas), v.err.partial_text)
      assert.are.equal("req_sim_" .. v.log[1].n, v.err.request_id)
    end)

    it("an error event after a 200 is an overloaded_error", function()
      local v = attempt(setup, [[{{fault = "stream_error", count = 5}}]], STREAM,
                        { env = { LLM_MAX_RETRIES = "0" } })
      assert.is_false(v.ok)
      check_error(v.err, "overloaded_error", nil, true)
      assert.are.same({ 200 }, statuses(v.log))
      local again = attempt(setup, [[{{fault = "stream_error"}}]], STREAM)
      assert.is_true(again.ok, "retried: " .. tostring(again.err and again.err.tostring))
      assert.are.equal(2, again.r.attempts)
    end)
  end)

  describe("the error table", function()
    it("names the caller's file and line, and pcall returns it intact", function()
      local v = setup:run [[
        sim.faults{ { fault = "bad_request" } }
        local ok, err = pcall(function()
          return nyx.call{ prompt = "Hello", max_tokens = 20 }
        end)
        return { err = err, mt = getmetatable(err) ~= nil, str = tostring(err) }
      ]]
      assert.matches("case%d+%.lua:%d+: $", v.err.where)
      assert.is_true(v.mt)
      assert.are.equal(v.err.where .. "invalid_request_error: Invalid request", v.str)
    end)

    it("is what every function raises for an argument of the wrong type", function()
      local v = setup:run [[
        local out = {}
        for name, f in pairs({
          sleep = function() nyx.sleep("soon") end,
          spawn = function() nyx.spawn(42) end,
          call = function() nyx.call("hello") end,
          audit = function() nyx.audit() end,
          limit = function() nyx.budget.limit() end,
          on = function() nyx.on("budget_alert", "not a function") end,
          thought = function() nyx.thought("root") end,
          config = function() nyx.config.get() end,
          scan = function() nyx.guard.scan(nil) end,
          wait = function() nyx.spawn(function() end).wait("not a task") end,
        }) do
          local ok, err = pcall(f)
          out[name] = { ok = ok, type = type(err) == "table" and err.type or type(err),
                        message = type(err) == "table" and err.message or tostring(err) }
        end
        return out
      ]]
      for name, r in pairs(v) do
        assert.are.same({ false, "invalid_argument" }, { r.ok, r.type }, name .. ": " .. r.message)
        assert.matches("bad argument #%d+ to '[%w_]+' %(", r.message, name)
      end
      assert.matches("number expected, got string", v.sleep.message)
      assert.matches("string expected, got no value", v.audit.message)
    end)
  end)
end)
