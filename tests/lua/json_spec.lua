-- nyx.json_decode reads the whole text as one value: what follows it, or a string it could
-- only keep cut short, is an invalid_argument saying where, not a value read from part of it.
local nyx = require "nyx"

local function refused(text)
  local ok, e = pcall(nyx.json_decode, text)
  assert.is_false(ok, "decoded: " .. text)
  assert.are.equal("invalid_argument", e.type)
  return e.message
end

describe("nyx.json_decode", function()
  it("refuses text after the value, saying where it starts", function()
    assert.are.equal("not valid JSON: more text after the value at line 1, column 4 (byte 4)", refused("{} x"))
    assert.matches("more text after the value at line 2, column 1", refused('{"a": 1}\n{"a": 2}'), 1, true)
    assert.are.same({ a = 1 }, nyx.json_decode(' {"a": 1}\n '))
  end)

  it("says where text stops being JSON", function()
    assert.are.equal("not valid JSON at line 2, column 6 (byte 8)", refused('{\n"a": }'))
  end)

  it("refuses \\u0000, which would cut the string, and keeps an escaped backslash before u0000", function()
    assert.matches("a string holds \\u0000 at line 1, column 3", refused('"a\\u0000b"'), 1, true)
    assert.are.equal("a\\u0000b", nyx.json_decode('"a\\\\u0000b"'))
  end)
end)
