-- The Lua surface has one shape: submodules that fail to load say where, namespaces by purpose
-- (nyx.pii.* for personal data, nyx.guard.* for injection), nyx.stop with nyx.resume, and the
-- names from before namespaces kept as aliases.
local H = require "helpers.nyx_case"

describe("the nyx module's surface", function()
  local setup = H.setups()[1]
  setup:start()
  teardown(function() setup:stop() end)

  it("a submodule with a syntax error raises it with file:line, not a nil call", function()
    local dir = setup.dir .. "/broken"
    os.execute("mkdir -p " .. H.quote(dir .. "/nyx"))
    H.write(dir .. "/nyx/oops.lua", "local M = {}\nfunction M.oops(\nreturn M\n")
    local v = setup:run(([[
      package.path = %q .. "/?.lua;" .. package.path
      local ok, err = pcall(function() return nyx.oops end)
      return { ok = ok, err = tostring(err), missing = nyx.no_such_module }
    ]]):format(dir))
    assert.is_false(v.ok)
    assert.matches("oops%.lua:3:", v.err)
    assert.is_nil(v.missing)
  end)

  it("nyx.pii is a namespace for personal data and still callable as before", function()
    local v = setup:run [[
      local hits = nyx.pii.scan("write to ann@example.com")
      local call = nyx.pii.call({ prompt = "mail ann@example.com" }, "redact")
      local old = nyx.pii({ prompt = "mail ann@example.com" }, "redact")
      return { kind = hits[1] and hits[1].kind, redacted = nyx.pii.redact("ann@example.com"),
               call = call.prompt, old = old.prompt, alias = nyx.guard_scan == nyx.pii.scan,
               guard = type(nyx.guard.check), ns = type(nyx.pii) }
    ]]
    assert.are.equal("email", v.kind)
    assert.are.equal("[EMAIL]", v.redacted)
    assert.are.equal("mail [EMAIL]", v.call)
    assert.are.equal("mail [EMAIL]", v.old)
    assert.is_true(v.alias)
    assert.are.equal("function", v.guard)
    assert.are.equal("table", v.ns)
  end)

  it("nyx.resume lifts nyx.stop: calls go again", function()
    local v = setup:run([[
      nyx.stop("drill")
      local refused, err = pcall(nyx.call, { prompt = "while stopped", max_tokens = 10 })
      nyx.resume()
      local r = nyx.call{ prompt = "after resume", max_tokens = 10 }
      return { refused = not refused, type = err.type, text = #r.text > 0 }
    ]], { env = { NYX_DB = setup:new_db() } })
    assert.is_true(v.refused)
    assert.are.equal("stopped", v.type)
    assert.is_true(v.text)
  end)
end)
