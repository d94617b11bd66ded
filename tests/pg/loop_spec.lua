-- PostgreSQL answers over a socket the engine's loop watches, so a database that makes the
-- engine wait delays only what waits on it. Here another connection holds locks on the tables
-- an operation needs: the tasks that wait on them wait, while a task that only sleeps goes on
-- turning; when the locks go, the waiting ones finish. Were any of these waits blocking, the
-- whole process would freeze until the locks timed out (30 s), the locking transaction would
-- be rolled back, and the cases would fail rather than hang.
local H = require "helpers.nyx_case"
local DB = require "helpers.db"

-- Prepended to each case: psql on the case's database, and a lock held from another connection.
local LIB = [[
local uri = os.getenv("NYX_DB")
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function psql(sql)
  local p = assert(io.popen("env -u LD_PRELOAD psql -X -q -t -A " .. q(uri) .. " -c " .. q(sql) .. " 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end
-- Takes ACCESS EXCLUSIVE locks on tables in a transaction of another connection, runs extra
-- statements in it, and waits until the locks are granted. Returns a function that commits.
local function hold(tables, extra)
  local locker = assert(io.popen("env -u LD_PRELOAD psql -X -q -v ON_ERROR_STOP=1 " .. q(uri) ..
                                 " >/dev/null 2>&1", "w"))
  locker:write("SET idle_in_transaction_session_timeout = '30s';\nBEGIN;\n",
               "LOCK TABLE ", table.concat(tables, ", "), " IN ACCESS EXCLUSIVE MODE;\n", extra or "")
  locker:flush()
  local names = {}
  for i, t in ipairs(tables) do names[i] = "'" .. t .. "'" end
  local held = false
  for _ = 1, 400 do
    held = tonumber(psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation" ..
                         " WHERE c.relname IN (" .. table.concat(names, ", ") .. ")" ..
                         " AND l.mode = 'AccessExclusiveLock' AND l.granted")) == #tables
    if held then break end
    nyx.sleep(0.05)
  end
  assert(held, "the other connection did not get its locks")
  return function()
    locker:write("COMMIT;\n")
    locker:close()
  end
end
-- Turns the loop 20 times in a task of its own; returns how many turns it saw.
local function tick()
  local ticks = 0
  nyx.spawn(function()
    for _ = 1, 20 do
      nyx.sleep(0.01)
      ticks = ticks + 1
    end
  end):wait()
  return ticks
end
]]

local pg_it = os.getenv("NYX_TEST_PG") and it or pending
local setup = H.setups()[1]

describe("PostgreSQL in the loop", function()
  teardown(function() setup:stop() end)

  pg_it("thoughts, budget status and budgeted calls wait; the loop goes on", function()
    local v = setup:run(LIB .. [[
      local s = nyx.session{ name = "held", budget_usd = 1 }
      nyx.call{ prompt = "before the locks", max_tokens = 20, session = s }
      local release = hold({ "budgets", "thought_trees" })
      local finished = {}
      local thought = nyx.spawn(function()
        local id = nyx.thought{ label = "while the database waits", session = s }
        finished.thought = true
        return id
      end)
      local status = nyx.spawn(function()
        local rows = nyx.budget.status()
        finished.status = true
        return rows
      end)
      local call = nyx.spawn(function()
        local r = nyx.call{ prompt = "budgeted", max_tokens = 20, session = s }
        finished.call = true
        return r
      end)
      local ticks = tick()
      local during = { thought = finished.thought or false, status = finished.status or false,
                       call = finished.call or false, ticks = ticks }
      release()
      local id, rows, r = thought:wait(), status:wait(), call:wait()
      local scope
      for _, row in ipairs(rows) do
        if row.scope == "session:held" then scope = row end
      end
      return { during = during, id = id, scope = scope, text = r.text }
    ]], { env = { NYX_DB = DB.fresh(H.tempdir) } })
    assert.are.same({ thought = false, status = false, call = false, ticks = 20 }, v.during)
    assert.is_true(v.id > 0)
    assert.are.equal(1, v.scope.limit_usd)
    assert.is_true(#v.text > 0)
  end)

  pg_it("news of a stop or a setting is read without stopping the loop", function()
    local v = setup:run(LIB .. [[
      nyx.call{ prompt = "first", max_tokens = 20 }
      -- The other connection changes a setting under its locks; a notification sent meanwhile
      -- makes this engine read the news, which waits for the locks.
      local release = hold({ "control", "system_config" },
        "INSERT INTO system_config (key, value, updated_at) VALUES ('alert.latency_ms', '1234', 0);\n" ..
        "SELECT pg_notify('nyx_control', 'config:alert.latency_ms');\n")
      psql("SELECT pg_notify('nyx_control', 'news')")
      local ticks = tick()
      local during = nyx.config.get("alert.latency_ms")
      release()
      local after, source
      for _ = 1, 500 do
        after, source = nyx.config.get("alert.latency_ms")
        if after then break end
        nyx.sleep(0.02)
      end
      -- And a stop from another process reaches this one the same way.
      local ok_before = pcall(nyx.call, { prompt = "before the stop", max_tokens = 20 })
      os.execute("env -u LD_PRELOAD " .. os.getenv("NYX_BIN") .. " stop --db " .. q(uri) .. " --reason drill >/dev/null 2>&1")
      local err
      for _ = 1, 500 do
        -- (a call in flight when the stop lands is cancelled; the next one is refused)
        local ok, e = pcall(nyx.call, { prompt = "after the stop", max_tokens = 20 })
        if not ok and e.type ~= "cancelled" then err = e break end
        nyx.sleep(0.02)
      end
      os.execute("env -u LD_PRELOAD " .. os.getenv("NYX_BIN") .. " stop --clear --db " .. q(uri) .. " >/dev/null 2>&1")
      return { ticks = ticks, during = during, after = after, source = source, ok_before = ok_before,
               stopped = err and err.type, message = err and err.message }
    ]], { env = { NYX_DB = DB.fresh(H.tempdir) } })
    assert.are.equal(20, v.ticks)
    assert.is_nil(v.during)
    assert.are.same({ 1234, "database" }, { v.after, v.source })
    assert.is_true(v.ok_before)
    assert.are.equal("stopped", v.stopped)
    assert.matches("drill", v.message)
  end)

  pg_it("news read before this process's own stop neither undoes it nor stops it twice", function()
    local v = setup:run(LIB .. [[
      local stops = 0
      nyx.on("stopped", function() stops = stops + 1 end)
      nyx.call{ prompt = "first", max_tokens = 20 }
      -- A lock that goes by itself after 3 s; a notification meanwhile sends a news read that
      -- waits behind it, and this process's stop is queued after that read.
      local locker = assert(io.popen("env -u LD_PRELOAD psql -X -q " .. q(uri) .. " >/dev/null 2>&1", "w"))
      locker:write("BEGIN;\nLOCK TABLE system_config IN ACCESS EXCLUSIVE MODE;\nSELECT pg_sleep(3);\nCOMMIT;\n")
      locker:flush()
      for _ = 1, 400 do
        if tonumber(psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation" ..
                         " WHERE c.relname = 'system_config' AND l.mode = 'AccessExclusiveLock'")) == 1 then break end
        nyx.sleep(0.02)
      end
      psql("SELECT pg_notify('nyx_control', 'news')")
      nyx.sleep(0.6) -- the engine looks for news every quarter second
      nyx.stop("local stop")
      locker:close()
      -- The stop's audit row is written in the background; then the stale answer and the news
      -- of this stop arrive.
      local function audited()
        return tonumber(psql("SELECT count(*) FROM audit_events WHERE kind = 'emergency_stop'"))
      end
      for _ = 1, 500 do
        if audited() >= 1 then break end
        nyx.sleep(0.02)
      end
      nyx.sleep(1)
      local ok, err = pcall(nyx.call, { prompt = "after", max_tokens = 20 })
      return { stops = stops, ok = ok, err = err.type, audited = audited() }
    ]], { env = { NYX_DB = DB.fresh(H.tempdir) } })
    assert.are.same({ stops = 1, ok = false, err = "stopped", audited = 1 }, v)
  end)
end)
