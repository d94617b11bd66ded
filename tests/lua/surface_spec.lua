-- The Lua surface has one shape: submodules that fail to load say where, namespaces by purpose
-- (nyx.pii.* for personal data, nyx.guard.* for injection), nyx.stop with nyx.resume, and the
-- names from before namespaces kept as aliases.
local H = require "helpers.nyx_case"

describe("the nyx module's surface", function()
  local setup = H.setups()[1]
  setup:start()
  teardown(function() setup:stop() end)

  -- A broken council.lua found first on package.path stands for a library file with a syntax
  -- error; a nyx/oops.lua beside it is no part of the surface, whatever package.path finds.
  it("a submodule with a syntax error raises it with file:line, not a nil call", function()
    local dir = setup.dir .. "/broken"
    os.execute("mkdir -p " .. H.quote(dir .. "/nyx"))
    H.write(dir .. "/nyx/council.lua", "local M = {}\nfunction M.council(\nreturn M\n")
    H.write(dir .. "/nyx/oops.lua", "return { oops = function() return 1 end }\n")
    local v = setup:run(([[
      package.path = %q .. "/?.lua;" .. package.path
      local ok, err = pcall(function() return nyx.council end)
      return { ok = ok, err = tostring(err), missing = nyx.no_such_module, oops = nyx.oops }
    ]]):format(dir))
    assert.is_false(v.ok)
    assert.matches("council%.lua:3:", v.err)
    assert.is_nil(v.missing)
    assert.is_nil(v.oops)
  end)

  -- What nyx.NAME is comes from the list in nyx/init.lua, not from where package.path looks: a
  -- library found by another searcher (LuaRocks' loader, a host's own) still gives every
  -- documented name, nyx.batch_pickup among them (it was reached only through package.path).
  it("every submodule of the list is nyx.NAME whatever searcher finds the library", function()
    local v = setup:run [[
      local file = assert(package.searchpath("nyx.batch_pickup", package.path))
      local lib = file:match("^(.*)/nyx/batch_pickup%.lua$")
      package.path = "/nonexistent/?.lua"
      table.insert(package.searchers, 2, function(name)
        local f = package.searchpath(name, lib .. "/?.lua")
        if not f then return "\n\tnot in the library" end
        return assert(loadfile(f)), f
      end)
      return { pickup = type(nyx.batch_pickup), council = type(nyx.council), agent = type(nyx.agent),
               batch = type(nyx.batch), guard = type(nyx.guard), pii = type(nyx.pii) }
    ]]
    assert.are.same({ pickup = "function", council = "function", agent = "function",
                      batch = "function", guard = "table", pii = "table" }, v)
  end)

  -- The C halves of the library's own functions are the library's, in nyx.core: a script
  -- uses what they serve (nyx.batch, the tool loop), and nyx shows none of them.
  it("keeps the library's C halves in nyx.core, out of nyx", function()
    local v = setup:run [[
      local core, out = require "nyx.core", {}
      for _, name in ipairs({ "batch_open", "batch_requests", "batch_record", "batch_settle", "batch_api",
                              "host_tool", "host_tool_call", "otel_tool", "estimate" }) do
        out[#out + 1] = ("%s %s %s"):format(name, type(core[name]), type(nyx[name]))
      end
      out[#out + 1] = "call " .. type(nyx.call) .. " price " .. type(nyx.price)
      return out
    ]]
    for i = 1, 9 do assert.matches("^%S+ function nil$", v[i]) end
    assert.are.equal("call function price function", v[10])
  end)

  -- The library's modules are compiled at build time and loaded from that bytecode when their
  -- file holds the text the build compiled: a copy elsewhere is named by its own path, an
  -- edited file runs (and fails) as its text says.
  it("a library module runs as its file's text says, wherever it is and however edited", function()
    local dir = setup.dir .. "/library_copy"
    os.execute("mkdir -p " .. H.quote(dir .. "/nyx"))
    local v = setup:run(("local dir = %q\n"):format(dir) .. [[
      local function text(name)
        local f = assert(io.open(assert(package.searchpath(name, package.path))))
        local t = f:read("a")
        f:close()
        return t
      end
      local function write(name, t)
        local f = assert(io.open(dir .. "/nyx/" .. name .. ".lua", "w"))
        f:write(t)
        f:close()
      end
      local council_line, n = nil, 0
      for line in text("nyx.council"):gmatch("[^\n]*\n") do
        n = n + 1
        if line:match("^function M%.council%(") then council_line = n end
      end
      write("pii", text("nyx.pii"))                                   -- the same text
      write("council", "local EDITED = 1\n" .. text("nyx.council"))  -- one line more on top
      write("agent", "-- edited\n\nlocal = 1\n" .. text("nyx.agent"))  -- broken at line 3
      package.path = dir .. "/?.lua;" .. package.path
      local pii = debug.getinfo(nyx.pii.call, "S")
      local ok, err = pcall(function() return nyx.agent end)
      return { pii_source = pii.source, scan = nyx.pii.scan("ann@example.com")[1].kind,
               council = debug.getinfo(nyx.council, "S").linedefined,
               council_source = debug.getinfo(nyx.council, "S").source, council_line = council_line,
               ok = ok, err = tostring(err) }
    ]])
    assert.are.equal("@" .. dir .. "/nyx/pii.lua", v.pii_source)
    assert.are.equal("email", v.scan)
    assert.are.equal("@" .. dir .. "/nyx/council.lua", v.council_source)
    assert.is_false(v.ok)
    assert.matches("agent%.lua:3:", v.err)
    assert.are.equal(v.council_line + 1, v.council)
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

  it("nyx.stop refuses a reason it cannot keep whole, and stops nothing", function()
    local v = setup:run([[
      local function try(reason)
        local ok, e = pcall(nyx.stop, reason)
        return ok and "stopped" or e.type .. ": " .. e.message
      end
      local r = { long = try(("y"):rep(256)), line = try("a\nb"), bytes = try("caf\xe9") }
      r.text = #nyx.call{ prompt = "not stopped", max_tokens = 10 }.text > 0
      return r
    ]], { env = { NYX_DB = setup:new_db() } })
    assert.are.equal("invalid_argument: bad argument #1 to 'stop' (reason is 256 bytes, more than the 255 a stop keeps)", v.long)
    assert.matches("^invalid_argument: .*control character %(byte 2 is 0x0A%)", v.line)
    assert.matches("^invalid_argument: .*not valid UTF%-8 %(its byte 4 is 0xE9%)", v.bytes)
    assert.is_true(v.text)
  end)
end)
