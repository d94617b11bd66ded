-- nyx.json_decode reads the whole text as one value: what follows it, or a string it could
-- only keep cut short, is an invalid_argument saying where, not a value read from part of it.
-- Numbers and empty arrays go between Lua and JSON unchanged: an integer past 2^53 decodes
-- exact, a float encodes in the digits that read back as it, a decoded [] encodes as [].
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

describe("numbers between Lua and JSON", function()
  it("decodes an integer past 2^53 to the exact Lua integer, one past int64 to a float", function()
    local t = nyx.json_decode('{"a":9007199254740993,"b":-9007199254740993,"max":9223372036854775807,'
      .. '"min":-9223372036854775808,"s":"12345678901234567890","list":["7 \\"8",18014398509481985],'
      .. '"over":12345678901234567890,"f":9007199254740993.0,"e":1e16,"small":42}')
    local function exact(want, got, name)
      assert.are.equal("integer", math.type(got), name)
      assert.is_true(want == got, name .. ": " .. tostring(got))
    end
    exact(9007199254740993, t.a, "a")
    exact(-9007199254740993, t.b, "b")
    exact(math.maxinteger, t.max, "max")
    exact(math.mininteger, t.min, "min")
    exact(18014398509481985, t.list[2], "list[2], after a string with digits and a quote")
    exact(42, t.small, "small")
    assert.are.equal("12345678901234567890", t.s)
    assert.are.equal("float", math.type(t.over))
    assert.are.equal(1.2345678901234567e19, t.over)
    assert.are.equal("float", math.type(t.f), "written with '.', a float")
    assert.are.equal("float", math.type(t.e), "written with an exponent, a float")
  end)

  it("encodes every float as the shortest text that reads back as the same double", function()
    assert.are.equal("[9007199254740992,0.30000000000000004,0.1,0.3333333333333333,-2.5,1e+300]",
                     nyx.json_encode({ 9007199254740992.0, 0.1 + 0.2, 0.1, 1 / 3, -2.5, 1e300 }))
    for _, x in ipairs({ 0.1 + 0.2, 2 ^ 53, 2 ^ 60 + 0.0, 1e23, 4.35, 5e-324, 1.7976931348623157e308,
                         -1234.5678e-20, 1 / 3, 2 / 3, math.pi, 123456789.123456789 }) do
      local back = nyx.json_decode(nyx.json_encode({ x }))[1]
      assert.is_true(back == x, ("%.17g came back as %.17g"):format(x, back))
    end
  end)
end)

describe("empty arrays", function()
  it("keeps a decoded [] an array: it encodes back as []", function()
    assert.are.equal("[]", nyx.json_encode(nyx.json_decode("[]")))
    assert.are.equal('{"a":[],"b":{}}', nyx.json_encode(nyx.json_decode('{"b":{},"a":[]}')))
    assert.is_nil(getmetatable(nyx.json_decode("{}")), "an object is not marked")
    assert.is_nil(getmetatable(nyx.json_decode("[1]")), "a non-empty array needs no mark")
    assert.are.equal(getmetatable(nyx.json_decode("[]")), getmetatable(nyx.json_decode("[[]]")[1]),
                     "one metatable shared")
  end)

  it("nyx.json_array marks a table so that empty it is written []", function()
    local t = {}
    assert.is_true(rawequal(t, nyx.json_array(t)), "returns the table it marks")
    assert.are.equal("[]", nyx.json_encode(t))
    assert.are.equal('{"properties":{},"required":[],"type":"object"}',
                     nyx.json_encode({ type = "object", properties = {}, required = nyx.json_array() }))
    t[1] = "x"
    assert.are.equal('["x"]', nyx.json_encode(t))
    assert.are.equal("{}", nyx.json_encode({}), "an unmarked empty table stays an object")
    local ok, e = pcall(nyx.json_array, "x")
    assert.is_false(ok)
    assert.are.equal("invalid_argument", e.type)
    ok, e = pcall(nyx.json_array, setmetatable({}, {}))
    assert.is_false(ok)
    assert.matches("metatable", e.message)
    local again = nyx.json_array()
    assert.is_true(rawequal(again, nyx.json_array(again)), "marking a marked table again is fine")
  end)
end)

describe("nyx.json_encode(nyx.json_decode(s))", function()
  it("gives s back, byte for byte, for texts that used to change", function()
    for _, s in ipairs({
      "[]", "[[],[[]],{\"x\":[]}]", '{"a":[],"b":{},"m":9007199254740993}',
      "[9223372036854775807,-9223372036854775808,9007199254740993,-18014398509481985]",
      "[0.1,0.30000000000000004,1e+300,9007199254740992,0.3333333333333333,-2.5]",
      '{"id":"9007199254740993","nested":{"ids":[12345678901234567,[]],"ok":true}}',
      '"a \\"quoted\\" 12345678901234567890"',
    }) do
      assert.are.equal(s, nyx.json_encode(nyx.json_decode(s)))
    end
  end)
end)
