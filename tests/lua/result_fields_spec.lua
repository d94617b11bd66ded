-- The fields of what nyx.call returns and raises, all of them: the exact set of names of a
-- result, its usage and its usage.cache_creation, and the Lua type (integer or float for a
-- number) of each, so a field that goes missing, appears, or changes type fails here. A prompt's
-- r.messages is the prompt and the answer; with OpenTelemetry export on, a result names its
-- span; an error carries the call's own fields.
local H = require "helpers.nyx_case"

-- Each field of t as "name=type", sorted, the type math.type's for numbers.
local SHAPE = [[
  local function shape(t)
    local out = {}
    for k, v in pairs(t) do
      out[#out + 1] = k .. "=" .. (math.type(v) or type(v))
    end
    table.sort(out)
    return table.concat(out, " ")
  end
]]

local RESULT_FIELDS = { "attempts=integer", "cache_hit=boolean", "content=table", "fallback_used=boolean",
  "from_cache=boolean", "id=string", "interaction_id=string", "latency_ms=float", "messages=table",
  "model=string", "model_requested=string", "request_id=string", "route=integer", "stop_reason=string",
  "text=string", "tool_calls=table", "ttfb_ms=float", "usage=table" }

-- The result's fields with more, as shape() writes them.
local function result_with(...)
  local all = { table.unpack(RESULT_FIELDS) }
  for _, f in ipairs({ ... }) do all[#all + 1] = f end
  table.sort(all)
  return table.concat(all, " ")
end

local USAGE = "cache_creation=table cache_creation_input_tokens=integer " ..
  "cache_read_input_tokens=integer cost_usd=float cost_without_cache_usd=float " ..
  "input_tokens=integer output_tokens=integer saved_usd=float"

H.describe_setups("the fields of nyx.call's result", function(setup)
  it("a result, its usage and cache_creation have exactly these fields and types", function()
    local v = setup:run(SHAPE .. [[
      local r = nyx.call{ prompt = "Name three rivers", max_tokens = 30 }
      -- A word from the middle of r's text stops the same prompt's reply there.
      local words = {}
      for w in r.text:gmatch("%a%a%a%a+") do words[#words + 1] = w end
      local stop = " " .. words[#words // 2]
      local s = nyx.call{ prompt = "Name three rivers", max_tokens = 30, stop_sequences = { stop } }
      return { r = shape(r), usage = shape(r.usage), cc = shape(r.usage.cache_creation),
               block = shape(r.content[1]), same_text = r.content[1].text == r.text,
               fallback_used = r.fallback_used, from_cache = r.from_cache, route = r.route,
               s = shape(s), stop = stop, stop_sequence = s.stop_sequence, stop_reason = s.stop_reason }
    ]])
    assert.are.equal(result_with(), v.r)
    assert.are.equal(USAGE, v.usage)
    assert.are.equal("ephemeral_1h_input_tokens=integer ephemeral_5m_input_tokens=integer", v.cc)
    assert.are.equal("text=string type=string", v.block)
    assert.is_true(v.same_text)
    assert.are.same({ false, false, 0 }, { v.fallback_used, v.from_cache, v.route })
    assert.are.equal("stop_sequence", v.stop_reason)
    assert.are.equal(v.stop, v.stop_sequence)
    assert.are.equal(result_with("stop_sequence=string"), v.s)
  end)

  it("a prompt's result continues as a conversation: the prompt, then the answer's blocks", function()
    local v = setup:run [[
      local r = nyx.call{ prompt = "Name three rivers", max_tokens = 30 }
      local m = r.messages
      local n, reply = #m, m[2] and m[2].content
      m[#m + 1] = { role = "user", content = "And three lakes?" }
      return { n = n, first = m[1], role = m[2] and m[2].role, nreply = reply and #reply,
               same_block = reply and reply[1].text == r.text and reply[1].type == "text",
               after = #m, third = m[3].content, ntools = #r.tool_calls, thinking = r.thinking }
    ]]
    assert.are.equal(2, v.n)
    assert.are.same({ role = "user", content = "Name three rivers" }, v.first)
    assert.are.equal("assistant", v.role)
    assert.are.equal(1, v.nreply)
    assert.is_true(v.same_block)
    assert.are.equal(3, v.after, "appending to r.messages goes after the answer")
    assert.are.equal("And three lakes?", v.third)
    assert.are.equal(0, v.ntools)
    assert.is_nil(v.thinking)
  end)

  it("with OpenTelemetry export on, a result names its trace and span", function()
    -- Nothing listens there: the export fails, the call does not.
    local v = setup:run(SHAPE .. [[
      local r = nyx.call{ prompt = "Name three rivers", max_tokens = 30 }
      return { r = shape(r), trace_id = r.trace_id, span_id = r.span_id }
    ]], { env = { OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:9" } })
    assert.are.equal(result_with("span_id=string", "trace_id=string"), v.r)
    assert.matches("^%x+$", v.trace_id)
    assert.are.equal(32, #v.trace_id)
    assert.matches("^%x+$", v.span_id)
    assert.are.equal(16, #v.span_id)
  end)

  it("an error carries the call's fields with their types", function()
    local v = setup:run(SHAPE .. [[
      sim.faults{ { fault = "bad_request" } }
      local ok, err = pcall(nyx.call, { prompt = "Name three rivers", max_tokens = 30 })
      return { ok = ok, types = { attempts = math.type(err.attempts), latency_ms = math.type(err.latency_ms),
                                  ttfb_ms = math.type(err.ttfb_ms), route = math.type(err.route),
                                  from_cache = type(err.from_cache), fallback_used = type(err.fallback_used),
                                  model_requested = type(err.model_requested),
                                  interaction_id = type(err.interaction_id), where = type(err.where) },
               where = err.where }
    ]])
    assert.is_false(v.ok)
    assert.are.same({ attempts = "integer", latency_ms = "float", ttfb_ms = "float", route = "integer",
                      from_cache = "boolean", fallback_used = "boolean", model_requested = "string",
                      interaction_id = "string", where = "string" }, v.types)
  end)
end)
