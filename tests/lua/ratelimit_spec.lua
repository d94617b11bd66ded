-- Rate limits as the API counts them, and attempts as the server sees them: a council under
-- tier-1 limits is not throttled by cache reads, a workload over the input limit is paced
-- without a 429, a call's timeout bounds its waiting on limits and retry-after, and every
-- request on the wire (libcurl's own re-sends included) is an attempt. The simulator
-- advertises the limits in its anthropic-ratelimit-* headers and enforces them; its request
-- log is the witness. Each case runs against the in-process simulator and `nyx sim` over HTTP.
local H = require "helpers.nyx_case"
local json = require "dkjson"
local W = require "helpers.wire"
local statuses, count, sql = W.statuses, W.count, W.sql

local SONNET, HAIKU = "claude-sonnet-4-6", "claude-haiku-4-5"

local LIB = W.SENT

H.describe_setups("rate limits", function(setup)
  local function run(code, opts) return setup:run(LIB .. code, opts) end

  it("a council of 8 over a 9k-token context under tier-1 limits goes out at once, not paced by cache reads", function()
    -- 50 RPM, 30,000 ITPM, 8,000 OTPM, learnt from the first answer's headers. Charging each
    -- persona its whole context (9k) lets 2 of the 7 followers go and paces the rest ~18 s
    -- apart; reads do not count, so all 7 go as soon as the warm-up's response begins.
    if H.valgrind then pending("under valgrind: the followers take longer to start than the bound allows") end
    local v = run([[
      sim.config{ rpm = 50, itpm = 30000, otpm = 8000 }
      local t0 = nyx.now()
      nyx.call{ model = "]] .. SONNET .. [[", prompt = "Hello", max_tokens = 200 }
      local one_call = nyx.now() - t0
      local personas = {}
      for i = 1, 8 do personas[i] = { name = "p" .. i, instruction = "You are advisor " .. i .. "." } end
      t0 = nyx.now()
      local r = nyx.council{ model = "]] .. SONNET .. [[", context = context("tier1", 560),
                             personas = personas, question = "What should we do?", max_tokens = 200 }
      return { wall = nyx.now() - t0, one_call = one_call, totals = r.totals, log = sent() }
    ]], { ttft_ms = 300, token_ms = 1 })
    assert.are.equal(0, v.totals.errors)
    assert.are.equal(7, v.totals.cache_hits, "every follower read the warm-up's prefix")
    assert.is_true(v.totals.cache_creation_input_tokens > 8000, "the context is ~9k tokens")
    assert.are.equal(9, #v.log)
    assert.are.equal(9, count(statuses(v.log), 200), "no 429: the server's limits held")
    -- log[1] is the first call, log[2] the warm-up, log[3..9] the followers
    local spread = v.log[9].t - v.log[3].t
    assert.is_true(spread < 1.0, ("the followers reached the server over %.1f s: paced"):format(spread))
    assert.is_true(v.wall < 4 * v.one_call + 2,
      ("the council took %.1f s, one call %.1f s"):format(v.wall, v.one_call))
  end)

  it("calls that read a system prompt the engine's own marks wrote are charged only what they add", function()
    -- The same under automatic marks: once one call has written the 9k-token system prompt,
    -- seven more with other questions all go at once under 30,000 ITPM.
    if H.valgrind then pending("under valgrind: the calls take longer to start than the bound allows") end
    local v = run([[
      sim.config{ rpm = 50, itpm = 30000, otpm = 8000 }
      nyx.call{ model = "]] .. SONNET .. [[", prompt = "Hello", max_tokens = 20 }
      local system = context("auto", 560)
      local first = nyx.call{ model = "]] .. SONNET .. [[", system = system, prompt = "Question 0?", max_tokens = 20 }
      local tasks = {}
      for i = 1, 7 do
        tasks[i] = nyx.spawn(function()
          return nyx.call{ model = "]] .. SONNET .. [[", system = system, prompt = "Question " .. i .. "?", max_tokens = 20 }
        end)
      end
      local reads = 0
      for _, t in ipairs(tasks) do reads = reads + t:wait().usage.cache_read_input_tokens end
      return { written = first.usage.cache_creation_input_tokens, reads = reads, log = sent() }
    ]], { ttft_ms = 300, token_ms = 1 })
    assert.is_true(v.written > 8000, "the first call wrote the system prompt")
    assert.is_true(v.reads >= 7 * 8000, "the others read it")
    assert.are.equal(9, #v.log)
    assert.are.equal(9, count(statuses(v.log), 200), "no 429")
    local spread = v.log[9].t - v.log[3].t
    assert.is_true(spread < 1.0, ("the seven reached the server over %.1f s: paced"):format(spread))
  end)

  it("a workload over the uncached input limit is paced, and draws no 429", function()
    -- Each call is ~430 uncached tokens under an 18,000 ITPM limit (300 per second): about 40
    -- fit in the bucket, the rest wait for it to refill.
    if H.valgrind then pending("under valgrind: 44 calls take longer to send than the bucket takes to refill") end
    local v = run([[
      sim.config{ itpm = 18000 }
      nyx.call{ model = "]] .. HAIKU .. [[", system = context("learn", 19), prompt = "Hi", max_tokens = 5, cache = false }
      local tasks = {}
      for i = 1, 44 do
        tasks[i] = nyx.spawn(function()
          return nyx.call{ model = "]] .. HAIKU .. [[", system = context("pace" .. i, 19),
                           prompt = "Hi", max_tokens = 5, cache = false }
        end)
      end
      local attempts = 0
      for _, t in ipairs(tasks) do attempts = attempts + t:wait().attempts end
      return { attempts = attempts, log = sent() }
    ]])
    assert.are.equal(44, v.attempts, "no call was retried")
    assert.are.equal(45, #v.log)
    assert.are.equal(45, count(statuses(v.log), 200), "no 429")
    local gap = v.log[45].t - v.log[2].t
    assert.is_true(gap >= 1.0, ("all 44 reached the server within %.2f s: not paced"):format(gap))
  end)

  describe("the timeout bounds waiting", function()
    it("a retry-after beyond the timeout fails at once with the 429, and holds that model's queue", function()
      local v = run([[
        sim.faults{ { fault = "rate_limit", retry_after = 3600, model = "]] .. HAIKU .. [[", count = 1 } }
        local t0 = nyx.now()
        local ok, first = pcall(nyx.call, { model = "]] .. HAIKU .. [[", prompt = "one", max_tokens = 20, timeout = 2 })
        local ok2, queued = pcall(nyx.call, { model = "]] .. HAIKU .. [[", prompt = "two", max_tokens = 20, timeout = 2 })
        local other = nyx.call{ model = "]] .. SONNET .. [[", prompt = "three", max_tokens = 20, timeout = 2 }
        return { ok = ok, first = first, ok2 = ok2, queued = queued, other = other.model,
                 elapsed = nyx.now() - t0, log = sent() }
      ]])
      assert.is_false(v.ok)
      assert.are.same({ "rate_limit_error", 429, 3600, 1 },
                      { v.first.type, v.first.status, v.first.retry_after, v.first.attempts })
      assert.is_false(v.ok2)
      assert.are.same({ "rate_limit_error", 0 }, { v.queued.type, v.queued.attempts })
      assert.is_true(v.queued.retry_after > 3500, "the wait it would have had: " .. tostring(v.queued.retry_after))
      assert.matches("within its timeout", v.queued.message)
      assert.are.equal(SONNET, v.other)
      assert.are.same({ 429, 200 }, statuses(v.log), "the queued call sent nothing")
      assert.is_true(v.elapsed < 2, ("the calls waited %.1f s"):format(v.elapsed))
    end)

    it("a client limit that cannot admit a call before its timeout fails it at once; calls whose timeout allows wait", function()
      -- 60 rpm: a full bucket of 60, then one request per second.
      if H.valgrind then pending("under valgrind: 60 calls take longer to send than a token takes to refill") end
      local v = run([[
        nyx.rate_limit("]] .. HAIKU .. [[", { rpm = 60 })
        local tasks = {}
        for i = 1, 60 do
          tasks[i] = nyx.spawn(function() return nyx.call{ model = "]] .. HAIKU .. [[", prompt = "fill " .. i, max_tokens = 5 } end)
        end
        local short = nyx.spawn(function()
          return pcall(nyx.call, { model = "]] .. HAIKU .. [[", prompt = "short", max_tokens = 5, timeout = 0.3 })
        end)
        local long = nyx.spawn(function()
          return pcall(nyx.call, { model = "]] .. HAIKU .. [[", prompt = "long", max_tokens = 5, timeout = 30 })
        end)
        for _, t in ipairs(tasks) do t:wait() end
        local ok_s, short_r = short:wait()
        local ok_l, long_r = long:wait()
        return { ok_s = ok_s, short = short_r, ok_l = ok_l, long = long_r, log = sent() }
      ]])
      assert.is_false(v.ok_s)
      assert.are.same({ "rate_limit_error", 0, true }, { v.short.type, v.short.attempts, v.short.retryable })
      assert.is_true(v.ok_l, "the call whose timeout allows the wait waited and went")
      assert.are.equal(1, v.long.attempts)
      assert.are.equal(61, #v.log)
    end)
  end)

  it("every request on the wire is an attempt: a storm with connection resets at 50 in flight", function()
    -- 300 calls, 50 at a time, 20 % of requests failing with 429, 500, 529 or a reset. A
    -- reset on a reused connection makes libcurl send the request again on its own; that
    -- request reached the server too and is counted.
    if H.valgrind then pending("under valgrind: 300 calls take too long") end
    setup:start()
    local db, debug_file = setup.dir .. "/storm.db", setup.dir .. "/storm.debug"
    os.remove(db)
    os.remove(debug_file)
    local v = run([[
      sim.faults{ { fault = "rate_limit", probability = 0.05 }, { fault = "server_error", probability = 0.05 },
                  { fault = "overloaded", probability = 0.05 }, { fault = "reset", probability = 0.05 } }
      local next_i, results = 0, {}
      local function worker()
        while next_i < 300 do
          next_i = next_i + 1
          local i = next_i
          local ok, r = pcall(nyx.call, { model = "]] .. HAIKU .. [[", prompt = "storm " .. i, max_tokens = 5 })
          results[i] = { ok = ok, attempts = r.attempts, type = not ok and r.type or nil }
        end
      end
      local workers = {}
      for w = 1, 50 do workers[w] = nyx.spawn(worker) end
      for _, w in ipairs(workers) do w:wait() end
      local attempts = 0
      for i = 1, 300 do attempts = attempts + results[i].attempts end
      local log = sent()
      local resets, whole = 0, 0
      for _, q in ipairs(log) do
        if q.fault == "reset" then resets = resets + 1 end
        if q.model == "]] .. HAIKU .. [[" and q.status ~= 400 then whole = whole + 1 end
      end
      return { attempts = attempts, requests = #log, resets = resets, whole = whole, n = #results }
    ]], { env = { NYX_DB = db, LLM_ENABLE_CIRCUIT_BREAKER = "false", NYX_DEBUG = "1",
                  NYX_DEBUG_FILE = debug_file } })
    assert.are.equal(300, v.n)
    assert.is_true(v.resets > 0, "the storm had resets")
    assert.are.equal(v.requests, v.attempts, "attempts reported = requests the server saw")
    -- A request sent again after a reset is made from the call's body anew: each arrived whole.
    assert.are.equal(v.requests, v.whole, "every request the server saw was the call's body")
    local rows = sql(db, "SELECT SUM(attempts) AS n, COUNT(*) AS calls FROM llm_interactions")
    assert.are.same({ n = v.requests, calls = 300 }, rows[1], "attempts stored")
    local logged = 0
    for _, row in ipairs(sql(db, "SELECT attempts_json FROM llm_interactions")) do
      logged = logged + #json.decode(row.attempts_json)
    end
    assert.are.equal(v.requests, logged, "every attempt's outcome is kept")
    local shown = 0
    for line in io.lines(debug_file) do
      if line:match("^nyx debug: >>> request ") then shown = shown + 1 end
    end
    assert.are.equal(v.requests, shown, "the debug view shows every request")
  end)
end)
