-- Structured outputs' JSON Schema subset (engine/claude/schema.c), checked where a schema enters
-- nyx: nyx.call's output, a strict tool (nyx.tool, a tool table, a JSON tool list), a batch's
-- requests and a template's front matter (on load and on a hot reload, where the version before
-- keeps serving). A schema the API would refuse is an invalid_argument naming the place in it
-- and the problem, and nothing is sent; the simulator refuses such a schema with the API's 400.
-- And the reply: a structured answer comes back decoded in r.json, and one cut at max_tokens is
-- an invalid_output naming that stop, streamed or not.
local H = require "helpers.nyx_case"

local dir -- NYX_TEMPLATE_PATH of the template cases

setup(function() dir = H.tempdir() end)
teardown(function() os.execute("rm -rf " .. H.quote(dir)) end)

for _, setup in ipairs(H.setups()) do
  describe("structured-output schemas through " .. setup.name, function()
    teardown(function() setup:stop() end)

    it("refuses an output schema the API would refuse, naming the place in it, and sends nothing", function()
      local v = setup:run [[
        local function obj(props) return { type = "object", properties = props, additionalProperties = false } end
        local bad = {
          obj({ age = { type = "integer", minimum = 0 } }),
          { type = "object", properties = { a = { type = "string" } } },
          obj({ a = { type = "strng" } }),
          obj({ a = { anyOf = { { type = "string" }, { type = "object", additionalProperties = true } } } }),
          { type = "array", items = { type = "string" } },
          obj({ a = { type = "string", format = "phone" } }),
          { type = "object", additionalProperties = false, requird = { "a" } },
          { type = "object", additionalProperties = false, ["$defs"] = { n = obj({ next = { ["$ref"] = "#/$defs/n" } }) },
            properties = { head = { ["$ref"] = "#/$defs/n" } } },
        }
        local out = {}
        for i, schema in ipairs(bad) do
          local ok, e = pcall(nyx.call, { prompt = "x", output = schema })
          out[i] = ok and "sent" or { type = e.type, message = e.message }
        end
        local schema = obj({ n = { type = "integer" } })
        local good = nyx.call{ prompt = "x", output = schema }
        nyx.call{ prompt = "y", output = schema } -- found good before: not walked again
        -- The same table changed is another schema, checked afresh.
        schema.properties.n.minimum = 1
        local ok, changed = pcall(nyx.call, { prompt = "z", output = schema })
        return { out = out, sent = sim.sent(), json = good.json, changed = not ok and changed.message }
      ]]
      local want = {
        "output.properties.age: minimum is not supported by structured outputs (no numerical constraints)",
        'output: an object schema needs "additionalProperties": false',
        'output.properties.a: type "strng" is not a JSON Schema type',
        "output.properties.a.anyOf[2]: additionalProperties must be false",
        'output: the schema\'s root must be of type "object"',
        'output.properties.a: format "phone" is not supported',
        'output: unknown keyword "requird"',
        'output.$defs.n.properties.next: $ref "#/$defs/n" leads back to a schema that holds it: '
          .. "recursive schemas are not supported",
      }
      for i, fragment in ipairs(want) do
        local e = v.out[i]
        assert.is_table(e, "schema " .. i .. " was sent")
        assert.are.equal("invalid_argument", e.type)
        assert.matches(fragment, e.message, 1, true)
      end
      assert.are.equal(2, v.sent, "only the good schema's calls were sent")
      assert.are.equal("bad argument #1 to 'call' (output.properties.n: minimum is not supported by structured outputs "
                       .. "(no numerical constraints))", v.changed)
      assert.are.equal("integer", math.type(v.json.n))
    end)

    it("sends a schema carrying the annotations schema writers emit; a misspelling beside them is still refused", function()
      local v = setup:run [[
        sim.config{ keep_bodies = 8 }
        -- what zod-to-json-schema and Pydantic write: $schema at the root, examples, and the like
        local schema = { ["$schema"] = "http://json-schema.org/draft-07/schema#", ["$id"] = "urn:example:rating",
                         ["$comment"] = "generated", type = "object", additionalProperties = false,
                         required = { "score" }, examples = { { score = 3 } },
                         properties = { score = { type = "integer", examples = { 1, 5 }, deprecated = false,
                                                  readOnly = true, writeOnly = false } } }
        local r = nyx.call{ prompt = "Rate it", output = schema, max_tokens = 200 }
        local tool = nyx.tool{ name = "rate", strict = true, input = schema }
        local t = nyx.call{ prompt = "Rate it", tools = { tool }, tool_choice = "any", max_tokens = 200 }
        local bodies = {}
        for _, q in ipairs(sim.requests()) do
          if q.path == "/v1/messages" then bodies[#bodies + 1] = nyx.json_decode(q.body) end
        end
        schema.properties.score.exampels = { 2 }
        local ok, e = pcall(nyx.call, { prompt = "Rate it", output = schema })
        return { score = r.json.score, root = bodies[1].output_config.format.schema["$schema"],
                 tool = t.tool_calls[1] and t.tool_calls[1].name, tool_schema = bodies[2].tools[1].input_schema["$comment"],
                 sent = sim.sent(), refused = not ok and e.message }
      ]]
      assert.are.equal("integer", math.type(v.score))
      assert.are.equal("http://json-schema.org/draft-07/schema#", v.root, "the annotation went with the request")
      assert.are.equal("rate", v.tool)
      assert.are.equal("generated", v.tool_schema)
      assert.are.equal(2, v.sent)
      assert.matches('output.properties.score: unknown keyword "exampels"', v.refused, 1, true)
    end)

    it("holds a strict tool's schema to the subset, wherever the tool comes from; others go as given", function()
      local v = setup:run [[
        local function try(f, a) local ok, e = pcall(f, a); return ok and "ok" or e.message end
        local input = { type = "object", properties = { n = { type = "integer", maximum = 9 } },
                        additionalProperties = false }
        local defined = try(nyx.tool, { name = "dial", strict = true, input = input })
        local bare = try(nyx.tool, { name = "bare", strict = true })
        local table_tool = try(nyx.call, { prompt = "x", tools = { { name = "dial", strict = true, input = input } } })
        local json_tool = try(nyx.call, { prompt = "x",
          tools = '[{"name":"dial","strict":true,"input_schema":{"type":"object","properties":{}}}]' })
        local sent = sim.sent()
        -- Without strict the API reads the schema as a description: minimum and all go.
        local loose = nyx.tool{ name = "dial", input = input }
        local r = nyx.call{ prompt = "x", tools = { loose }, tool_choice = "any" }
        return { defined = defined, bare = bare, table_tool = table_tool, json_tool = json_tool, sent = sent,
                 loose = r.tool_calls[1] and r.tool_calls[1].name, after = sim.sent() }
      ]]
      assert.are.equal("tool dial: input.properties.n: maximum is not supported by structured outputs "
                       .. "(no numerical constraints)", v.defined)
      assert.are.equal("ok", v.bare, "a strict tool without input gets a schema the API takes")
      assert.matches("tools[1].input.properties.n: maximum is not supported", v.table_tool, 1, true)
      assert.matches('tools[1].input_schema: an object schema needs "additionalProperties": false', v.json_tool, 1, true)
      assert.are.equal(0, v.sent)
      assert.are.equal("dial", v.loose)
      assert.are.equal(1, v.after)
    end)

    it("refuses a batch holding a bad schema before anything is sent, naming the request", function()
      local e = setup:fails [[
        local schema = { type = "object", properties = { n = { type = "integer" } }, additionalProperties = false }
        local ok, err = pcall(nyx.batch, { requests = {
          { id = "fine", prompt = "a", max_tokens = 20, output = schema },
          { id = "open", prompt = "b", max_tokens = 20,
            output = { type = "object", properties = { n = { type = "number", multipleOf = 2 } }, additionalProperties = false } } } })
        err.requests = #sim.requests()
        error(err, 0)
      ]]
      assert.are.equal("invalid_argument", e.type)
      assert.are.equal('requests[2] (id "open"): output.properties.n: multipleOf is not supported by structured '
                       .. "outputs (no numerical constraints)", e.message)
      assert.are.equal(0, e.requests)
    end)

    it("refuses a template whose output schema the API would refuse, naming the file; an edit keeps the last good version", function()
      local path = dir .. "/rate_" .. (setup.http and "http" or "local") .. ".md"
      local name = path:match("([^/]+)%.md$")
      local good = '---\noutput: {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"], '
        .. '"additionalProperties": false}\n---\nRate {{x}}'
      local broken = '---\ndescription: rates\noutput: {"type": "object", "properties": {"score": {"type": "integer", '
        .. '"minimum": 1}}, "additionalProperties": false}\n---\nRate {{x}} again'
      H.write(path, broken)
      local v = setup:run(([[
        local name, path, good, broken = %q, %q, %q, %q
        local ok, first = pcall(nyx.templates.render, name, { x = 1 })
        local f = assert(io.open(path, "w")); f:write(good); f:close()
        local text, v1 = nyx.templates.render(name, { x = 1 })
        local r1 = nyx.call{ prompt = text, template = name }
        f = assert(io.open(path, "w")); f:write(broken); f:close()
        local text2, v2 = nyx.templates.render(name, { x = 2 })
        local r2 = nyx.call{ prompt = text2, template = name }
        local _, v3 = nyx.templates.render(name, { x = 3 })
        return { first = { ok = ok, type = first.type, message = first.message }, v1 = v1, v2 = v2, v3 = v3,
                 text2 = text2, json1 = r1.json, json2 = r2.json, notices = notices }
      ]]):format(name, path, good, broken), { env = { NYX_TEMPLATE_PATH = dir } })
      assert.is_false(v.first.ok)
      assert.are.equal("invalid_argument", v.first.type)
      assert.matches(path .. ":3: front matter: output.properties.score: minimum is not supported by structured "
                     .. "outputs (no numerical constraints)", v.first.message, 1, true)
      assert.are.same({ 1, 1, 1 }, { v.v1, v.v2, v.v3 }, "the broken edit never became a version")
      assert.are.equal("Rate 2", v.text2, "the good version serves on")
      assert.are.equal("integer", math.type(v.json1.score))
      assert.are.equal("integer", math.type(v.json2.score), "calls keep the good version's schema")
      local told = 0
      for _, n in ipairs(v.notices) do
        if n:find("output.properties.score: minimum is not supported", 1, true) and n:find("keeps serving version 1", 1, true) then
          told = told + 1
        end
      end
      assert.are.equal(1, told, "the broken edit is reported once:\n" .. table.concat(v.notices, "\n"))
    end)

    it("a client other than nyx sending such a schema gets the API's 400 from the simulator", function()
      local v = setup:run [[
        local r = sim.messages('{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":"x"}],'
          .. '"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"s":'
          .. '{"type":"string","maxLength":3}},"additionalProperties":false}}}}')
        local t = sim.messages('{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":"x"}],'
          .. '"tools":[{"name":"t","strict":true,"input_schema":{"type":"object"}}]}')
        return { r = r, t = t }
      ]]
      assert.are.equal("invalid_request_error", v.r.error.type)
      assert.are.equal("output_config.format.schema.properties.s: maxLength is not supported by structured outputs "
                       .. "(no string constraints)", v.r.error.message)
      assert.are.equal("invalid_request_error", v.t.error.type)
      assert.matches('tools.0.custom.input_schema: an object schema needs "additionalProperties": false',
                     v.t.error.message, 1, true)
    end)

    it("hands back a structured answer decoded, and one cut at max_tokens as invalid_output naming it, streamed or not", function()
      local v = setup:run [[
        local schema = { type = "object", additionalProperties = false, required = { "items", "total" },
                         properties = { items = { type = "array", items = { type = "string" } }, total = { type = "integer" } } }
        local whole = nyx.call{ prompt = "List", output = schema }
        local streamed = nyx.call{ prompt = "List", output = schema, stream = function() end }
        local function cut(extra)
          local spec = { prompt = "List", output = schema, max_tokens = 4 }
          for k, x in pairs(extra or {}) do spec[k] = x end
          local ok, e = pcall(nyx.call, spec)
          return { ok = ok, type = e.type, stop = e.stop_reason, message = e.message, text = e.text,
                   decodes = (pcall(nyx.json_decode, e.text)) }
        end
        return { whole = whole.json, streamed = streamed.json, cut = cut(), cut_stream = cut({ stream = function() end }) }
      ]]
      assert.is_table(v.whole.items)
      assert.are.equal("integer", math.type(v.whole.total))
      assert.are.same(v.whole, v.streamed)
      for _, c in ipairs { v.cut, v.cut_stream } do
        assert.is_false(c.ok)
        assert.are.equal("invalid_output", c.type)
        assert.are.equal("max_tokens", c.stop)
        assert.matches("stopped at max_tokens", c.message, 1, true)
        assert.is_string(c.text)
        assert.is_false(c.decodes, "the cut text is not JSON: " .. c.text)
      end
    end)
  end)
end
