-- Thought trees through the Lua API and `nyx thoughts`: nodes made by scripts (from tasks as
-- well as the main chunk), calls that carry them, the tree read back from the database with
-- calls, tokens and cost rolled up, and clear errors for bad nodes. Against SQLite, and against
-- PostgreSQL when the test run has a server (NYX_TEST_PG), where a database that holds its
-- locks must not stop the loop: the tasks that wait on it wait, the others go on.
local H = require "helpers.nyx_case"
local DB = require "helpers.db"
local json = require "dkjson"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function thoughts(db, args)
  return sh(("env -u LD_PRELOAD %s thoughts --db %s %s"):format(H.quote(H.bin), H.quote(db), args or ""))
end

local setup = H.setups()[1]

describe("thought trees", function()
  teardown(function() setup:stop() end)

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

    local out, ok = thoughts(db, "--session plan --json")
    assert.is_true(ok, out)
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
      }) do
        local ok, err = pcall(nyx.thought, args)
        out[name] = { ok = ok, type = type(err) == "table" and err.type or tostring(err),
                      message = type(err) == "table" and err.message or tostring(err) }
      end
      out.after = nyx.thought{ label = "still fine", parent = root }
      return out
    ]], { env = { NYX_DB = DB.fresh(H.tempdir) } })
    assert.are.same({ false, "invalid_argument" }, { v.no_label.ok, v.no_label.type })
    assert.matches("label must be a string", v.no_label.message)
    for _, k in ipairs({ "zero_parent", "text_parent" }) do
      assert.are.same({ false, "invalid_argument" }, { v[k].ok, v[k].type })
      assert.matches("parent must be a node id", v[k].message)
    end
    assert.are.same({ false, "invalid_argument" }, { v.unknown_parent.ok, v.unknown_parent.type })
    assert.matches("parent node %d+ does not exist", v.unknown_parent.message)
    assert.is_true(v.after > 0, "a refused node leaves the tree usable")
  end)

  -- PostgreSQL answers over a socket the loop watches. Here another connection holds locks on
  -- the tables a thought, a budget status and a budgeted call need: those three wait, while a
  -- task that only sleeps goes on turning; when the locks go, all three finish.
  local pg_it = os.getenv("NYX_TEST_PG") and it or pending
  pg_it("a database holding its locks stops only the tasks that wait on it (PostgreSQL)", function()
    local db = DB.fresh(H.tempdir)
    local v = setup:run([[
      local uri = os.getenv("NYX_DB")
      local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
      local function psql(sql)
        local p = assert(io.popen("env -u LD_PRELOAD psql -X -q -t -A " .. q(uri) .. " -c " .. q(sql) .. " 2>&1"))
        local out = p:read("a")
        p:close()
        return out
      end
      local s = nyx.session{ name = "held", budget_usd = 1 }
      nyx.call{ prompt = "before the locks", max_tokens = 20, session = s }
      -- The locks end with this psql's input, or on their own after 30 s: a loop that froze
      -- would see them go by the timeout, and the case fails rather than hangs.
      local locker = assert(io.popen("env -u LD_PRELOAD psql -X -q -v ON_ERROR_STOP=1 " .. q(uri) .. " >/dev/null 2>&1", "w"))
      locker:write("SET idle_in_transaction_session_timeout = '30s';\nBEGIN;\n",
                   "LOCK TABLE budgets, thought_trees IN ACCESS EXCLUSIVE MODE;\n")
      locker:flush()
      local held = false
      for _ = 1, 400 do
        held = psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation" ..
                    " WHERE c.relname IN ('budgets', 'thought_trees') AND l.mode = 'AccessExclusiveLock'" ..
                    " AND l.granted"):match("^%s*2%s*$") ~= nil
        if held then break end
        nyx.sleep(0.05)
      end
      local finished = {}
      local thought = nyx.spawn(function()
        local id = nyx.thought{ label = "while the database waits", session = s }
        finished.thought = true
        return id
      end)
      local status = nyx.spawn(function()
        local rows = nyx.budget.status()
        finished.status = true
        return rows
      end)
      local call = nyx.spawn(function()
        local r = nyx.call{ prompt = "budgeted", max_tokens = 20, session = s }
        finished.call = true
        return r
      end)
      local ticks = 0
      local ticker = nyx.spawn(function()
        for _ = 1, 20 do
          nyx.sleep(0.01)
          ticks = ticks + 1
        end
      end)
      ticker:wait()
      local during = { thought = finished.thought or false, status = finished.status or false,
                       call = finished.call or false, ticks = ticks }
      locker:write("COMMIT;\n")
      locker:close()
      local id, rows, r = thought:wait(), status:wait(), call:wait()
      local scope
      for _, row in ipairs(rows) do
        if row.scope == "session:held" then scope = row end
      end
      return { held = held, during = during, id = id, scope = scope, text = r.text }
    ]], { env = { NYX_DB = db } })
    assert.is_true(v.held, "the other connection took the locks")
    assert.are.same({ thought = false, status = false, call = false, ticks = 20 }, v.during)
    assert.is_true(v.id > 0)
    assert.are.equal(1, v.scope.limit_usd)
    assert.is_true(#v.text > 0)
  end)
end)
