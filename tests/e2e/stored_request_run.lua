-- Calls whose requests share long text (see stored_request.sh): a system prompt holding an
-- e-mail address under several questions, a conversation sent again every turn, a tool list.
-- Prints each interaction's id, in the order the calls were made.
local nyx = require "nyx"
-- Over 64 KB, so libcurl sends these requests through its upload buffer (16 KB, call_http.c)
-- in several fills rather than with the headers: what the server receives must still be whole.
local system = ("You answer for the library; write to alice.dedupe@example.com when unsure. "):rep(900)
for i = 1, 4 do
  local r = nyx.call{ system = { { text = system, cache = true } }, prompt = "Question " .. i .. "?", max_tokens = 16 }
  print(r.interaction_id)
end
local msgs = {}
for t = 1, 3 do
  msgs[#msgs + 1] = { role = "user", content = ("Turn " .. t .. " of a long talk about old maps. "):rep(12) }
  local r = nyx.call{ messages = msgs, max_tokens = 16 }
  print(r.interaction_id)
  msgs[#msgs + 1] = { role = "assistant", content = r.text }
end
local search = nyx.tool{ name = "search", description = "Searches the catalogue by title or author.",
                         input = { type = "object", properties = { q = { type = "string", description = ("Words to look for. "):rep(20) } }, required = { "q" } } }
for i = 1, 2 do
  print(nyx.call{ prompt = "Find book " .. i .. ".", tools = { search }, tool_choice = { type = "none" }, max_tokens = 16 }.interaction_id)
end
