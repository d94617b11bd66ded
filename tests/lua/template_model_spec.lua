-- A template's front matter may name the model it was written for (`model:`): a call made
-- with template= and no model= uses it; model= still wins, and a template without a hint (or
-- one that cannot be found) leaves the default model.
local H = require "helpers.nyx_case"

H.describe_setups("the model hint of a template", function(setup)
  it("chooses the model of a call made with template= that names none", function()
    local v = setup:run [[
      nyx.templates.create("hinted", "---\nmodel: claude-sonnet-5-5\n---\nSay {{what}}.")
      nyx.templates.create("plain", "Say {{what}}.")
      local hinted = nyx.templates.render("hinted", { what = "hi" })
      local plain = nyx.templates.render("plain", { what = "hi" })
      local a = nyx.call{ prompt = hinted, template = "hinted", max_tokens = 5 }
      local b = nyx.call{ prompt = hinted, template = "hinted", model = "claude-haiku-4-5", max_tokens = 5 }
      local c = nyx.call{ prompt = plain, template = "plain", max_tokens = 5 }
      local d = nyx.call{ prompt = plain, template = "hinted@1", max_tokens = 5 }
      local default = nyx.call{ prompt = plain, max_tokens = 5 }
      local sent = {}
      for _, q in ipairs(sim.requests()) do
        if q.path == "/v1/messages" then sent[#sent + 1] = q.model end
      end
      return { a = a.model, b = b.model, c = c.model, d = d.model, default = default.model, sent = sent }
    ]]
    assert.are.not_equal("claude-sonnet-5-5", v.default, "the hint is not the default model")
    assert.are.equal("claude-sonnet-5-5", v.a)
    assert.are.equal("claude-haiku-4-5", v.b)
    assert.are.equal(v.default, v.c, "no hint: the default model")
    assert.are.equal("claude-sonnet-5-5", v.d, "a pinned version's hint")
    assert.are.same({ "claude-sonnet-5-5", "claude-haiku-4-5", v.default, "claude-sonnet-5-5", v.default }, v.sent)
  end)
end)
