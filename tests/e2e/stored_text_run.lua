-- Personal data planted in every free text and name that reaches storage (see stored_text.sh).
local nyx = require "nyx"
local s = nyx.session{ name = "session of alice.session@example.com", budget_usd = 1 }
local other = nyx.session{ name = "session of bob.session@example.com", budget_usd = 1 }
local root = nyx.thought{ label = "card 4111 1111 1111 1111 in a thought", session = s }
nyx.thought{ parent = root, label = "child of erin.thought@example.com", session = s }
nyx.call{ prompt = "hello", max_tokens = 8, session = s, thought = root }
nyx.call{ prompt = "hello", max_tokens = 8, session = other }
nyx.call{ prompt = "hello", max_tokens = 8, agent = "agent of dave.agent@example.com" }
-- A reply that quotes its prompt: the simulator's names the prompt's first words as its topic.
local quoted = nyx.call{ prompt = "henry.reply@example.com asks where the order is", max_tokens = 30 }
assert(quoted.text:find("henry.reply@example.com", 1, true), "the simulator did not quote the prompt")
-- An API error that quotes what it was sent: the unknown model's name comes back in the
-- message, and is the requested model and part of the attempt log.
-- First a clean name as long, which the store's filter remembers as clean: the planted one
-- must still be scanned.
assert(not pcall(nyx.call, { prompt = "hello", max_tokens = 8, model = "claude-frank.model-example.com" }))
local ok, err = pcall(nyx.call, { prompt = "hello", max_tokens = 8, model = "claude-frank.model@example.com" })
assert(not ok and err.message:find("frank.model@example.com", 1, true), "the simulator did not quote the model")
nyx.templates.create("planted", "Write to carol.template@example.com about {{topic}}; card 5555 5555 5555 4444.")
nyx.audit("planted", "reported by gina.audit@example.com", { session = s })
-- Budget alerts still find such a session: its budget row is under the name as stored.
-- Four calls under a large limit, then a limit that the fifth call takes past half.
local a = nyx.session{ name = "alerts for zed.alert@example.com", budget_usd = 1 }
local c
for _ = 1, 4 do c = nyx.call{ prompt = "price", max_tokens = 8, session = a }.usage.cost_usd end
local heard = {}
nyx.on("budget_alert", function(ev) heard[#heard + 1] = ev.scope end)
nyx.budget.limit("session:alerts for zed.alert@example.com", 9.9 * c)
nyx.call{ prompt = "price", max_tokens = 8, session = a }
for _ = 1, 50 do if #heard > 0 then break end nyx.sleep(0.02) end
assert(#heard > 0, "no budget alert for a session whose name holds personal data")
print("ok")
