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

describe("nyx.json_encode", function()
  it("refuses no value with an error table", function()
    local ok, e = pcall(nyx.json_encode)
    assert.is_false(ok)
    assert.are.same({ "invalid_argument", "bad argument #1 to 'json_encode' (value expected)" },
                    { type(e) == "table" and e.type, type(e) == "table" and e.message })
  end)

  it("writes an integer of 16 digits or more as its digits, not as a double's 15", function()
    assert.are.equal('{"id":9007199254740993,"max":9223372036854775807,"min":-9223372036854775808,"small":42}',
                     nyx.json_encode({ id = 9007199254740993, max = math.maxinteger, min = math.mininteger, small = 42 }))
    assert.are.equal("[-9007199254740993,9007199254740991,1234567890123456,999999999999999,0.5]",
                     nyx.json_encode({ -9007199254740993, 9007199254740991, 1234567890123456, 999999999999999, 0.5 }))
  end)
end)
