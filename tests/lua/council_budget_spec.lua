-- A council under a session budget: followers whose worst case does not fit while the first
-- persona's reservation is pending wait for it to settle instead of being refused, the budget
-- never overshoots, and nyx.council{estimate = true} says what the council costs and the
-- budget it needs without sending anything.
local H = require "helpers.nyx_case"

-- Prepended to each case: the estimate of a council of three on a long document unique to salt.
local BOARD = [[local function board(salt, question)
  return { model = "claude-sonnet-4-6", context = context(salt, 1400), personas = { "CFO", "CTO", "COO" },
           question = question or "Should we expand into Japan next year?", max_tokens = 300, estimate = true }
end ]]

H.describe_setups("a council's budget", function(setup)
  it("estimates, then runs within the budget the estimate asked for", function()
    local v = setup:run(BOARD .. [[
      local opts = board("council-budget")
      local est = nyx.council(opts)
      local sent_by_estimate = #sim.requests()
      opts.estimate = nil
      -- Three worst cases at the cache-write price do not fit side by side in this budget;
      -- what the council really costs does.
      opts.session = nyx.session{ name = "board", budget_usd = est.budget_usd }
      local c = nyx.council(opts)
      local errors = {}
      for _, a in ipairs(c.responses) do
        if a.error then errors[#errors + 1] = a.persona .. ": " .. tostring(a.error.message) end
      end
      local worst = 0
      for _, call in ipairs(est.calls) do worst = worst + call.worst_case_usd end
      return { est = est, sent_by_estimate = sent_by_estimate, errors = errors,
               spent = opts.session:stats().cost_usd, cost = c.totals.cost_usd, worst = worst }
    ]], { ttft_ms = 50 })
    assert.are.equal(0, v.sent_by_estimate, "the estimate sends nothing")
    assert.is_true(v.est.context_tokens > 15000, "a long document: " .. v.est.context_tokens)
    assert.is_true(v.est.cached)
    assert.is_true(v.worst > v.est.budget_usd, "the worst cases together exceed the budget")
    assert.are.same({}, v.errors, "no persona was refused")
    assert.is_true(v.spent <= v.est.budget_usd + 1e-9, ("spent %g of %g"):format(v.spent, v.est.budget_usd))
    -- The estimate prices every answer at its max_tokens, from a token count estimated from
    -- bytes: near what was paid.
    assert.is_true(math.abs(v.cost - v.est.cost_usd) < 0.35 * v.est.cost_usd,
                   ("cost %g, estimate %g"):format(v.cost, v.est.cost_usd))
  end)

  it("estimates a batch council at batch prices", function()
    local v = setup:run(BOARD .. [[
      local opts = board("council-batch-estimate")
      local std = nyx.council(opts)
      opts.batch = true
      local est = nyx.council(opts)
      opts.warm = true
      local warm = nyx.council(opts)
      opts.warm, opts.estimate = nil, nil
      local c = nyx.council(opts)
      return { std = std, est = est, warm = warm, cost = c.totals.cost_usd }
    ]], { ttft_ms = 5, env = { NYX_SIM_BATCH_MS = "100" } })
    assert.is_true(v.est.batch)
    -- Without warm, every persona of a batch writes the context (for an hour), at half the
    -- price of the same write as a standard call (warm = true's first persona).
    assert.is_true(math.abs(v.est.calls[2].cost_usd - v.est.calls[1].cost_usd) < 1e-12)
    assert.is_true(math.abs(v.est.calls[1].cost_usd - v.warm.calls[1].cost_usd / 2) < 1e-9,
                   ("batch %g, standard %g"):format(v.est.calls[1].cost_usd, v.warm.calls[1].cost_usd))
    assert.is_true(v.warm.calls[2].cost_usd < v.est.calls[2].cost_usd, "with warm the others read it")
    -- The same request at half the price, but for the warm call's "stream": true (it streams to
    -- see its response begin): a few bytes more.
    local ratio = v.est.calls[1].worst_case_usd / (v.warm.calls[1].worst_case_usd / 2)
    assert.is_true(ratio < 1 and ratio > 0.999,
                   ("worst %.10g vs %.10g"):format(v.est.calls[1].worst_case_usd, v.warm.calls[1].worst_case_usd))
    -- Caching inside a batch is best effort: later requests may read what earlier ones wrote,
    -- so the estimate (every persona writing) is what it costs at most.
    assert.is_true(v.cost > 0 and v.cost <= v.est.cost_usd * 1.1,
                   ("cost %g, estimate %g"):format(v.cost, v.est.cost_usd))
  end)

  it("a persona's worst case is what the engine reserves for its request, so the budget asked for holds it", function()
    -- A council of one has no others' slack: its budget is its one worst case, which must be
    -- the engine's own (from the whole request body), or the persona is refused. Texts with
    -- quotes, newlines and text outside ASCII grow as JSON.
    local v = setup:run([[
      local out = {}
      local contexts = { context("council-one", 300), context("council-one-escaped", 200):gsub(" ", '"\n') ,
                         string.rep("Caf\u{e9} \u{65e5}\u{672c} \u{1F600} ", 200) }
      for i, ctx in ipairs(contexts) do
        local opts = { context = ctx, personas = { "Only" }, question = "Go \"or\" no go?", max_tokens = 300,
                       estimate = true }
        local est = nyx.council(opts)
        opts.estimate = nil
        opts.session = nyx.session{ name = "alone" .. i, budget_usd = est.budget_usd }
        local a = nyx.council(opts).responses[1]
        out[i] = a.error and (a.error.type .. ": " .. tostring(a.error.message)) or "answered"
      end
      return out
    ]])
    assert.are.same({ "answered", "answered", "answered" }, v)
  end)

  it("a persona's worst case is what the engine reserves for it when the council runs, and a drifted request shows", function()
    -- The simulator holds every persona's request until all have reached it, each reserved by
    -- then, and for a while after (hang_ms: long enough to read the ledger, which takes a few
    -- milliseconds); each persona's agent has a budget of its own, so the ledger shows each
    -- reservation.
    local v = setup:run([[
      local function reserved(opts)
        for _, name in ipairs(opts.personas) do nyx.budget.limit("agent:" .. name, 100) end
        sim.faults{ { fault = "hang", count = #opts.personas, hang_ms = 400 * slow } }
        local task = nyx.spawn(nyx.council, opts)
        for _ = 1, 1000 do
          if sim.hanging() >= #opts.personas then break end
          nyx.sleep(0.01)
        end
        local out = {}
        for i, name in ipairs(opts.personas) do out[i] = budget_row("agent:" .. name).reserved_usd end
        local c = task:wait()
        for _, a in ipairs(c.responses) do assert(not a.error, a.error and a.error.message) end
        return out
      end
      local function case(salt, personas, warm, question)
        local opts = { context = context(salt, 300), personas = personas, question = question, max_tokens = 300,
                       warm = warm, estimate = true }
        local est = nyx.council(opts)
        opts.estimate = nil
        local worst = {}
        for i, call in ipairs(est.calls) do worst[i] = call.worst_case_usd end
        return { worst = worst, reserved = reserved(opts) }
      end
      local out = {}
      -- Side by side: every persona's own request (its instruction after the shared context).
      out.parallel = case("council-reserve", { "CFO", "CTO", "COO" }, false, "Go \"or\" no go?")
      -- Warmed: the first persona streams, to see its response begin.
      out.warm = case("council-reserve-warm", { "CEO" }, nil, "Caf\u{e9} or tea?")
      -- A request that is not the one estimated: a system block added to what the council sends.
      local core = require "nyx.core"
      local call = core.call
      core.call = function(spec, ...)
        spec.system = { spec.system[1], spec.system[2], { text = "Answer in one paragraph." } }
        return call(spec, ...)
      end
      out.drift = case("council-reserve-drift", { "CIO", "CMO" }, false, "Go or no go?")
      return out
    ]])
    for _, name in ipairs({ "parallel", "warm" }) do
      local c = v[name]
      assert.is_true(#c.worst > 0)
      for i = 1, #c.worst do
        assert.is_true(c.worst[i] > 0)
        assert.are.equal(c.worst[i], c.reserved[i], ("%s persona %d: estimate %.17g, reserved %.17g"):format(
          name, i, c.worst[i], c.reserved[i]))
      end
    end
    for i = 1, 2 do
      assert.is_true(v.drift.reserved[i] > v.drift.worst[i], ("drift persona %d: estimate %.17g, reserved %.17g"):format(
        i, v.drift.worst[i], v.drift.reserved[i]))
    end
  end)

  it("a batch council's worst cases are what the batch reserves for each persona's request", function()
    -- nyx.batch writes the context for an hour and gives a templated persona its template's
    -- output schema: the estimate bounds that request, as the batch records its reservation.
    local db = setup:new_db()
    local v = setup:run([[
      nyx.templates.create("verdict", '---\noutput: {"type": "object", "properties": {"go": {"type": "boolean"}}, ' ..
        '"required": ["go"], "additionalProperties": false}\n---\nYou are the {{role}}. Say go or no go.')
      local opts = { context = context("council-batch-reserve", 300), max_tokens = 200, batch = true, estimate = true,
                     question = "Expand \"east\"?",
                     personas = { "CFO", { name = "CTO", instruction = nyx.templates.render("verdict", { role = "CTO" }),
                                           template = "verdict" }, "COO" } }
      local est = nyx.council(opts)
      opts.estimate = nil
      opts.session = nyx.session{ name = "batch-board", budget_usd = 50 }
      local c = nyx.council(opts)
      local worst, errors = {}, {}
      for i, call in ipairs(est.calls) do worst[i] = call.worst_case_usd end
      for _, a in ipairs(c.responses) do errors[#errors + 1] = a.error and a.error.message or nil end
      return { worst = worst, errors = errors }
    ]], { ttft_ms = 5, env = { NYX_SIM_BATCH_MS = "100", NYX_DB = db } })
    assert.are.same({}, v.errors)
    local W = require "helpers.wire"
    local rows = W.sql(db, "SELECT custom_id, reserved_usd, write_1h FROM llm_batch_requests ORDER BY custom_id")
    assert.are.equal(3, #rows)
    for i, row in ipairs(rows) do
      assert.are.equal("persona" .. i, row.custom_id)
      assert.are.equal(1, row.write_1h)
      assert.are.equal(v.worst[i], row.reserved_usd, ("persona %d: estimate %.17g, reserved %.17g"):format(
        i, v.worst[i], row.reserved_usd))
    end
  end)

  it("a persona whose stream was cut is in the totals as in its record, and its error has the usage", function()
    -- The stream is cut after its first text: billed for the context it wrote, not retried.
    local v = setup:run([[
      sim.faults{ { fault = "cut", after_events = 8, count = 1 } }
      local s = nyx.session{ name = "cut-board" }
      local c = nyx.council{ context = context("council-cut", 300), personas = { "CFO", "CTO", "COO" },
                             question = "Go or no go?", max_tokens = 100, session = s }
      local first = c.responses[1].error
      return { totals = c.totals, stats = s:stats(), err = first and { type = first.type, usage = first.usage } }
    ]], { ttft_ms = 20 })
    assert.are.equal("network_error", v.err and v.err.type)
    assert.is_true(v.err.usage.cache_creation_input_tokens > 0, "the cut call wrote the context")
    assert.is_true(v.err.usage.cost_usd > 0)
    assert.are.equal(1, v.totals.errors)
    -- The session's statistics are read from the records.
    assert.is_true(math.abs(v.totals.cost_usd - v.stats.cost_usd) < 1e-12,
                   ("totals %.10g, records %.10g"):format(v.totals.cost_usd, v.stats.cost_usd))
    assert.are.equal(v.stats.cache_write_tokens, v.totals.cache_creation_input_tokens)
  end)

  it("prices a persona at its template's model when the council names none", function()
    -- A call with template = and no model goes to the template's model hint: the estimate must
    -- price it there, or its budget is a model's price too low and every persona is refused.
    local v = setup:run([[
      nyx.templates.create("sonnet_persona", "---\nmodel: claude-sonnet-4-6\n---\nYou are {{name}}.")
      local personas = {}
      for i, name in ipairs({ "CFO", "CTO" }) do
        personas[i] = { name = name, instruction = nyx.templates.render("sonnet_persona", { name = name }),
                        template = "sonnet_persona" }
      end
      local opts = { context = context("council-template-model", 300), personas = personas,
                     question = "Go or no go?", max_tokens = 200, estimate = true }
      local est = nyx.council(opts)
      opts.estimate = nil
      opts.session = nyx.session{ name = "templated-board", budget_usd = est.budget_usd }
      local c = nyx.council(opts)
      local out = {}
      for i, a in ipairs(c.responses) do out[i] = a.error and (a.error.type .. ": " .. a.error.message) or a.model end
      return { est = est, out = out, cost = c.totals.cost_usd }
    ]])
    assert.are.equal("claude-sonnet-4-6", v.est.model)
    assert.are.same({ "claude-sonnet-4-6", "claude-sonnet-4-6" }, { v.est.calls[1].model, v.est.calls[2].model })
    assert.are.same({ "claude-sonnet-4-6", "claude-sonnet-4-6" }, v.out)
    assert.is_true(math.abs(v.cost - v.est.cost_usd) < 0.35 * v.est.cost_usd,
                   ("cost %g, estimate %g"):format(v.cost, v.est.cost_usd))
  end)

  it("refuses a persona that cannot fit even when nothing is pending", function()
    local v = setup:run(BOARD .. [[
      local opts = board("council-small-budget", "Go or no go?")
      local est = nyx.council(opts)
      opts.estimate = nil
      opts.session = nyx.session{ name = "tight-board", budget_usd = est.calls[1].worst_case_usd * 1.05 }
      local c = nyx.council(opts)
      local refused = 0
      for _, a in ipairs(c.responses) do
        if a.error and a.error.type == "budget_exceeded" then refused = refused + 1 end
      end
      local why = {}
      for _, a in ipairs(c.responses) do why[#why + 1] = a.error and (a.error.type .. " " .. tostring(a.error.message)) or "ok" end
      return { why = why, refused = refused, spent = opts.session:stats().cost_usd,
               limit = est.calls[1].worst_case_usd * 1.05, sent = #sim.requests() }
    ]], { ttft_ms = 50 })
    assert.is_true(v.refused >= 1, "some persona was refused: " .. table.concat(v.why, "; "))
    assert.is_true(v.spent <= v.limit + 1e-9)
    assert.are.equal(3 - v.refused, v.sent, "refused personas sent nothing")
  end)
end)
