-- Errors raised through the Lua library (agents, councils, gather, pii) are error tables like
-- the engine's own: a type, the error metatable (tostring gives "where type: message"), and
-- `where` naming the script's line, never empty and never a line of the library.
local H = require "helpers.nyx_case"

H.describe_setup("error tables raised through the Lua library", function(setup)
  it("name the script's line in where, and print as the engine's do", function()
    local v = setup:run [[
      local a = nyx.agent{ name = "writer" }
      local function catch(f)
        local ok, e = pcall(f)
        assert(not ok, "expected an error")
        return { type = type(e) == "table" and e.type or "string: " .. tostring(e),
                 where = type(e) == "table" and e.where, str = tostring(e) }
      end
      local out = {}
      out.create_template = catch(function() local r = a:create_template("", "text") return r end)
      out.create_template_dot = catch(function() local r = a.create_template("x", "text") return r end)
      out.agent = catch(function() local r = nyx.agent{ name = "" } return r end)
      out.agent_call = catch(function() local r = a:call{ prompt = "x", model = "no-such-model", max_tokens = 5 } return r end)
      out.agent_call_arg = catch(function() local r = a:call(5) return r end)
      out.council = catch(function() local r = nyx.council{} return r end)
      out.gather = catch(function() local r = nyx.gather(1) return r end)
      out.pii = catch(function() local r = nyx.pii({ prompt = "x" }, "shout") return r end)
      out.raise_needs_type = catch(function() nyx.raise({ message = "no type" }) end)
      out.raise_level = catch(function() nyx.raise({ type = "x" }, "up") end)
      out.pii_describe = catch(function() local r = nyx.pii.describe(false) return r end)
      -- The templates' own function raises the same table as the agent's.
      out.templates_create = catch(function() local r = nyx.templates.create("", "text") return r end)
      return out
    ]]
    for name, e in pairs(v) do
      assert.is_truthy(e.type:match("^[%w_]+$"), name .. " raised " .. e.type)
      assert.is_truthy(e.where and e.where:match("%.lua:%d+: $"), name .. ": where is " .. tostring(e.where))
      assert.is_nil(e.where:match("nyx/[%w_]+%.lua"), name .. ": where names the library: " .. e.where)
      assert.are.equal(e.where, e.str:sub(1, #e.where), name .. ": tostring starts with where")
    end
    assert.are.equal("invalid_argument", v.create_template.type)
    assert.are.equal(v.templates_create.type, v.create_template.type)
    assert.are.equal("invalid_argument", v.agent.type)
    assert.are.equal("invalid_argument", v.council.type)
    assert.are.equal("invalid_argument", v.gather.type)
    assert.are.equal("invalid_argument", v.pii.type)
    assert.are.equal("invalid_argument", v.raise_needs_type.type)
    assert.are.equal("invalid_argument", v.raise_level.type)
    assert.are.equal("invalid_argument", v.pii_describe.type)
  end)
end)
