-- Hot reload of a module whose callers hold its table: an edit that makes it return something
-- else than a table is refused (the loaded version keeps serving), and the valid versions
-- after it still update the same table in place. (It once replaced the module in
-- package.loaded with the new value: callers kept the old functions until a restart.)
local H = require "helpers.nyx_case"

H.describe_setup("reloading a module that returns a non-table", function(setup)
  it("is refused, and later valid versions keep updating the table callers hold", function()
    local dir = setup:file("live_mod.lua", "return {}\n"):gsub("/live_mod%.lua$", "")
    local v = setup:run(([[
      package.path = %q .. "/?.lua;" .. package.path
      local path = %q .. "/live_mod.lua"
      local function save(text)
        local f = assert(io.open(path, "w")); f:write(text); f:close()
      end
      local function version(v)
        return "local M = {}\nfunction M.v() return '" .. v .. "' end\nreturn M\n"
      end
      save(version("v1"))
      local m = require "live_mod"
      local out = {}
      for i, text in ipairs({ "return true\n", version("v3"), "return 42\n", "return nil\n", version("v5") }) do
        save(text)
        local ok, msg = nyx.reload("live_mod")
        out[i] = { ok = ok, msg = msg, v = m.v(), same = package.loaded.live_mod == m and require("live_mod") == m }
      end
      return out
    ]]):format(dir, dir))
    assert.is_false(v[1].ok)
    assert.matches("returned a boolean", v[1].msg)
    assert.are.same({ "v1", true }, { v[1].v, v[1].same }, "the loaded version keeps serving")
    assert.are.same({ true, "v3", true }, { v[2].ok, v[2].v, v[2].same }, "updated in place after a refusal")
    assert.are.same({ false, "v3", true }, { v[3].ok, v[3].v, v[3].same })
    assert.matches("returned a number", v[3].msg)
    -- Returning nothing is require's "the module set package.loaded itself": it left it alone.
    assert.are.same({ true, "v3", true }, { v[4].ok, v[4].v, v[4].same })
    assert.are.same({ true, "v5", true }, { v[5].ok, v[5].v, v[5].same })
  end)
end)
