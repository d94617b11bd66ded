-- Timeouts at the edges of their range: infinity (math.huge, NYX_TIMEOUT_PROFILES=a=inf) is no
-- timeout at all, and a finite value too large to be one (1e300) is invalid_argument naming
-- where it came from, before anything is sent. (An infinite timeout once overflowed to 1 ms:
-- every attempt timed out, and the model's breaker opened for everyone.)
local H = require "helpers.nyx_case"

-- The server answers after 50 ms: a timeout that became a millisecond fails every attempt.
local SLOW_START = { ttft_ms = 50 }

H.describe_setups("timeout ranges", function(setup)
  it("timeout = math.huge is no timeout: one attempt, answered", function()
    local v = setup:run([[
      local r = nyx.call{ prompt = "Hello", max_tokens = 10, timeout = math.huge }
      return { attempts = r.attempts, text = r.text }
    ]], SLOW_START)
    assert.are.equal(1, v.attempts)
    assert.is_true(#v.text > 0)
  end)

  it("a profile of infinite seconds, from nyx.timeout_profile or NYX_TIMEOUT_PROFILES, is none", function()
    local v = setup:run([[
      nyx.timeout_profile("patient", math.huge)
      local a = nyx.call{ prompt = "Hello", max_tokens = 10, timeout = "patient" }
      local b = nyx.call{ prompt = "Hello again", max_tokens = 10, timeout = "env" }
      return { a = a.attempts, b = b.attempts }
    ]], { ttft_ms = SLOW_START.ttft_ms, env = { NYX_TIMEOUT_PROFILES = "env=inf,quick=5" } })
    assert.are.same({ a = 1, b = 1 }, v)
  end)

  it("a finite timeout out of range is invalid_argument naming it, and nothing is sent", function()
    local v = setup:run [[
      local function try(f, ...) local ok, e = pcall(f, ...); return ok and "ok" or e end
      local call = try(nyx.call, { prompt = "Hello", max_tokens = 10, timeout = 1e300 })
      local nan = try(nyx.call, { prompt = "Hello", max_tokens = 10, timeout = 0/0 })
      local profile = try(nyx.timeout_profile, "big", 1e300)
      local sent = sim.sent()
      return { call = call, nan = nan, profile = profile, sent = sent }
    ]]
    for _, e in ipairs({ v.call, v.nan, v.profile }) do
      assert.are.equal("invalid_argument", e.type)
    end
    assert.matches("timeout", v.call.message)
    assert.matches("math.huge", v.call.message)
    assert.matches("seconds", v.profile.message)
    assert.are.equal(0, v.sent)
  end)

  it("NYX_TIMEOUT_PROFILES with an out-of-range value is an error at start naming the variable", function()
    -- The engine refuses to start: `require "nyx"` itself raises.
    local res = setup:exec([[
      return nyx.call{ prompt = "Hello", max_tokens = 10 }
    ]], { env = { NYX_TIMEOUT_PROFILES = "a=1e300" } })
    assert.is_false(res.exited)
    assert.matches("invalid_argument: nyx: NYX_TIMEOUT_PROFILES must be", res.stderr)
    assert.matches("a=1e300", res.stderr, 1, true)
  end)

  it("NYX_TIMEOUT_PROFILES with a hexadecimal value is an error at start, as in every setting", function()
    local res = setup:exec([[
      return nyx.call{ prompt = "Hello", max_tokens = 10 }
    ]], { env = { NYX_TIMEOUT_PROFILES = "a=5,b=0x10" } })
    assert.is_false(res.exited)
    assert.matches("invalid_argument: nyx: NYX_TIMEOUT_PROFILES must be", res.stderr)
    assert.matches('got "b=0x10"', res.stderr, 1, true)
  end)

  it("NYX_TIMEOUT_PROFILES with an empty item (a doubled comma) is an error at start", function()
    for _, spec in ipairs({ "a=1,,b=2", "a=1,", ",a=1" }) do
      local res = setup:exec([[
        return nyx.call{ prompt = "Hello", max_tokens = 10 }
      ]], { env = { NYX_TIMEOUT_PROFILES = spec } })
      assert.is_false(res.exited, spec)
      assert.matches('NYX_TIMEOUT_PROFILES must be name=seconds.*got ""', res.stderr)
    end
  end)
end)
