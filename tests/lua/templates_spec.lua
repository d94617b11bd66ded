-- nyx.templates from Lua: render, get, create, pick, record and stats; Lua values as template
-- variables; errors as tables with a type; an edit seen by the next render; and calls made
-- with template= recording their use per version (through the in-process simulator and
-- `nyx sim` over HTTP).
local H = require "helpers.nyx_case"

local dir -- NYX_TEMPLATE_PATH of every case: a directory only these tests write to

local function env(extra)
  local e = { NYX_TEMPLATE_PATH = dir }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

setup(function()
  dir = H.tempdir()
  H.write(dir .. "/greet.md", [[
---
description: A greeting
model: claude-haiku-4-5
variables:
  who: {required: true, description: "Who is greeted"}
  mood: {default: "glad"}
  items: {required: false}
---
Hello {{who}}, I am {{mood}}.
{{#items}}
- {{name}} x{{count}}{{#urgent}} (urgent){{/urgent}}
{{/items}}
{{^items}}
Nothing to list.
{{/items}}
]])
  H.write(dir .. "/frame.md", "<{{> greet}}>")
end)

teardown(function()
  os.execute("rm -rf " .. H.quote(dir))
end)

local setups = H.setups()
local local_setup = setups[1]

describe("nyx.templates through " .. local_setup.name, function()
  teardown(function() local_setup:stop() end)

  it("renders a template file and returns its version", function()
    local v = local_setup:run([[
      local text, version = nyx.templates.render("greet", {
        who = "Ada",
        items = { { name = "tent", count = 2, urgent = true }, { name = "stove", count = 1.0 },
                  { name = "fuel", count = 2.5, urgent = false } },
      })
      local again = select(2, nyx.templates.render("greet", { who = "Bob" }))
      local framed = nyx.templates.render("frame", { who = "Cy", mood = "calm" })
      return { text = text, version = version, again = again, framed = framed }
    ]], { env = env() })
    assert.are.equal("Hello Ada, I am glad.\n- tent x2 (urgent)\n- stove x1\n- fuel x2.5\n", v.text)
    assert.are.equal(1, v.version)
    assert.are.equal(1, v.again)
    assert.are.equal("<Hello Cy, I am calm.\nNothing to list.\n>", v.framed)
  end)

  it("gets a template's text, front matter and version, by name and by name@version", function()
    local v = local_setup:run([[
      local g = nyx.templates.get("greet")
      nyx.templates.create("made", "v1 {{x}}")
      nyx.templates.create("made", "v2 {{x}}")
      return { g = g, old = nyx.templates.get("made@1"), new = nyx.templates.get("made") }
    ]], { env = env() })
    assert.are.equal("greet", v.g.name)
    assert.are.equal(1, v.g.version)
    assert.are.equal("A greeting", v.g.description)
    assert.are.equal("claude-haiku-4-5", v.g.model)
    assert.are.equal(dir .. "/greet.md", v.g.source)
    assert.are.equal(H.read(dir .. "/greet.md"), v.g.text)
    assert.are.same({ name = "who", required = true, description = "Who is greeted" }, v.g.variables[1])
    assert.are.same({ name = "mood", required = false, default = "glad" }, v.g.variables[2])
    assert.are.equal(3, #v.g.variables)
    assert.are.equal("v1 {{x}}", v.old.text)
    assert.are.equal(1, v.old.version)
    assert.are.equal(2, v.new.version)
    assert.are.equal("database", v.new.source)
  end)

  it("creates versions in the database; the file of the same name serves first", function()
    local v = local_setup:run([[
      local out = {}
      out.first = nyx.templates.create("note", "Note: {{x}}")
      out.same = nyx.templates.create("note", "Note: {{x}}")
      out.second = nyx.templates.create("note", "NOTE: {{x}}")
      out.text, out.version = nyx.templates.render("note", { x = 1 })
      nyx.templates.render("greet", { who = "Di" }) -- records the file as greet@1
      out.shadow = nyx.templates.create("greet", "not served")
      out.greet = nyx.templates.render("greet", { who = "Di" })
      return out
    ]], { env = env() })
    assert.are.equal(1, v.first)
    assert.are.equal(1, v.same)
    assert.are.equal(2, v.second)
    assert.are.equal("NOTE: 1", v.text)
    assert.are.equal(2, v.version)
    assert.are.equal(2, v.shadow) -- greet@1 is the file, recorded when first seen
    assert.are.equal("Hello Di, I am glad.\nNothing to list.\n", v.greet)
  end)

  it("refuses a template text holding a NUL byte, which it stored cut short", function()
    local v = local_setup:run([[
      local ok, err = pcall(nyx.templates.create, "cut", "before\0{{x}} after")
      local found = pcall(nyx.templates.get, "cut")
      return { ok = ok, type = err.type, message = err.message, found = found }
    ]], { env = env() })
    assert.is_false(v.ok)
    assert.are.equal("invalid_argument", v.type)
    assert.matches("NUL", v.message, 1, true)
    assert.is_false(v.found, "nothing was stored")
  end)

  it("refuses a template text that is not UTF-8, whose every call the API would refuse", function()
    local v = local_setup:run([[
      local ok, err = pcall(nyx.templates.create, "latin1", "Bonjour {{name}},\nvotre caf\xe9 est pr\xeat.")
      local found = pcall(nyx.templates.get, "latin1")
      -- A value rendered into a prompt is the call's to check.
      nyx.templates.create("greet_utf8", "Hello {{name}}.")
      local text = nyx.templates.render("greet_utf8", { name = "Andr\xe9" })
      local sent, call_err = pcall(nyx.call, { prompt = text, max_tokens = 5 })
      return { ok = ok, type = err.type, message = err.message, found = found, sent = sent,
               call_type = call_err.type, call_message = call_err.message, requests = sim.sent() }
    ]], { env = env() })
    assert.is_false(v.ok)
    assert.are.equal("invalid_argument", v.type)
    assert.matches(":2: byte 10 of the line is 0xE9, not UTF-8", v.message, 1, true)
    assert.is_false(v.found, "nothing was stored")
    assert.is_false(v.sent)
    assert.are.equal("invalid_argument", v.call_type)
    assert.matches("prompt is not valid UTF-8 (its byte 11 is 0xE9)", v.call_message, 1, true)
    assert.are.equal(0, v.requests)
  end)

  it("serves the new version of a file edited while the engine runs", function()
    local edit = dir .. "/edited.md"
    H.write(edit, "first {{x}}")
    local v = local_setup:run(([[
      local a, va = nyx.templates.render("edited", { x = 1 })
      local f = assert(io.open(%q, "w")); f:write("second edition {{x}}"); f:close()
      local b, vb = nyx.templates.render("edited", { x = 2 })
      local f2 = assert(io.open(%q, "w")); f2:write("{{#broken}}"); f2:close()
      local c, vc = nyx.templates.render("edited", { x = 3 })
      return { a = a, va = va, b = b, vb = vb, c = c, vc = vc }
    ]]):format(edit, edit), { env = env() })
    assert.are.same({ a = "first 1", va = 1, b = "second edition 2", vb = 2,
                      c = "second edition 3", vc = 2 }, v)
  end)

  it("picks among versions, renders the pick, and records judgements and stats", function()
    local v = local_setup:run([[
      nyx.templates.create("ab", "A {{x}}")
      nyx.templates.create("ab", "B {{x}}")
      local seen = {}
      for _ = 1, 60 do seen[nyx.templates.pick("ab")] = true end
      local version, text = nyx.templates.pick("ab", { x = "!" })
      nyx.templates.record("ab", true)
      nyx.templates.record("ab@1", false)
      nyx.templates.record("ab@1", false)
      local stats = nyx.templates.stats("ab")
      return { seen = seen, version = version, text = text, stats = stats }
    ]], { env = env() })
    assert.is_true(v.seen[1] and v.seen[2], "both versions are tried")
    assert.are.equal(({ "A !", "B !" })[v.version], v.text)
    assert.are.equal(2, #v.stats)
    local s1, s2 = v.stats[1], v.stats[2]
    assert.are.equal(1, s1.version)
    assert.are.equal(2, s2.version)
    local picked = v.stats[v.version]
    assert.are.equal(1, picked.successes)
    assert.are.equal(v.version == 1 and 3 or 1, picked.uses)
    assert.are.equal(2, s1.failures)
    assert.is_true(math.abs((v.version == 1 and 1 / 3 or 0) - s1.success_rate) < 1e-9)
  end)

  it("raises error tables with a type", function()
    local v = local_setup:run([[
      local function catch(f, ...)
        local args = table.pack(...)
        local ok, err = pcall(function() return f(table.unpack(args, 1, args.n)) end)
        assert(not ok, "expected an error")
        return { type = err.type, message = err.message, where = err.where, str = tostring(err) }
      end
      local cycle = {} ; cycle.again = cycle
      local t = nyx.templates
      return {
        missing = catch(t.render, "greet", {}),
        unknown = catch(t.render, "nowhere"),
        bad_name = catch(t.get, "../etc/passwd"),
        bad_version = catch(t.get, "greet@99"),
        fn = catch(t.render, "greet", { who = "x", items = { { name = print } } }),
        cycle = catch(t.render, "greet", { who = "x", items = { cycle } }),
        key = catch(t.render, "greet", { who = "x", items = { [1] = { [true] = 1 } } }),
        top = catch(t.render, "greet", { "positional" }),
        vars = catch(t.render, "greet", "who=x"),
        syntax = catch(t.create, "broken", "{{#open}} never closed"),
        record = catch(t.record, "greet", true),
        record_arg = catch(t.record, "greet@1", "yes"),
        list = catch(t.render, "greet", { who = { "a", "b" } }),
      }
    ]], { env = env() })
    H.assert_error(v.missing, "invalid_argument", dir .. "/greet.md:9: missing required variable 'who'", true)
    assert.matches("^.+%.lua:%d+: $", v.missing.where)
    H.assert_error(v.unknown, "not_found", "template 'nowhere' not found", true)
    assert.are.equal("invalid_argument", v.bad_name.type)
    assert.are.equal("not_found", v.bad_version.type)
    H.assert_error(v.fn, "invalid_argument", "bad argument #2 to 'render' (vars.items[1].name: a function cannot be", true)
    assert.matches("vars.items[1].again: a table contains itself", v.cycle.message, 1, true)
    assert.matches("vars.items[1]: key true is not a string", v.key.message, 1, true)
    assert.matches("vars: key 1 is not a string", v.top.message, 1, true)
    assert.matches("vars must be a table, got string", v.vars.message, 1, true)
    H.assert_error(v.syntax, "invalid_argument", "broken:1: section {{#open}} is never closed", true)
    assert.matches("no version of template greet was rendered or picked", v.record.message, 1, true)
    assert.matches("bad argument #2 to 'record' (success must be true or false", v.record_arg.message, 1, true)
    assert.matches("is a list; render its contents with", v.list.message, 1, true)
    assert.are.equal("invalid_argument", v.list.type)
  end)

  it("warns once about a variable the template does not declare", function()
    local v, res = local_setup:run([[
      nyx.templates.render("greet", { who = "x", colour = "red" })
      nyx.templates.render("greet", { who = "y", colour = "blue" })
      return true
    ]], { env = env() })
    assert.is_true(v)
    assert.are.equal(1, H.count_holding(res.notices, "variable 'colour' is given but not declared"))
  end)
end)

for _, setup in ipairs(setups) do
  describe("calls made with template= through " .. setup.name, function()
    teardown(function() setup:stop() end)

    it("record one use per call on the version last rendered; a judgement annotates the call before it", function()
      local db = ("%s/template-calls-%s.db"):format(dir, setup.http and "http" or "local")
      os.remove(db)
      local v = setup:run([[
        nyx.templates.create("ask", "Say {{what}} please.")
        local prompt, version = nyx.templates.render("ask", { what = "hello" })
        local r = nyx.call{ prompt = prompt, template = "ask", max_tokens = 20 }
        nyx.call{ prompt = prompt, template = "ask", max_tokens = 20 }
        nyx.templates.record("ask", false)
        local ok = pcall(nyx.call, { prompt = prompt, template = "ask@1", model = "claude-no-such-model",
                                      max_tokens = 20 })
        return { version = version, text = r.text, ok = ok, stats = nyx.templates.stats("ask") }
      ]], { env = env({ NYX_DB = db }) })
      assert.are.equal(1, v.version)
      assert.is_false(v.ok)
      local s = v.stats[1]
      assert.are.equal(1, s.version)
      -- Two good calls, the second judged bad by the script (not a use of its own), one failed
      -- call.
      assert.are.equal(3, s.uses)
      assert.are.equal(1, s.successes)
      assert.are.equal(2, s.failures)
      assert.is_true(s.tokens > 0)
      assert.is_true(s.cost_usd > 0)
      -- The interactions carry the version too.
      local out = H.nyx(db, "stats --by template --json")
      assert.matches('"group":"ask@1"', out, 1, true)
      assert.matches('"calls":3', out, 1, true)
    end)
  end)
end
