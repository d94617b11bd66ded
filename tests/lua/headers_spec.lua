-- A call's own request headers (headers = {...}): checked before anything is sent, each refusal
-- an invalid_argument naming the field; accepted ones go out with the request (tests/e2e/tls.sh
-- sees them arrive at a real server).
local H = require "helpers.nyx_case"

H.describe_setup("headers = {...} on a call", function(setup)
  it("refuses what would break or inject into the request, and sends nothing", function()
    local v = setup:run [[
      local function try(h)
        local ok, e = pcall(nyx.call, { prompt = "x", max_tokens = 5, headers = h })
        if ok then return { ok = true } end
        return { type = e.type, message = e.message }
      end
      local r = {
        not_table = try("x-route: a"),
        number_value = try({ ["x-route"] = 5 }),
        array = try({ "x-route: a" }),
        owned = try({ ["X-Api-Key"] = "other" }),
        version = try({ ["anthropic-version"] = "2020-01-01" }),
        crlf = try({ ["x-route"] = "a\r\nx-injected: 1" }),
        nul = try({ ["x-route"] = "a\0b" }),
        bad_name = try({ ["x route"] = "a" }),
      }
      local sent = sim.sent()
      return { r = r, sent = sent }
    ]]
    local want = {
      not_table = "headers must be a table", number_value = "headers must map header names to strings",
      array = "headers must map header names to strings", owned = "X-Api-Key is set by nyx",
      version = "anthropic-version is set by nyx", crlf = "must be on one line", nul = "NUL",
      bad_name = "is not a header name",
    }
    H.assert_errors(v.r, "invalid_argument", want)
    assert.are.equal(0, v.sent)
  end)

  it("sends a call with its own headers", function()
    local v = setup:run [[
      local r = nyx.call{ prompt = "x", max_tokens = 5, headers = { ["x-gateway-route"] = "eu" } }
      return { text = r.text }
    ]]
    assert.is_true(#v.text > 0)
  end)
end)
