-- A task that fails is reported ("nobody waited for it", with its traceback) only if the script
-- never waits for it: a failure the script waits for later reaches the script, not stderr.
-- From stock Lua and as a `nyx run` script.
local H = require "helpers.nyx_case"

for _, setup in ipairs(H.setups({ hosts = { "lua", "nyx run" } })) do
  if not setup.http or setup.host == "nyx run" then
    describe("failed tasks through " .. setup.name, function()
      teardown(function() setup:stop() end)

      it("are reported only when nobody ever waits for them", function()
        local res = setup:exec [[
          local waited = nyx.spawn(function() error("early failure") end)
          nyx.sleep(0.02) -- it has failed before anyone waits
          local ok, err = pcall(waited.wait, waited)
          nyx.spawn(function() error("dropped failure") end)
          local kept = nyx.spawn(function() nyx.sleep(0.005) error("kept failure") end)
          nyx.sleep(0.05)
          return { ok = ok, err = tostring(err) }
        ]]
        assert.is_true(res.ok, res.stderr)
        assert.is_false(res.value.ok)
        assert.matches("early failure", res.value.err)
        assert.is_nil(res.stderr:match("nobody wait%a* for it[^\n]*early failure"), res.stderr)
        local _, dropped = res.stderr:gsub("nobody wait%a* for it: [^\n]*dropped failure", "")
        local _, kept = res.stderr:gsub("nobody wait%a* for it: [^\n]*kept failure", "")
        assert.are.same({ 1, 1 }, { dropped, kept }, res.stderr)
        assert.matches("stack traceback", res.stderr)
      end)
    end)
  end
end
