-- Makes the calls whose records tests/data/store_v5.sql holds: a database of schema version 5
-- (requests stored whole), written by nyx before requests were stored in parts. Regenerate with
-- a nyx of that version: NYX_DB=v5.db NYX_PROVIDER=sim nyx run tests/data/store_v5.lua, then
-- (echo "PRAGMA user_version = 5;"; sqlite3 v5.db .dump) > tests/data/store_v5.sql
local nyx = require "nyx"
local system = ("You are the support desk of a large library. " ):rep(80)
for i = 1, 3 do
  nyx.call{ system = { { text = system, cache = true } }, prompt = "Question number " .. i .. "?", max_tokens = 16 }
end
-- A conversation sent again with its answer and a new turn.
local long = ("Here is a chapter of the book to discuss. "):rep(20)
local r = nyx.call{ messages = { { role = "user", content = long } }, max_tokens = 16 }
nyx.call{ messages = { { role = "user", content = long }, { role = "assistant", content = r.text },
                       { role = "user", content = "And then?" } }, max_tokens = 16 }
-- Tools with a long description; personal data in a long prompt (redacted when stored).
local search = nyx.tool{ name = "search", description = ("Searches the catalogue by title, author or subject. "):rep(8),
                         input = { type = "object", properties = { q = { type = "string" } }, required = { "q" } } }
nyx.call{ prompt = "Find a book.", tools = { search }, tool_choice = { type = "none" }, max_tokens = 16 }
nyx.call{ prompt = "Write to alice@example.com about " .. ("the overdue books "):rep(20), max_tokens = 16 }
nyx.call{ prompt = "hello", max_tokens = 8 }
pcall(nyx.call, { prompt = "hello", max_tokens = 8, model = "claude-no-such-model" })
print("ok")
