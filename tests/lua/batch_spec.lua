-- nyx.batch on the in-process simulator: one batch submitted for all requests, results matched
-- to their requests by id although the simulator returns them in an order of its own, each
-- logged once as an interaction billed at the model table's batch prices, per-request errors
-- with nyx.call's error tables, budgets reserved at batch prices and a batch refused whole
-- when it does not fit, cancel and expiry.
local H = require "helpers.nyx_case"
local DB = require "helpers.db"

local setup
for _, s in ipairs(H.setups()) do
  if not s.http then setup = s end
end

local function env(extra)
  local e = { NYX_DB = DB.fresh(H.tempdir), NYX_SIM_BATCH_MS = "200" }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

describe("nyx.batch", function()
  teardown(function() setup:stop() end)

  it("submits one batch, matches results by id, bills and logs each at batch prices", function()
    local v = setup:run([[
      local topics = { "apples and pears", "boats on rivers", "clocks in towers" }
      local reqs = {}
      for i, t in ipairs(topics) do reqs[i] = { id = "row" .. i, prompt = t, max_tokens = 40 } end
      local b = nyx.batch{ requests = reqs, name = "nightly" }
      local out = {}
      for id, r, ok in b:results() do
        out[#out + 1] = { id = id, ok = ok, text = r.text, cost = r.usage.cost_usd,
                          input = r.usage.input_tokens, output = r.usage.output_tokens,
                          interaction = r.interaction_id }
      end
      local st = b:status()
      -- The same first request as a standard call: the simulator answers it with the same usage.
      local std = nyx.call{ prompt = topics[1], max_tokens = 40 }
      local paths = {}
      for _, q in ipairs(sim.requests()) do paths[#paths + 1] = q.path end
      return { out = out, st = st, id = b.id, std_cost = std.usage.cost_usd,
               std_output = std.usage.output_tokens, paths = paths, stats = nyx.stats() }
    ]], { env = env() })
    assert.are.equal(3, #v.out)
    for i, r in ipairs(v.out) do
      assert.are.equal("row" .. i, r.id)
      assert.is_true(r.ok)
    end
    -- Each answer is to its own prompt (the simulator names the topic it was asked about).
    assert.truthy(v.out[1].text:find("apples and pears", 1, true), v.out[1].text)
    assert.truthy(v.out[2].text:find("boats on rivers", 1, true), v.out[2].text)
    assert.truthy(v.out[3].text:find("clocks in towers", 1, true), v.out[3].text)
    assert.are.equal(v.std_output, v.out[1].output)
    assert.is_true(math.abs(v.out[1].cost - v.std_cost * 0.5) < 1e-12,
      ("batch %.10f vs standard %.10f"):format(v.out[1].cost, v.std_cost))
    assert.are.equal("ended", v.st.processing_status)
    assert.are.equal(3, v.st.succeeded)
    assert.truthy(v.id:match("^msgbatch_"), v.id)
    -- One batch POST (no request of the batch went to /v1/messages), then polls; the standard
    -- call is the only /v1/messages request.
    local posts, messages = 0, 0
    for _, p in ipairs(v.paths) do
      if p == "/v1/messages/batches" then posts = posts + 1 end
      if p == "/v1/messages" then messages = messages + 1 end
    end
    assert.are.equal(1, messages)
    assert.is_true(posts >= 1)
    assert.are.equal(4, v.stats.calls, "each batch result logged once, with the standard call")
    assert.are_not.equal(v.out[1].interaction, v.out[2].interaction)
  end)

  it("reports a request's own error with nyx.call's error table and keeps the others", function()
    local v = setup:run([[
      local b = nyx.batch{ requests = {
        { id = "good", prompt = "fine", max_tokens = 20 },
        { id = "bad", prompt = "x", model = "claude-nope-9", max_tokens = 20 } } }
      local out = {}
      for id, r, ok in b:results() do out[id] = { ok = ok, type = r.type, interaction = r.interaction_id } end
      return { out = out, st = b:status() }
    ]], { env = env() })
    assert.is_true(v.out.good.ok)
    assert.is_false(v.out.bad.ok)
    assert.are.equal("not_found_error", v.out.bad.type)
    assert.truthy(v.out.bad.interaction, "the failed request is logged too")
    assert.are.equal(1, v.st.errored)
  end)

  it("reserves budgets at batch prices, and refuses a batch that does not fit whole", function()
    -- Two requests of 4,000 output tokens on the default model (output $0.5/M): $0.004 worst
    -- case at standard prices, $0.002 at batch prices.
    local v = setup:run([[
      local cost = 0
      local function run(name, limit)
        local s = nyx.session{ name = name, budget_usd = limit }
        local b = nyx.batch{ session = s, requests = {
          { id = "a", prompt = "first " .. name, max_tokens = 4000 },
          { id = "b", prompt = "second " .. name, max_tokens = 4000 } } }
        local out = {}
        for id, r, ok in b:results() do
          out[id] = ok and "ok" or r.type
          if ok then cost = cost + r.usage.cost_usd end
        end
        return out, b:status()
      end
      local fits = run("fits", 0.003)
      local fit_row = budget_row("session:fits")
      local before = #sim.requests()
      local refused, st = run("tight", 0.0015)
      local after = #sim.requests()
      return { fits = fits, refused = refused, st = st, before = before, after = after, row = budget_row("session:tight"),
               fit_row = fit_row, cost = cost }
    ]], { env = env() })
    assert.are.same({ a = "ok", b = "ok" }, v.fits)
    -- Its one reservation (the two worst cases at batch prices, $0.002: both fit only together
    -- at batch prices) is settled at what the results cost once both are logged.
    assert.are.equal(0, v.fit_row.reserved_usd)
    assert.is_true(v.cost > 0 and math.abs(v.fit_row.spent_usd - v.cost) < 1e-12,
                   ("spent %g, cost %g"):format(v.fit_row.spent_usd, v.cost))
    assert.are.same({ a = "budget_exceeded", b = "budget_exceeded" }, v.refused)
    assert.are.equal("refused", v.st.processing_status)
    assert.are.equal(v.before, v.after, "the refused batch was never sent")
    -- One reservation for the batch, refused: nothing was reserved, nothing spent.
    assert.are.equal(0, v.row and v.row.reserved_usd or 0, "nothing stays reserved")
    assert.are.equal(0, v.row and v.row.spent_usd or 0)
  end)

  it("partial = true sends the requests that fit and refuses the others alone", function()
    local v = setup:run([[
      local s = nyx.session{ name = "part", budget_usd = 0.0015 }
      local b = nyx.batch{ session = s, partial = true, requests = {
        { id = "a", prompt = "first", max_tokens = 4000 },
        { id = "b", prompt = "second", max_tokens = 4000 } } }
      local out, n = {}, 0
      for id, r, ok in b:results() do out[id] = ok and "ok" or r.type; n = n + (ok and 1 or 0) end
      return { n = n, out = out, st = b:status(), row = budget_row("session:part") }
    ]], { env = env() })
    assert.are.equal(1, v.n, "one request fit")
    local types = {}
    for _, t in pairs(v.out) do types[#types + 1] = t end
    table.sort(types)
    assert.are.same({ "budget_exceeded", "ok" }, types)
    assert.are.equal("ended", v.st.processing_status)
    assert.are.equal(1, v.st.succeeded)
    assert.are.equal(0, v.row.reserved_usd)
    assert.is_true(v.row.spent_usd > 0 and v.row.spent_usd <= 0.0015)
  end)

  it("cancels: requests not processed end batch_canceled, each logged", function()
    local v = setup:run([[
      local b = nyx.batch{ requests = { { id = "a", prompt = "one" }, { id = "b", prompt = "two" } } }
      while not b.id do nyx.sleep(0.01) end
      assert(b:cancel())
      local out = {}
      for id, r, ok in b:results() do out[id] = ok and "ok" or r.type end
      return { out = out, st = b:status(), stats = nyx.stats() }
    ]], { env = env({ NYX_SIM_BATCH_MS = "600000" }) })
    assert.are.same({ a = "batch_canceled", b = "batch_canceled" }, v.out)
    assert.are.equal(2, v.st.canceled)
    assert.are.equal(2, v.stats.calls)
  end)

  it("tasks that stop waiting leave the batch going, unlogged; a pickup logs each result once", function()
    local v = setup:run([[
      local b = nyx.batch{ requests = { { id = "a", prompt = "one" }, { id = "b", prompt = "two" } } }
      while not b.id do nyx.sleep(0.01) end
      for _, t in ipairs(b._tasks) do t:cancel() end
      local errs = {}
      for i, t in ipairs(b._tasks) do
        local ok, e = pcall(t.wait, t)
        errs[i] = { ok = ok, type = e.type, message = e.message, ix = e.interaction_id }
      end
      nyx.sleep(0.1)
      local s = nyx.json_decode(require("nyx.core").batch_api("GET", "/" .. b.id))
      local logged_before = nyx.stats().calls
      local p = nyx.batch_pickup(b.id)
      local again = nyx.batch_pickup(b.id)
      local rows = {}
      for i, r in ipairs(p.results) do
        rows[#rows + 1] = { custom_id = r.id, ok = r.ok, ix = r.value.interaction_id,
                            again_ix = again.results[i].value.interaction_id }
      end
      return { status = s.processing_status, canceled = s.request_counts.canceled, errs = errs, logged_before = logged_before, p = p,
               again = again.logged, rows = rows, local_id = b:status().batch_id }
    ]], { env = env({ NYX_SIM_BATCH_MS = "300" }) })
    assert.are_not.equal("canceling", v.status, "the batch is not cancelled on the API")
    assert.are.equal(0, v.canceled)
    for _, e in ipairs(v.errs) do
      assert.is_false(e.ok)
      assert.are.equal("cancelled", e.type)
      assert.is_nil(e.ix, "no interaction was logged for it")
      assert.truthy(e.message:find("nyx batch results " .. v.local_id, 1, true), e.message)
    end
    assert.are.equal(0, v.logged_before)
    assert.are.equal(2, v.p.logged)
    assert.are.equal(0, v.again)
    assert.are.equal(2, #v.rows)
    assert.are.equal("a", v.rows[1].custom_id)
    assert.is_true(v.rows[1].ok)
    assert.is_true(v.rows[2].ok)
    -- Picked up again, each result still names the interaction it is logged under.
    for _, r in ipairs(v.rows) do
      assert.truthy(r.ix and r.ix:match("^ix_"), r.ix)
      assert.are.equal(r.ix, r.again_ix)
    end
  end)

  it("stopped while its requests start (Ctrl-C in nyx.batch): each started one ends logged, none unwaited", function()
    -- An interrupt lands in the loop that starts the requests, after three of ten: as Ctrl-C
    -- does when nyx batch submit starts 50,000 of them.
    local v, res = setup:run([[
      local core = require "nyx.core"
      local spawn, n = core.spawn, 0
      core.spawn = function(...)
        n = n + 1
        if n == 4 then core.spawn = spawn; nyx.raise({ type = "cancelled", message = "interrupted" }) end
        return spawn(...)
      end
      local reqs = {}
      for i = 1, 10 do reqs[i] = { id = "r" .. i, prompt = "p" .. i, max_tokens = 10 } end
      local ok, e = pcall(nyx.batch, { requests = reqs })
      core.spawn = spawn
      collectgarbage()
      collectgarbage()
      local batches = 0
      for _, q in ipairs(sim.requests()) do if q.path:find("batches", 1, true) then batches = batches + 1 end end
      return { ok = ok, type = type(e) == "table" and e.type or tostring(e), stats = nyx.stats(), batches = batches }
    ]], { env = env() })
    assert.is_false(v.ok)
    assert.are.equal("cancelled", v.type)
    assert.are.equal(3, v.stats.calls, "the three started requests are logged")
    assert.are.equal(3, v.stats.errors)
    assert.are.equal(0, v.batches, "nothing was sent")
    assert.is_nil(res.stderr:find("nobody waited", 1, true), res.stderr)
  end)

  it("a request that fails inside its batch ends with the API's error, logged at no cost; retry re-runs it", function()
    local v = setup:run([[
      sim.faults({ { fault = "overloaded", count = 1, endpoint = "batch" },
                   { fault = "bad_request", count = 1, endpoint = "batch", message = "max_tokens: too many" } })
      local reqs = {}
      for i = 1, 3 do reqs[i] = { id = "r" .. i, prompt = "p" .. i, max_tokens = 20 } end
      local b = nyx.batch{ requests = reqs, retry = "standard" }
      local out = {}
      for id, r, ok in b:results() do out[id] = { ok = ok, type = r.type, message = r.message } end
      local st = b:status()
      local messages = 0
      for _, q in ipairs(sim.requests()) do if q.path == "/v1/messages" then messages = messages + 1 end end
      return { out = out, errored = st.errored, stats = nyx.stats(), messages = messages }
    ]], { env = env() })
    assert.are.equal(2, v.errored, "the simulator errored two requests of the batch")
    -- The overloaded one (the API's side) ran again as a standard call; the bad request did not.
    local failed = {}
    for id, r in pairs(v.out) do
      if not r.ok then failed[#failed + 1] = r.type .. ": " .. tostring(r.message) end
    end
    assert.are.same({ "invalid_request_error: max_tokens: too many" }, failed)
    assert.are.equal(1, v.messages, "one standard call re-ran the overloaded request")
    -- Logged: 3 batch results (2 errors, at a known cost of 0) and the standard call.
    assert.are.equal(4, v.stats.calls)
    assert.are.equal(2, v.stats.errors)
    assert.are.equal(0, v.stats.unknown_cost_calls)
  end)

  it("the simulator's request log lists each request the batch processed, as nyx logged it", function()
    local v = setup:run([[
      sim.faults({ { fault = "overloaded", count = 1, endpoint = "batch" } })
      local reqs = {}
      for i = 1, 4 do reqs[i] = { id = "q" .. i, prompt = "question number " .. i, max_tokens = 30 } end
      local b = nyx.batch{ requests = reqs }
      local mine = {}
      for id, r, ok in b:results() do
        mine[id] = ok and { r.usage.input_tokens, r.usage.output_tokens, 200 } or { 0, 0, r.type }
      end
      local served = {}
      for _, q in ipairs(sim.requests()) do
        local id = q.path:match("^/v1/messages/batches/[^/]+/requests/(.+)$")
        if id then served[id] = { q.input_tokens, q.output_tokens, q.status, q.fault } end
      end
      return { mine = mine, served = served, stats = nyx.stats() }
    ]], { env = env() })
    local n, input, output = 0, 0, 0
    for id, s in pairs(v.served) do
      n = n + 1
      local m = assert(v.mine[id], id)
      if s[3] == 200 then
        assert.are.same({ m[1], m[2] }, { s[1], s[2] })
        input, output = input + s[1], output + s[2]
      else
        assert.are.same({ "overloaded_error", 529, "overloaded" }, { m[3], s[3], s[4] })
      end
    end
    assert.are.equal(4, n, "each processed request is in the log once")
    assert.are.equal(input, v.stats.input_tokens)
    assert.are.equal(output, v.stats.output_tokens)
  end)

  it("expires: requests not processed in time end batch_expired", function()
    local v = setup:run([[
      local b = nyx.batch{ requests = { { id = "a", prompt = "one" } } }
      local out = {}
      for id, r, ok in b:results() do out[id] = ok and "ok" or r.type end
      return { out = out, st = b:status() }
    ]], { env = env({ NYX_SIM_BATCH_MS = "600000", NYX_SIM_BATCH_EXPIRY_MS = "300" }) })
    assert.are.same({ a = "batch_expired" }, v.out)
    assert.are.equal(1, v.st.expired)
  end)

  it("warm = true: one standard call writes the shared prefix, the batch reads it", function()
    local v = setup:run([[
      local ctx = context("warm-batch")
      local reqs = {}
      for i = 1, 3 do
        reqs[i] = { id = "q" .. i, system = { { text = ctx, cache = "1h" } }, prompt = "question " .. i,
                    max_tokens = 20 }
      end
      local b = nyx.batch{ requests = reqs, warm = true }
      local out = {}
      for id, r, ok in b:results() do
        out[#out + 1] = { id = id, ok = ok, read = r.usage.cache_read_input_tokens,
                          write = r.usage.cache_creation_input_tokens, cost = r.usage.cost_usd }
      end
      local messages = sim.sent()
      return { out = out, messages = messages, st = b:status() }
    ]], { env = env() })
    assert.are.equal(1, v.messages, "only the warm-up went to /v1/messages")
    assert.is_true(v.out[1].write > 0, "the warm-up wrote the prefix")
    assert.is_true(v.out[2].read > 0 and v.out[3].read > 0, "the batch requests read it")
    assert.are.equal(0, v.out[2].write)
    assert.are.equal(2, v.st.succeeded, "the other two went in the batch")
  end)

  it("retry = 'standard' re-runs expired requests as ordinary calls", function()
    local v = setup:run([[
      local b = nyx.batch{ retry = "standard", requests = {
        { id = "a", prompt = "one", max_tokens = 20 }, { id = "b", prompt = "two", max_tokens = 20 } } }
      local out = {}
      for id, r, ok in b:results() do out[id] = ok and r.text or r.type end
      local messages = sim.sent()
      return { out = out, messages = messages, st = b:status(), stats = nyx.stats() }
    ]], { env = env({ NYX_SIM_BATCH_MS = "600000", NYX_SIM_BATCH_EXPIRY_MS = "300" }) })
    assert.are.equal(2, v.st.expired)
    assert.truthy(v.out.a:find("regarding one", 1, true), v.out.a)
    assert.truthy(v.out.b:find("regarding two", 1, true), v.out.b)
    assert.are.equal(2, v.messages)
    assert.are.equal(4, v.stats.calls, "the expired requests and their re-runs are each logged")
  end)

  it("retry = 'batch' re-runs expired requests as a new batch", function()
    local v = setup:run([[
      local b = nyx.batch{ retry = "batch", requests = { { id = "a", prompt = "one", max_tokens = 20 } } }
      local out = {}
      for id, r, ok in b:results() do out[id] = ok and "ok" or r.type end
      return { out = out, first = b.id, second = b.retried_as and b.retried_as.id }
    ]], { env = env({ NYX_SIM_BATCH_MS = "600000", NYX_SIM_BATCH_EXPIRY_MS = "300" }) })
    assert.truthy(v.second, "a second batch was submitted")
    assert.are_not.equal(v.first, v.second)
    assert.are.same({ a = "batch_expired" }, v.out, "the simulator expires that one too")
  end)

  it("nyx.council{batch = true} runs the personas as one batch at batch prices", function()
    local v = setup:run([[
      local r = nyx.council{ context = context("council-batch"), question = "Should we expand?",
                             personas = { "CFO", "CTO", "Head of Sales" }, batch = true, max_tokens = 30 }
      local messages = sim.sent()
      local names = {}
      for i, a in ipairs(r.responses) do names[i] = a.persona .. ":" .. tostring(a.error == nil) end
      return { names = names, totals = r.totals, messages = messages, stats = nyx.stats() }
    ]], { env = env() })
    assert.are.same({ "CFO:true", "CTO:true", "Head of Sales:true" }, v.names)
    assert.are.equal(0, v.messages, "nothing went to /v1/messages")
    assert.are.equal(3, v.stats.calls)
    assert.is_true(v.totals.cost_usd > 0)
  end)

  it("splits a batch over max_requests into parts of one batch, transparently", function()
    local v = setup:run([[
      local reqs = {}
      for i = 1, 5 do reqs[i] = { id = "r" .. i, prompt = "topic " .. i, max_tokens = 20 } end
      local b = nyx.batch{ requests = reqs, max_requests = 2 }
      local out = {}
      for id, r, ok in b:results() do out[#out + 1] = id .. "=" .. tostring(ok and r.text:find("topic", 1, true) ~= nil) end
      local parts = {}
      for _, id in ipairs(b.ids) do parts[#parts + 1] = nyx.batch_pickup(id, { wait = false }) end
      local sizes, nyx_ids, logged = {}, {}, 0
      for i, p in ipairs(parts) do
        sizes[i], nyx_ids[p.batch_id] = #p.results, true
        logged = logged + p.logged
      end
      local handles = {}
      for _, h in ipairs(b._handles) do handles[h:status().batch_id] = true end
      return { out = out, st = b:status(), ids = b.ids, sizes = sizes, stats = nyx.stats(), nyx_ids = nyx_ids,
               handles = handles, logged = logged }
    ]], { env = env() })
    assert.are.same({ "r1=true", "r2=true", "r3=true", "r4=true", "r5=true" }, v.out)
    assert.are.equal(3, #v.ids, "three submissions of at most two")
    assert.are_not.equal(v.ids[1], v.ids[2])
    assert.are_not.equal(v.ids[2], v.ids[3])
    assert.are.equal(5, v.st.succeeded, "status spans every part")
    assert.are.equal("ended", v.st.processing_status)
    local n = 0
    for _ in pairs(v.handles) do n = n + 1 end
    assert.are.equal(1, n, "every part carries nyx's one id")
    assert.are.same(v.handles, v.nyx_ids)
    assert.are.same({ 5, 5, 5 }, v.sizes, "any part's API id picks up the whole batch")
    assert.are.equal(0, v.logged)
    assert.are.equal(5, v.stats.calls, "picking the parts up again logs nothing twice")
  end)

  it("sizes the parts of a split batch by their JSON, escapes included", function()
    -- 4,000 bytes a prompt that JSON makes 8,000: parts sized by the bytes alone held seven
    -- requests (57 KB) and each failed whole over its 30,000 bytes.
    local v = setup:run([[
      local reqs = {}
      for i = 1, 6 do reqs[i] = { id = "r" .. i, prompt = "topic " .. i .. string.rep('"\n', 2000), max_tokens = 20 } end
      local b = nyx.batch{ requests = reqs, max_bytes = 30000 }
      local out = {}
      for id, r, ok in b:results() do out[#out + 1] = id .. "=" .. tostring(ok and r.text:find("topic", 1, true) ~= nil) end
      return { out = out, parts = #b.ids }
    ]], { env = env() })
    assert.are.same({ "r1=true", "r2=true", "r3=true", "r4=true", "r5=true", "r6=true" }, v.out)
    assert.are.equal(2, v.parts, "three requests of about 8 KB a part")
  end)

  it("a split batch left waiting is picked up whole, by any part's API id or nyx's, each result once", function()
    local v = setup:run([[
      local reqs = {}
      for i = 1, 5 do reqs[i] = { id = "r" .. i, prompt = "topic " .. i, max_tokens = 20 } end
      local b = nyx.batch{ requests = reqs, max_requests = 2 }
      while #b.ids < 3 do nyx.sleep(0.01) end
      for _, t in ipairs(b._tasks) do t:cancel() end
      local by_part = nyx.batch_pickup(b.ids[2])
      local by_nyx = nyx.batch_pickup(b:status().batch_id, { wait = false })
      local ids = {}
      for _, r in ipairs(by_part.results) do ids[#ids + 1] = r.id .. "=" .. tostring(r.ok) end
      return { ids = ids, logged = by_part.logged, again = by_nyx.logged, n_again = #by_nyx.results,
               parts = by_part.ids, stats = nyx.stats() }
    ]], { env = env({ NYX_SIM_BATCH_MS = "300" }) })
    assert.are.same({ "r1=true", "r2=true", "r3=true", "r4=true", "r5=true" }, v.ids)
    assert.are.equal(3, #v.parts, "every part asked for")
    assert.are.equal(5, v.logged, "each result logged once")
    assert.are.equal(5, v.n_again)
    assert.are.equal(0, v.again, "and not again by nyx's id")
  end)

  it("refuses bad arguments before anything starts", function()
    local v = setup:run([[
      local out = {}
      for i, t in ipairs({ {}, { requests = {} }, { requests = { { prompt = "x" } } },
                           { requests = { { id = "a", prompt = "x" }, { id = "a", prompt = "y" } } },
                           { requests = { { id = "has space", prompt = "x" } } },
                           { requests = { { id = "s", prompt = "x", stream = function() end } } },
                           { retry = "later", requests = { { id = "a", prompt = "x" } } } }) do
        local ok, err = pcall(function()
          local b = nyx.batch(t)
          for _, r, ok2 in b:results() do if not ok2 then error(r, 0) end end
        end)
        out[i] = { ok = ok, type = err and err.type, message = err and err.message }
      end
      return { out = out, sent = #sim.requests() }
    ]], { env = env() })
    for i, r in ipairs(v.out) do
      assert.is_false(r.ok, "case " .. i)
      assert.are.equal("invalid_argument", r.type, "case " .. i .. ": " .. tostring(r.message))
    end
    assert.are.equal(0, v.sent)
  end)

  it("a request with template = gets the template's output schema and model hint, as from nyx.call", function()
    local v = setup:run([[
      nyx.templates.create("label", '---\nmodel: claude-sonnet-4-6\noutput: {"type": "object", "properties": ' ..
        '{"label": {"type": "string"}}, "required": ["label"], "additionalProperties": false}\n---\nLabel {{t}}.')
      local prompt = nyx.templates.render("label", { t = "a printer on fire" })
      local b = nyx.batch{ requests = { { id = "a", prompt = prompt, template = "label", max_tokens = 60 },
                                        { id = "b", prompt = prompt, template = "label", max_tokens = 60 } } }
      local out = {}
      for id, r, ok in b:results() do
        out[id] = { ok = ok, json = ok and r.json or nil, model = r.model, type = r.type, text = r.text }
      end
      local std = nyx.call{ prompt = prompt, template = "label", max_tokens = 60 }
      return { out = out, std_json = std.json }
    ]], { env = env() })
    assert.is_table(v.std_json, "nyx.call gets the template's schema")
    for _, id in ipairs { "a", "b" } do
      local r = v.out[id]
      assert.is_true(r.ok, tostring(r.type) .. ": " .. tostring(r.text))
      assert.is_table(r.json, "r.json of " .. id .. ": " .. tostring(r.text))
      assert.are.same(v.std_json, r.json)
      assert.are.equal("claude-sonnet-4-6", r.model)
    end
  end)

  it("a request with an output schema gets r.json, or invalid_output, as from nyx.call", function()
    local v = setup:run([[
      local schema = { type = "object", properties = { n = { type = "integer" } }, required = { "n" },
                       additionalProperties = false }
      local b = nyx.batch{ requests = { { id = "fits", prompt = "count", max_tokens = 50, output = schema },
                                        { id = "cut", prompt = "count", max_tokens = 2, output = schema },
                                        { id = "plain", prompt = "count", max_tokens = 50 } } }
      local out = {}
      for id, r, ok in b:results() do out[id] = { ok = ok, json = ok and r.json or nil, type = r.type, text = r.text } end
      local again = {}
      for id, _, ok in b:results() do again[id] = ok end
      return { out = out, again = again }
    ]], { env = env() })
    assert.is_true(v.out.fits.ok)
    assert.are.equal("integer", math.type(v.out.fits.json.n))
    assert.is_false(v.out.cut.ok)
    assert.are.equal("invalid_output", v.out.cut.type)
    assert.is_true(v.out.plain.ok)
    assert.is_nil(v.out.plain.json)
    assert.are.same({ fits = true, cut = false, plain = true }, v.again)
  end)

  it("a batch refused for one request's bad argument raises from nyx.batch, naming that request", function()
    local v = setup:run([[
      local out = {}
      for i, reqs in ipairs({ { { id = "fine", prompt = "x", max_tokens = 5 },
                                { id = "culprit", prompt = "y", max_tokens = 5, temperature = 7 },
                                { id = "after", prompt = "z", max_tokens = 5 } },
                              { { id = "fine", prompt = "x", max_tokens = 5 }, { id = "b c", prompt = "y" } },
                              { { id = "s", prompt = "x", max_tokens = 5, stream = function() end } } }) do
        local ok, err = pcall(nyx.batch, { requests = reqs })
        out[i] = { ok = ok, type = type(err) == "table" and err.type, message = type(err) == "table" and err.message }
      end
      collectgarbage(); collectgarbage()
      local unwaited = 0
      for _, n in ipairs(notices) do
        if n:find("nobody waited", 1, true) then unwaited = unwaited + 1 end
      end
      return { out = out, sent = #sim.requests(), unwaited = unwaited }
    ]], { env = env() })
    for i, r in ipairs(v.out) do
      assert.is_false(r.ok, "case " .. i)
      assert.are.equal("invalid_argument", r.type, "case " .. i)
    end
    assert.matches('^requests%[2%] %(id "culprit"%): temperature', v.out[1].message)
    assert.are.equal([[requests[2] (id "b c"): id must be 1 to 64 letters, digits, '_' or '-']], v.out[2].message)
    assert.are.equal([[requests[1] (id "s"): a batch request cannot stream or have a fallback]], v.out[3].message)
    assert.are.equal(0, v.unwaited, "the other requests' tasks were waited for")
    assert.are.equal(0, v.sent)
  end)
end)
