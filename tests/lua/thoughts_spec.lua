-- Thought trees through the Lua API and `nyx thoughts`: nodes made by scripts (from tasks as
-- well as the main chunk), calls that carry them, the tree read back from the database with
-- calls, tokens and cost rolled up, and clear errors for bad nodes. Against SQLite, and against
-- PostgreSQL when the test run has a server (NYX_TEST_PG).
local H = require "helpers.nyx_case"
local DB = require "helpers.db"
local json = require "dkjson"

local function thoughts(db, args)
  return H.nyx(db, "thoughts " .. args)
end

H.describe_setup("thought trees", function(setup)
  it("scripts build a tree, calls carry its nodes, and nyx thoughts rolls them up", function()
    local db = DB.fresh(H.tempdir)
    local v = setup:run([[
      local s = nyx.session{ name = "plan" }
      local root = nyx.thought{ label = "root", session = s }
      local a = nyx.thought{ label = "branch a", parent = root, session = s }
      local b = nyx.thought{ label = "branch b", parent = root, session = "plan" }
      -- Leaves made by tasks at once each get a node of their own.
      local tasks, leaves = {}, {}
      for i = 1, 8 do
        tasks[i] = nyx.spawn(function()
          leaves[i] = nyx.thought{ label = "leaf " .. i, parent = a, session = s }
        end)
      end
      for i = 1, 8 do tasks[i]:wait() end
      local usage = {}
      for i, node in ipairs({ a, leaves[1], leaves[2], b }) do
        local r = nyx.call{ prompt = "step " .. i, max_tokens = 20, session = s, thought = node }
        usage[i] = r.usage.input_tokens + r.usage.output_tokens
      end
      nyx.call{ prompt = "unplanned", max_tokens = 20, session = s }
      return { root = root, a = a, b = b, leaves = leaves, usage = usage }
    ]], { env = { NYX_DB = db } })
    local seen = { [v.root] = true, [v.a] = true, [v.b] = true }
    for i = 1, 8 do
      assert.is_true(math.type(v.leaves[i]) == "integer" and v.leaves[i] > 0)
      assert.is_nil(seen[v.leaves[i]], "each node has its own id")
      seen[v.leaves[i]] = true
    end

    local out, code = thoughts(db, "--session plan --json")
    assert.are.equal(0, code, out)
    local nodes = {}
    for line in out:gmatch("[^\n]+") do
      local n = assert(json.decode(line), line)
      nodes[n.id] = n
    end
    local u = v.usage
    assert.are.same({ calls = 4, tokens = u[1] + u[2] + u[3] + u[4] },
                    { calls = nodes[v.root].calls, tokens = nodes[v.root].tokens })
    assert.are.same({ calls = 3, tokens = u[1] + u[2] + u[3] },
                    { calls = nodes[v.a].calls, tokens = nodes[v.a].tokens })
    assert.are.same({ calls = 1, tokens = u[4], parent = v.root },
                    { calls = nodes[v.b].calls, tokens = nodes[v.b].tokens, parent = nodes[v.b].parent_id })
    assert.are.same({ calls = 1, parent = v.a }, { calls = nodes[v.leaves[2]].calls, parent = nodes[v.leaves[2]].parent_id })
    assert.are.equal(0, nodes[v.leaves[3]].calls)
    assert.is_true(nodes[v.root].cost > 0)
    assert.is_true(math.abs(nodes[v.root].cost - nodes[v.a].cost - nodes[v.b].cost) < 1e-9,
                   "a node's cost is its subtree's")

    -- The plain tree: children indented under their parent, in the order they were made.
    local plain = assert(thoughts(db, "--session plan"))
    local lines = {}
    for line in plain:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(11, #lines, plain)
    assert.matches("^#" .. v.root .. "  label=root  calls=4  tokens=" .. (u[1] + u[2] + u[3] + u[4]), lines[1])
    assert.matches("^  #" .. v.a .. "  label=branch a  calls=3", lines[2])
    assert.matches("^    #%d+  label=leaf %d  calls=", lines[3])
    assert.matches("^  #" .. v.b .. "  label=branch b  calls=1", lines[11])
  end)

  it("bad nodes are refused with an error table naming the problem", function()
    local v = setup:run([[
      local root = nyx.thought{ label = "root" }
      local out = {}
      for name, args in pairs({
        no_label = { parent = root },
        zero_parent = { label = "x", parent = 0 },
        text_parent = { label = "x", parent = "one" },
        unknown_parent = { label = "x", parent = root + 1000 },
        empty_label = { label = "", parent = root },
        table_session = { label = "x", session = {} },
        empty_session = { label = "x", session = "" },
      }) do
        local ok, err = pcall(nyx.thought, args)
        out[name] = { ok = ok, type = type(err) == "table" and err.type or tostring(err),
                      message = type(err) == "table" and err.message or tostring(err) }
      end
      out.after = nyx.thought{ label = "still fine", parent = root }
      return out
    ]], { env = { NYX_DB = DB.fresh(H.tempdir) } })
    assert.are.same({ false, "invalid_argument" }, { v.no_label.ok, v.no_label.type })
    assert.matches("label must be a non%-empty string", v.no_label.message)
    assert.are.same({ false, "invalid_argument" }, { v.empty_label.ok, v.empty_label.type })
    assert.matches("label must be a non%-empty string", v.empty_label.message)
    for _, k in ipairs({ "table_session", "empty_session" }) do
      assert.are.same({ false, "invalid_argument" }, { v[k].ok, v[k].type })
      assert.matches("session must be a session or its name", v[k].message)
    end
    for _, k in ipairs({ "zero_parent", "text_parent" }) do
      assert.are.same({ false, "invalid_argument" }, { v[k].ok, v[k].type })
      assert.matches("parent must be a node id", v[k].message)
    end
    assert.are.same({ false, "invalid_argument" }, { v.unknown_parent.ok, v.unknown_parent.type })
    assert.matches("parent node %d+ does not exist", v.unknown_parent.message)
    assert.is_true(v.after > 0, "a refused node leaves the tree usable")
  end)
  -- A call's thought is a node id as nyx.thought gives it: a name or any other text (a label
  -- given where its node was meant) is refused, naming the option, before anything is sent.
  it("a call with a thought that is not a node id is refused before it is sent", function()
    local v = setup:run([[
      local out = {}
      for name, value in pairs({ text = "no-such-thought", fraction = 1.5, zero = 0 }) do
        local ok, err = pcall(nyx.call, { prompt = "x", max_tokens = 5, thought = value })
        out[name] = { ok = ok, type = type(err) == "table" and err.type or tostring(err),
                      message = type(err) == "table" and err.message or tostring(err) }
      end
      out.sent = sim.sent()
      return out
    ]], { env = { NYX_DB = DB.fresh(H.tempdir) } })
    for _, k in ipairs({ "text", "fraction", "zero" }) do
      assert.are.same({ false, "invalid_argument" }, { v[k].ok, v[k].type }, k)
      assert.matches("thought must be a node id from nyx.thought", v[k].message)
    end
    assert.are.equal(0, v.sent, "nothing reached the server")
  end)
end)
