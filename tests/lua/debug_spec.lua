-- The debug view from stock lua5.4 (NYX_DEBUG=1): each raw exchange goes to stderr through
-- the writer lua/nyx/init.lua installs, or to NYX_DEBUG_FILE; the key masked, bodies as the
-- storage mode allows. (`nyx run --debug` and the error paths: tests/e2e/secret_hygiene.sh.)
local H = require "helpers.nyx_case"

local CASE = [[
  local r = nyx.call{ prompt = "Mail bob@example.com the figures.", max_tokens = 20 }
  local parts = {}
  nyx.call{ prompt = "Stream it.", max_tokens = 20, stream = function(t) parts[#parts + 1] = t end }
  return r.interaction_id
]]

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local s, e = text:find(plain, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

H.describe_setups("the debug view", function(setup)
  it("writes each request and response to stderr with NYX_DEBUG=1", function()
    local id, res = setup:run(CASE, { env = { NYX_DEBUG = "1" } })
    local err = res.stderr
    assert.are.equal(2, count(err, "nyx debug: >>> request ix_"), err)
    assert.are.equal(2, count(err, "nyx debug: <<< response ix_"), err)
    assert.truthy(err:find("nyx debug: >>> request " .. id .. " attempt 1 (claude-haiku-5-5)", 1, true))
    assert.truthy(err:find("\nPOST http://127.0.0.1:%d+/v1/messages\n"))
    assert.truthy(err:find("\nx%-api%-key: %*+\n"), "the key is starred: " .. err)
    assert.is_nil(err:find("test-key", 1, true))
    assert.truthy(err:find("HTTP 200", 1, true))
    assert.truthy(err:find("\nevent: content_block_delta\n", 1, true), "the SSE text")
    assert.truthy(err:find("[EMAIL]", 1, true))
    assert.is_nil(err:find("bob@example.com", 1, true), "redacted, the default storage mode")
  end)

  it("writes nothing without NYX_DEBUG, and to NYX_DEBUG_FILE when it is set", function()
    local _, quiet = setup:run(CASE)
    assert.is_nil(quiet.stderr:find("nyx debug", 1, true))
    local file = setup.dir .. "/debug.txt"
    os.remove(file)
    local _, res = setup:run(CASE, { env = { NYX_DEBUG = "1", NYX_DEBUG_FILE = file, NYX_STORAGE_MODE = "none" } })
    assert.is_nil(res.stderr:find("nyx debug", 1, true))
    local text = H.read(file) or ""
    assert.are.equal(2, count(text, "nyx debug: >>> request"), text)
    assert.truthy(text:find("\n%[request body: %d+ bytes, not shown: NYX_STORAGE_MODE=none%]\n"), text)
    assert.is_nil(text:find("figures", 1, true), "storage mode none: sizes only")
  end)
end)
