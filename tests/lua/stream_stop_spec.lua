-- Stopping and cancelling from inside a stream callback (stream = fn, on_start = fn), which
-- runs while libcurl is feeding the response: a cancel there is carried out once curl has
-- returned, never on the transfer curl is using (that was a use after free). A callback stops
-- its own stream by returning false or raising: the transfer ends at once and the call is
-- logged as cancelled. Each case runs from stock Lua and as a `nyx run` script, against the
-- in-process simulator and `nyx sim` over HTTP; the ASan and valgrind builds run them too.
local H = require "helpers.nyx_case"

local sql = require("helpers.wire").sql

local function rows_by_id(db)
  local out = {}
  for _, r in ipairs(sql(db, "SELECT id, status, error_message FROM llm_interactions")) do out[r.id] = r end
  return out
end

H.describe_setups("stopping a stream from its callback", function(setup)
  -- Each case logs to a database of its own, read afterwards; by default its tokens are slow
  -- enough that a stream is still going when its first delta arrives.
  local function run(code, opts)
    local db = setup:new_db()
    opts = opts or { token_ms = 2 }
    return setup:run(code, { env = { NYX_DB = db }, token_ms = opts.token_ms }), db
  end

  for _, callback in ipairs({ "stream", "on_start" }) do
    it("t:cancel() in " .. callback .. " cancels the calling task's call: cancelled, logged cancelled", function()
      local v, db = run(([[
        local t
        t = nyx.spawn(function()
          return nyx.call{ prompt = "Write a long answer", max_tokens = 200, %s = function() t:cancel() end }
        end)
        local ok, err = pcall(t.wait, t)
        -- The engine goes on: a later call works.
        local after = nyx.call{ prompt = "Hello", max_tokens = 5 }
        return { ok = ok, err = err, after = after.text ~= nil }
      ]]):format(callback))
      assert.is_false(v.ok)
      assert.are.equal("cancelled", v.err.type)
      assert.is_true(v.after)
      assert.are.equal("cancelled", rows_by_id(db)[v.err.interaction_id].status)
    end)
  end

  it("returning false stops the stream at once: no more deltas, partial text, logged cancelled", function()
    local v, db = run([[
      local deltas, seen = 0, ""
      local ok, err = pcall(nyx.call, { prompt = "Write a long answer", max_tokens = 400,
        stream = function(text) deltas = deltas + 1; seen = seen .. text; return false end })
      local full = nyx.call{ prompt = "Write a long answer", max_tokens = 400 }
      return { ok = ok, err = err, deltas = deltas, seen = seen, full = full.text }
    ]])
    assert.is_false(v.ok)
    H.assert_error(v.err, "cancelled", "returned false")
    assert.are.equal(1, v.deltas, "the callback is not called again once it said stop")
    -- The partial text is what the callback was given, nothing read after it.
    assert.are.equal(v.seen, v.err.partial_text)
    assert.is_true(#v.seen > 0 and #v.seen < #v.full)
    local row = rows_by_id(db)[v.err.interaction_id]
    assert.are.same({ "cancelled" }, { row.status })
  end)

  it("a raising callback stops the stream; the script gets its error, the log says cancelled", function()
    local v, db = run([[
      local deltas = 0
      local ok, err = pcall(nyx.call, { prompt = "Write a long answer", max_tokens = 400,
        stream = function() deltas = deltas + 1; error("enough") end })
      return { ok = ok, err = err, deltas = deltas }
    ]])
    assert.is_false(v.ok)
    H.assert_error(v.err, "callback_error", "enough")
    assert.are.equal(1, v.deltas)
    local rows = sql(db, "SELECT status FROM llm_interactions")
    assert.are.same({ { status = "cancelled" } }, rows)
  end)

  it("a callback that raises an error table: the call's error names its type and message and carries it", function()
    local v, db = run([[
      local mine = { type = "enough_read", message = "the answer is long enough" }
      local ok, err = pcall(nyx.call, { prompt = "Write a long answer", max_tokens = 400,
        stream = function() error(mine) end })
      return { ok = ok, err = err, same = err.cause == mine }
    ]])
    assert.is_false(v.ok)
    H.assert_error(v.err, "callback_error", "a stream callback failed: enough_read: the answer is long enough", true)
    assert.is_true(v.same, "the callback's own error is the error's cause")
    local rows = sql(db, "SELECT status FROM llm_interactions")
    assert.are.same({ { status = "cancelled" } }, rows)
  end)

  it("a callback error whose __tostring raises stops its call alone (it aborted the process)", function()
    local v = run([[
      local bad = setmetatable({}, { __tostring = function() error("no text for you") end })
      local ok, err = pcall(nyx.call, { prompt = "Write a long answer", max_tokens = 400,
        stream = function() error(bad) end })
      local after = nyx.call{ prompt = "Still here?", max_tokens = 20 }
      return { ok = ok, err = { type = err.type, message = err.message }, same = err.cause == bad,
               after = after.text ~= nil }
    ]])
    assert.is_false(v.ok)
    H.assert_error(v.err, "callback_error", "cannot be turned into text", true)
    assert.is_true(v.same)
    assert.is_true(v.after)
  end)

  it("a task spawned from a callback starts once the callback returns, and may call (as the error advises)", function()
    local v = run([[
      local spawned, order = nil, {}
      local r = nyx.call{ prompt = "Write a long answer", max_tokens = 100, on_start = function()
        spawned = nyx.spawn(function(q)
          order[#order + 1] = "task"
          return nyx.call{ prompt = q, max_tokens = 20 }.text
        end, "A follow-up")
        order[#order + 1] = "callback"
      end }
      local ok, text = pcall(spawned.wait, spawned)
      return { ok = ok, text = type(text) == "string" and text or tostring(text and text.message),
               order = order, first = r.text ~= nil }
    ]])
    assert.is_true(v.ok, v.text)
    assert.matches("A follow%-up", v.text)
    assert.are.same({ "callback", "task" }, v.order)
    assert.is_true(v.first)
  end)

  it("a task spawned from a callback and cancelled there never runs: its wait raises cancelled", function()
    local v = run([[
      local t, ran = nil, false
      nyx.call{ prompt = "Write a long answer", max_tokens = 100, on_start = function()
        t = nyx.spawn(function() ran = true end)
        t:cancel()
      end }
      local ok, err = pcall(t.wait, t)
      return { ok = ok, err = err, ran = ran, status = t:status() }
    ]])
    assert.is_false(v.ok)
    H.assert_error(v.err, "cancelled", "before it started")
    assert.is_false(v.ran)
    assert.are.equal("failed", v.status)
  end)

  it("cancelling another task from a stream callback cancels only that task's call", function()
    local v, db = run([[
      -- The victim's request hangs at the server, so it is surely in flight when the
      -- killer's first delta arrives (however slow the machine).
      sim.faults{ { fault = "hang", hang_ms = 20000, model = "claude-opus-4-8", count = 1 } }
      local victim = nyx.spawn(function()
        return nyx.call{ prompt = "A long one", max_tokens = 400, model = "claude-opus-4-8" }
      end)
      local bystander = nyx.spawn(function() return nyx.call{ prompt = "Another long one", max_tokens = 400 } end)
      local killer = nyx.spawn(function()
        return nyx.call{ prompt = "Short", max_tokens = 30, stream = function() victim:cancel() end }
      end)
      local r = {}
      for name, t in pairs({ victim = victim, bystander = bystander, killer = killer }) do
        local ok, res = pcall(t.wait, t)
        r[name] = { ok = ok, type = not ok and res.type or nil, id = res.interaction_id }
      end
      return r
    ]])
    assert.are.same({ false, "cancelled" }, { v.victim.ok, v.victim.type })
    assert.is_true(v.bystander.ok)
    assert.is_true(v.killer.ok)
    local rows = rows_by_id(db)
    assert.are.equal("cancelled", rows[v.victim.id].status)
    assert.are.equal("ok", rows[v.bystander.id].status)
    assert.are.equal("ok", rows[v.killer.id].status)
  end)

  it("nyx.cancel_all() and nyx.stop() from a stream callback cancel every call in flight", function()
    local v, db = run([[
      -- The other call's request hangs at the server: it is in flight when the stream stops.
      local function two(stop)
        sim.faults{ { fault = "hang", hang_ms = 20000, model = "claude-opus-4-8", count = 1 } }
        local other = nyx.spawn(function()
          return nyx.call{ prompt = "A long one", max_tokens = 400, model = "claude-opus-4-8" }
        end)
        local ok, err = pcall(nyx.call, { prompt = "Write", max_tokens = 200, stream = stop })
        local ok2, err2 = pcall(other.wait, other)
        return { ok = ok, type = err.type, other_ok = ok2, other_type = err2.type }
      end
      local all = two(function() nyx.cancel_all("enough") end)
      local after_cancel = nyx.call{ prompt = "Hello", max_tokens = 5 }.text ~= nil
      local stop = two(function() nyx.stop("halt") end)
      local ok, after_stop = pcall(nyx.call, { prompt = "Hello", max_tokens = 5 })
      return { all = all, after_cancel = after_cancel, stop = stop, after_stop = after_stop.type }
    ]])
    for _, c in ipairs({ v.all, v.stop }) do
      assert.are.same({ ok = false, type = "cancelled", other_ok = false, other_type = "cancelled" }, c)
    end
    assert.is_true(v.after_cancel, "cancel_all stops what runs, not what comes")
    assert.are.equal("stopped", v.after_stop)
    local counts = sql(db, "SELECT status, count(*) AS n FROM llm_interactions GROUP BY status ORDER BY status")
    assert.are.same({ { status = "cancelled", n = 4 }, { status = "error", n = 1 }, { status = "ok", n = 1 } },
                    counts)
  end)

  it("nyx.call inside a stream callback raises invalid_state and sends and logs nothing", function()
    local v, db = run([[
      local inner
      local r = nyx.call{ prompt = "Write", max_tokens = 30, stream = function()
        if inner == nil then
          local ok, err = pcall(nyx.call, { prompt = "Inner", max_tokens = 5 })
          inner = ok and "returned" or err
        end
      end }
      local sent = sim.sent()
      return { inner = inner, text = r.text, sent = sent }
    ]], {})
    assert.are.equal("invalid_state", v.inner.type)
    assert.are.equal(1, v.sent)
    assert.are.same({ { status = "ok" } }, sql(db, "SELECT status FROM llm_interactions"))
  end)
end, { hosts = { "lua", "nyx run" } })
