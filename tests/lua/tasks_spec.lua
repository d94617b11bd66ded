-- Tasks on the engine's single-threaded loop: nyx.spawn / wait / cancel / status, nyx.gather,
-- nyx.sleep, nyx.event, calls that really overlap, and statistics that add up. Each case
-- runs from stock Lua (against the in-process simulator and `nyx sim` over HTTP) and as a
-- `nyx run` script, whose main chunk is itself a task.
local H = require "helpers.nyx_case"

local close = H.close

H.describe_setups("tasks", function(setup)
  it("spawn passes arguments and wait returns every result", function()
    local v = setup:run [[
      local t = nyx.spawn(function(a, b)
        nyx.sleep(0.01)
        return a + b, nil, "x"
      end, 2, 3)
      local before = t:status()
      local results = table.pack(t:wait())
      local again = table.pack(t:wait())
      return { results = results, again = again, before = before, after = t:status() }
    ]]
    assert.are.same({ n = 3, 5, nil, "x" }, v.results)
    assert.are.same(v.results, v.again, "a finished task answers wait again")
    assert.are.equal("waiting", v.before)
    assert.are.equal("done", v.after)
  end)

  it("a second wave of calls finds the first wave's connections open, however many ran at once", function()
    -- More calls at once than curl's connection cache held before it grew with them (256):
    -- those past it were closed as they finished and opened again by the next wave.
    local v = setup:run [[
      local function wave(n)
        local tasks = {}
        for i = 1, n do tasks[i] = nyx.spawn(nyx.call, { prompt = "wave call " .. i, max_tokens = 8 }) end
        for _, t in ipairs(tasks) do t:wait() end
        return nyx.stats().connections_opened
      end
      local first = wave(300)
      return { first = first, second = wave(300) }
    ]]
    assert.is_true(v.first > 256 and v.first <= 300, "the first wave opened " .. v.first)
    assert.are.equal(v.first, v.second, "connections opened by the second wave")
  end)

  it("wait re-raises the task's error, tables intact", function()
    local v = setup:run [[
      local t1 = nyx.spawn(function()
        nyx.sleep(0.005)
        error({ type = "custom", detail = 42 })
      end)
      local t2 = nyx.spawn(function() error("plain failure") end)
      local ok1, e1 = pcall(t1.wait, t1)
      local ok2, e2 = pcall(t2.wait, t2)
      return { ok1 = ok1, e1 = e1, ok2 = ok2, e2 = e2, s1 = t1:status(), s2 = t2:status() }
    ]]
    assert.is_false(v.ok1)
    assert.are.same({ type = "custom", detail = 42 }, v.e1)
    assert.is_false(v.ok2)
    assert.matches("plain failure", v.e2)
    assert.are.equal("failed", v.s1)
    assert.are.equal("failed", v.s2)
  end)

  it("a task's error whose __tostring raises fails only that task (it aborted the process)", function()
    local v = setup:run [[
      local bad = setmetatable({ marker = 7 }, { __tostring = function() error("no text for you") end })
      local t = nyx.spawn(function() nyx.sleep(0.005); error(bad) end)
      local ok, e = pcall(t.wait, t)
      return { ok = ok, same = e == bad, s = t:status() }
    ]]
    assert.is_false(v.ok)
    assert.is_true(v.same, "wait re-raises the value the task raised")
    assert.are.equal("failed", v.s)
  end)

  it("coroutine.yield from a task raises invalid_state where pcall catches it; a script's own coroutines yield", function()
    local v = setup:run [[
      local t = nyx.spawn(function()
        local ok, err = pcall(coroutine.yield, 1)
        local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
        return { ok = ok, type = err.type, message = err.message, seq = { gen(), gen(), gen() }, after = "went on" }
      end)
      return t:wait()
    ]]
    assert.is_false(v.ok)
    assert.are.equal("invalid_state", v.type)
    assert.matches("use nyx.sleep or nyx.event", v.message, 1, true)
    assert.are.same({ 1, 2, 3 }, v.seq)
    assert.are.equal("went on", v.after)
  end)

  -- Each task starts inside its spawner's run, a lua_resume on the C stack: Lua's limit (~200)
  -- ended a tree of tasks 200 deep with a plain "C stack overflow".
  it("a task tree 1,000 deep runs, each spawned by the one above and waited for", function()
    local v = setup:run [[
      local order = {}
      local function deep(n)
        if n == 0 then return 0 end
        order[#order + 1] = n
        local below = nyx.spawn(deep, n - 1):wait()
        return below + 1
      end
      local ok, depth = pcall(deep, 1000)
      return { ok = ok, depth = tostring(depth), first = order[1], last = order[#order], n = #order }
    ]]
    assert.are.same({ ok = true, depth = "1000", first = 1000, last = 1, n = 1000 }, v)
  end)

  it("gather returns results in argument order, whatever order they finish in", function()
    local v = setup:run [[
      local finished = {}
      local function after(s, value)
        return function()
          nyx.sleep(s * slow)
          finished[#finished + 1] = value
          return value
        end
      end
      local a, b, c = nyx.gather(after(0.03, "a"), after(0.02, "b"), after(0.01, "c"))
      return { got = { a, b, c }, finished = finished }
    ]]
    assert.are.same({ "a", "b", "c" }, v.got)
    assert.are.same({ "c", "b", "a" }, v.finished)
  end)

  it("gather raises the first failure by argument order, after all have finished", function()
    local v = setup:run [[
      local done = {}
      local ok, err = pcall(nyx.gather,
        function() nyx.sleep(0.01); done[1] = true; return 1 end,
        function() nyx.sleep(0.02); error({ type = "second" }) end,
        function() error({ type = "third" }) end,   -- fails first in time
        function() nyx.sleep(0.03); done[4] = true end)
      local bad_ok, bad = pcall(nyx.gather, function() end, "not a function")
      return { ok = ok, err = err, done = done, bad = bad }
    ]]
    assert.is_false(v.ok)
    assert.are.equal("second", v.err.type)
    assert.is_true(v.done[1])
    assert.is_true(v.done[4], "gather waited for the slowest task")
    H.assert_error(v.bad, "invalid_argument", "bad argument #2 to 'gather'")
  end)

  it("sleeping tasks wake in the order of their deadlines", function()
    local v = setup:run [[
      local order = {}
      local tasks = {}
      for _, s in ipairs({ 0.03, 0.01, 0.02, 0 }) do
        tasks[#tasks + 1] = nyx.spawn(function() nyx.sleep(s * slow); order[#order + 1] = s end)
      end
      for _, t in ipairs(tasks) do t:wait() end
      local ok, err = pcall(nyx.sleep, -1)
      return { order = order, err = err }
    ]]
    assert.are.same({ 0, 0.01, 0.02, 0.03 }, v.order)
    assert.are.equal("invalid_argument", v.err.type)
  end)

  it("an event holds its waiters until it is set", function()
    local v = setup:run [[
      local ev = nyx.event()
      local log = {}
      local waiters = {}
      for i = 1, 3 do
        waiters[i] = nyx.spawn(function() ev:wait(); log[#log + 1] = "woke " .. i end)
      end
      nyx.sleep(0.02)
      local before = { set = ev:is_set(), woken = #log, status = waiters[1]:status() }
      log[#log + 1] = "set"
      ev:set()
      for _, t in ipairs(waiters) do t:wait() end
      ev:wait() -- already set: returns at once
      return { before = before, log = log, set = ev:is_set() }
    ]]
    assert.are.same({ set = false, woken = 0, status = "waiting" }, v.before)
    assert.are.equal("set", v.log[1])
    assert.are.equal(4, #v.log)
    assert.is_true(v.set)
  end)

  it("an event's wait with a timeout returns false once it passes, true when set first", function()
    local v = setup:run [[
      local ev = nyx.event()
      local t0 = nyx.now()
      local first = ev:wait(0.05) -- nobody sets it: without the timeout, this waited for ever
      local waited = nyx.now() - t0
      local short = nyx.spawn(function() return ev:wait(0.01) end)
      local long = nyx.spawn(function() return ev:wait(30) end)
      nyx.sleep(0.05)
      local t1 = nyx.now()
      ev:set()
      local r = { first = first, waited = waited, short = short:wait(), long = long:wait(),
                  woke = nyx.now() - t1, set = ev:wait(0) }
      local ok, e = pcall(ev.wait, ev, -1)
      r.negative = { ok = ok, type = e.type, message = e.message }
      return r
    ]]
    assert.is_false(v.first)
    assert.is_true(v.waited >= 0.045 and v.waited < 1 * H.slow, tostring(v.waited))
    assert.is_false(v.short)
    assert.is_true(v.long)
    assert.is_true(v.woke < 1 * H.slow, "the long wait ended when the event was set")
    assert.is_true(v.set)
    assert.are.equal("invalid_argument", v.negative.type)
    assert.matches("timeout must be a number of seconds >= 0", v.negative.message, 1, true)
  end)

  it("cancel stops a sleeping task, a task may cancel itself, a finished task stays done", function()
    local v = setup:run [[
      local sleeper = nyx.spawn(function() nyx.sleep(30); return "overslept" end)
      nyx.sleep(0.01)
      sleeper:cancel()
      local ok, err = pcall(sleeper.wait, sleeper)
      local me
      me = nyx.spawn(function() nyx.sleep(0); me:cancel(); return "not reached" end)
      local self_ok, self_err = pcall(me.wait, me)
      local done = nyx.spawn(function() return 1 end)
      done:cancel()
      return { ok = ok, err = err, self_ok = self_ok, self_err = self_err,
               done = table.pack(done:wait()), status = done:status() }
    ]]
    assert.is_false(v.ok)
    assert.are.equal("cancelled", v.err.type)
    assert.is_false(v.self_ok)
    assert.are.equal("cancelled", v.self_err.type)
    assert.are.same({ n = 1, 1 }, v.done)
    assert.are.equal("done", v.status)
  end)

  it("waiting on what can never happen fails instead of hanging", function()
    local code = [[
      local ev = nyx.event()
      local ok, err = pcall(ev.wait, ev)
      return { ok = ok, err = err }
    ]]
    if setup.host == "nyx run" then
      -- The main chunk is a task: the engine finds it stuck and the run fails.
      local res = setup:exec(code)
      assert.is_false(res.exited)
      assert.matches("wait on something that can never happen", res.stderr)
    else
      local v = setup:run(code)
      assert.is_false(v.ok)
      assert.matches("can never happen", tostring(v.err.tostring or v.err))
    end
  end)

  it("cancelling a task that waits on a call cancels the call", function()
    local v = setup:run [[
      sim.faults{ { fault = "hang", hang_ms = 30000 } }
      local t = nyx.spawn(function()
        return nyx.call{ prompt = "Hello", max_tokens = 20 }
      end)
      nyx.sleep(0.05 * slow)
      local status = t:status()
      t:cancel()
      local ok, err = pcall(t.wait, t)
      -- The server sees the connection go: the hung request ends without a response.
      local entry
      for _ = 1, 500 do
        for _, q in ipairs(sim.requests()) do
          if q.fault == "hang" then entry = q end
        end
        if entry then break end
        nyx.sleep(0.02)
      end
      return { status = status, ok = ok, err = err, after = t:status(), entry = entry,
               stats = nyx.stats() }
    ]]
    assert.are.equal("waiting", v.status)
    assert.is_false(v.ok)
    assert.are.equal("cancelled", v.err.type)
    assert.are.equal("failed", v.after)
    assert.is_table(v.entry, "the server saw the request end")
    assert.are.equal(0, v.entry.status, "no response was sent: the client went away")
    assert.are.equal(1, v.stats.calls)
    assert.are.equal(1, v.stats.cancelled)
    assert.are.equal(0, v.stats.ok)
  end)

  it("20 calls spawned at once are all in flight together", function()
    local v = setup:run([[
      local ctx = context("overlap")
      local tasks, spans = {}, {}
      for i = 1, 20 do
        tasks[i] = nyx.spawn(function()
          local t0 = nyx.now()
          local r = nyx.call{ system = ctx, prompt = "Question " .. i, max_tokens = 20 }
          spans[i] = { t0, nyx.now() }
          return r
        end)
      end
      local results = {}
      for i, t in ipairs(tasks) do results[i] = t:wait() end
      return { results = results, spans = spans, log = sim.requests() }
    ]], { ttft_ms = 200 * H.slow })
    assert.are.equal(20, #v.log)
    -- A cache entry becomes readable once the response that wrote it has begun (200 ms
    -- here, 2 s under valgrind): had any request been sent after another's response began,
    -- it would have read the shared prefix. All 20 wrote it, so all 20 were sent before the
    -- first answer came.
    for i, q in ipairs(v.log) do
      assert.are.equal(200, q.status)
      assert.are.equal(0, q.cache_read, "request " .. i .. " read a prefix: the calls ran one after another")
      assert.is_true(q.cache_write > 0, "request " .. i)
    end
    local last_start, first_end = -math.huge, math.huge
    for _, s in ipairs(v.spans) do
      last_start = math.max(last_start, s[1])
      first_end = math.min(first_end, s[2])
    end
    assert.is_true(last_start < first_end, "every call started before any call finished")
    for _, r in ipairs(v.results) do assert.is_false(r.cache_hit) end
  end)

  it("session and engine statistics are the sums of the calls' usage", function()
    local v = setup:run [[
      local ctx = context("tally")
      local s = nyx.session{ name = "tally", budget_usd = 5 }
      local calls = {}
      calls[1] = nyx.call{ system = ctx, prompt = "one", max_tokens = 20, session = s, agent = "analyst" }
      calls[2] = nyx.call{ system = ctx, prompt = "two", max_tokens = 20, session = "tally" }
      calls[3] = nyx.call{ prompt = "three", max_tokens = 20, agent = "analyst" }
      calls[4] = nyx.call{ model = "claude-sonnet-4-5", prompt = "four", max_tokens = 20 }
      sim.faults{ { fault = "bad_request" } }
      local ok = pcall(nyx.call, { prompt = "five", max_tokens = 20, session = s })
      local scoped
      do
        local t <close> = nyx.session{ name = "scoped" }
        scoped = t
        nyx.call{ prompt = "six", max_tokens = 20, session = t }
      end
      calls[5] = nil
      return { calls = calls, failed_ok = ok, session = s:stats(), name = s.name,
               budget = s.budget_usd, engine = nyx.stats(), scoped = scoped:stats(),
               scoped_closed = scoped.closed, open = s.closed }
    ]]
    local calls = v.calls
    local function sums(list)
      local t = { input = 0, output = 0, read = 0, write = 0, cost = 0, without = 0, saved = 0, hits = 0 }
      for _, r in ipairs(list) do
        local u = r.usage
        t.input = t.input + u.input_tokens
        t.output = t.output + u.output_tokens
        t.read = t.read + u.cache_read_input_tokens
        t.write = t.write + u.cache_creation_input_tokens
        t.cost = t.cost + u.cost_usd
        t.without = t.without + u.cost_without_cache_usd
        t.saved = t.saved + u.saved_usd
        t.hits = t.hits + (r.cache_hit and 1 or 0)
      end
      return t
    end
    local function check(stats, list, n_calls, n_errors)
      local t = sums(list)
      assert.are.equal(n_calls, stats.calls)
      assert.are.equal(#list, stats.ok)
      assert.are.equal(n_errors, stats.errors)
      assert.are.equal(t.input, stats.input_tokens)
      assert.are.equal(t.output, stats.output_tokens)
      assert.are.equal(t.read, stats.cache_read_tokens)
      assert.are.equal(t.write, stats.cache_write_tokens)
      assert.is_true(close(t.cost, stats.cost_usd))
      assert.is_true(close(t.without, stats.cost_without_cache_usd))
      assert.is_true(close(t.saved, stats.saved_usd))
      assert.is_true(close(t.saved, stats.cost_saved_by_caching))
      assert.are.equal(t.hits, stats.calls_with_cache_read)
      assert.is_true(close(t.hits / #list, stats.cache_hit_rate))
    end
    assert.is_false(v.failed_ok)
    assert.is_true(calls[2].cache_hit, "precondition: the session holds a cache hit")
    check(v.session, { calls[1], calls[2] }, 3, 1)
    assert.are.equal("tally", v.name)
    assert.are.equal("tally", v.session.session)
    assert.are.equal(5, v.budget)
    assert.is_false(v.open)
    assert.is_true(v.scoped_closed, "a <close> session ends with its scope")
    assert.are.equal(1, v.scoped.calls)
    -- Engine-wide: every call, including the failed one and the scoped session's.
    local all = { calls[1], calls[2], calls[3], calls[4] }
    local e = v.engine
    assert.are.equal(6, e.calls)
    assert.are.equal(1, e.errors)
    assert.are.equal(sums(all).input + v.scoped.input_tokens, e.input_tokens)
    assert.is_true(close(sums(all).cost + v.scoped.cost_usd, e.cost_usd))
    assert.are.equal(1, e.calls_with_cache_read)
    check(e.by_agent.analyst, { calls[1], calls[3] }, 2, 0)
    check(e.by_model["claude-sonnet-4-5"], { calls[4] }, 1, 0)
  end)
end, { hosts = { "lua", "nyx run" } })
