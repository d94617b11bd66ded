-- What nyx.call makes of an answer's blocks for the conversation that goes on from it:
-- r.messages is a new list holding the caller's own message tables, then the answer's blocks
-- (the very tables of r.content) with empty text blocks left out; r.thinking joins the
-- thinking blocks with "\n"; r.tool_calls is {id, name, input} of each tool_use block, input
-- {} when it has none. The simulator never answers with an empty text block, two thinking
-- blocks or a tool_use without input, so those answers are written into the response cache
-- of a database between two processes and served from it (SQLite read with its command).
local H = require "helpers.nyx_case"
local wire = require "helpers.wire"
local json = require "dkjson"

local ASK = [[
  local first = { role = "user", content = %q }
  local sent = { first }
  local r = nyx.call{ messages = sent, max_tokens = 30, model = "claude-haiku-4-5", temperature = 0 }
]]

-- Runs ASK in one process (its answer kept in db), replaces the kept answer with reply (an
-- object as the response cache writes it), and runs ASK then check in another process.
local function served(setup, question, reply, check)
  local db = H.tempdir() .. "/nyx.db"
  local env = { env = { NYX_DB = db, LLM_CACHE_ENABLED = "1" } }
  setup:run(ASK:format(question) .. "return r.from_cache", env)
  local text = json.encode(reply):gsub("'", "''")
  wire.sql(db, ("UPDATE llm_cache SET response_json = '%s'"):format(text))
  assert.are.equal(1, #wire.sql(db, "SELECT key FROM llm_cache"))
  return setup:run(ASK:format(question) .. check, env)
end

H.describe_setup("the conversation a result continues", function(setup)
  it("keeps the caller's message tables in a new list and appends the answer's own blocks", function()
    local v = setup:run [[
      local first = { role = "user", content = "My name is Ada." }
      local second = { role = "assistant", content = "Hello Ada." }
      local third = { role = "user", content = "What is my name?" }
      local sent = { first, second, third }
      local r = nyx.call{ messages = sent, max_tokens = 30 }
      local m = r.messages
      local same_blocks = #m[4].content == #r.content
      for i, b in ipairs(m[4].content) do same_blocks = same_blocks and rawequal(b, r.content[i]) end
      return { new_list = not rawequal(m, sent), nsent = #sent, n = #m,
               own = rawequal(m[1], first) and rawequal(m[2], second) and rawequal(m[3], third),
               role = m[4].role, fields = m[4].content ~= nil and m[4].role ~= nil, same_blocks = same_blocks }
    ]]
    assert.is_true(v.new_list, "r.messages is not the caller's list")
    assert.are.equal(3, v.nsent, "the caller's list is left as it was")
    assert.are.equal(4, v.n)
    assert.is_true(v.own, "the caller's own message tables, not copies")
    assert.are.equal("assistant", v.role)
    assert.is_true(v.same_blocks, "the answer's turn holds r.content's block tables")
  end)

  it("leaves empty text blocks out, joins the thinking, and gives a tool call without input {}", function()
    local content = {
      { type = "thinking", thinking = "First thought.", signature = "s1" },
      { type = "text", text = "" },
      { type = "thinking", thinking = "Second thought.", signature = "s2" },
      { type = "text", text = "Looking it up." },
      { type = "tool_use", id = "toolu_1", name = "lookup" },
      { type = "tool_use", id = "toolu_2", name = "lookup", input = { q = "order 42" } },
      { type = "redacted_thinking", data = "abc" },
    }
    local v = served(setup, "Shapes of an answer", {
      id = "msg_shapes", model = "claude-haiku-4-5", stop_reason = "tool_use", text = "Looking it up.",
      content = json.encode(content), output_tokens = 9 }, [=[
      local m = r.messages
      local reply, from = m[2].content, { 1, 3, 4, 5, 6, 7 }
      local same = #reply == #from
      for i, b in ipairs(reply) do same = same and rawequal(b, r.content[from[i]]) end
      return { from_cache = r.from_cache, n = #m, own = rawequal(m[1], first), nsent = #sent,
               role = m[2].role, nreply = #reply, same = same, thinking = r.thinking,
               calls = r.tool_calls, empty_input = next(r.tool_calls[1].input) == nil,
               input_shared = rawequal(r.tool_calls[2].input, r.content[6].input) }
    ]=])
    assert.is_true(v.from_cache, "the answer written into the database")
    assert.are.equal(2, v.n)
    assert.is_true(v.own)
    assert.are.equal(1, v.nsent)
    assert.are.equal("assistant", v.role)
    assert.are.equal(6, v.nreply, "the empty text block left out")
    assert.is_true(v.same, "every other block, in order, the very tables of r.content")
    assert.are.equal("First thought.\nSecond thought.", v.thinking)
    assert.are.same({ { id = "toolu_1", name = "lookup", input = {} },
                      { id = "toolu_2", name = "lookup", input = { q = "order 42" } } }, v.calls)
    assert.is_true(v.empty_input)
    assert.is_true(v.input_shared, "a tool call's input is its block's table")
  end)

  it("an answer of one empty text block adds no turn; one kept without blocks is its text", function()
    local empty = served(setup, "Say nothing", {
      id = "msg_empty", model = "claude-haiku-4-5", stop_reason = "end_turn", text = "",
      content = json.encode({ { type = "text", text = "" } }), output_tokens = 0 }, [[
      return { from_cache = r.from_cache, n = #r.messages, own = rawequal(r.messages[1], first),
               ncontent = #r.content, ncalls = #r.tool_calls, thinking = r.thinking }
    ]])
    assert.is_true(empty.from_cache)
    assert.are.same({ from_cache = true, n = 1, own = true, ncontent = 1, ncalls = 0 }, empty)
    local plain = served(setup, "Plain shapes", {
      id = "msg_plain", model = "claude-haiku-4-5", stop_reason = "end_turn", text = "Plain.", output_tokens = 2 }, [[
      return { from_cache = r.from_cache, content = r.content, m = r.messages, ncalls = #r.tool_calls }
    ]])
    assert.is_true(plain.from_cache)
    assert.is_nil(plain.content, "no blocks were kept")
    assert.are.same({ { role = "user", content = "Plain shapes" },
                      { role = "assistant", content = { { type = "text", text = "Plain." } } } }, plain.m)
    assert.are.equal(0, plain.ncalls)
  end)

  it("keeps an integer past 2^53 of a tool input served from the response cache whole", function()
    local v = served(setup, "A wide id", {
      id = "msg_wide", model = "claude-haiku-4-5", stop_reason = "tool_use", text = "",
      content = '[{"type":"tool_use","id":"toolu_w","name":"lookup","input":{"id":9007199254740993}}]',
      output_tokens = 9 }, [[
      local id = r.tool_calls[1].input.id
      return { from_cache = r.from_cache, id = math.type(id) .. " " .. tostring(id) }
    ]])
    assert.is_true(v.from_cache)
    assert.are.equal("integer 9007199254740993", v.id, "cJSON alone read 9007199254740992")
  end)
end)
