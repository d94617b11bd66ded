-- A research loop with two Lua tools: the model searches a small library and reads what it
-- finds; the reader fails once (as a flaky source would) and the model sees that failure as
-- an error result, not a crash. nyx runs the loop: every iteration is an ordinary logged,
-- budgeted, cached call.
-- Run: nyx run examples/tools.lua   (on the built-in simulator when no API key is set)
local nyx = require "nyx"

local library = {
  ["cache pricing"] = "Cache reads cost a tenth of input tokens on most models; writes cost 1.25x (5 minutes) or 2x (1 hour).",
  ["tool use"] = "A tool_use block must be answered by a tool_result in the next user turn.",
  ["batches"] = "Message Batches bill every token at half price and finish within 24 hours.",
}

-- The system prompt is long and shared by every iteration: the loop reads it from the cache.
local guide = { "You are a careful research assistant. Use the tools, cite what you read." }
for i = 1, 400 do
  guide[#guide + 1] = ("Guideline %d: prefer primary sources, quote exactly, and note the date of each source you use."):format(i)
end

local search = nyx.tool{
  name = "search",
  description = "Find library entries whose title contains the query",
  input = { type = "object", properties = { query = { type = "string" } }, required = { "query" } },
  run = function(input)
    local hits = {}
    for title in pairs(library) do
      if title:find(input.query:lower(), 1, true) or input.query:lower():find(title, 1, true) then
        hits[#hits + 1] = title
      end
    end
    table.sort(hits)
    return #hits > 0 and table.concat(hits, "\n") or "no entry matches " .. input.query
  end,
}

local failed_once = false
local read = nyx.tool{
  name = "read",
  description = "Read one library entry by its title",
  input = { type = "object", properties = { title = { type = "string" } }, required = { "title" } },
  run = function(input)
    if not failed_once then
      failed_once = true
      error("the library server timed out; try again")
    end
    return library[input.title] or ("no entry titled " .. input.title)
  end,
}

local s <close> = nyx.session{ name = "research" }
local r = nyx.call{
  system = table.concat(guide, "\n"),
  prompt = "What does caching cost, and how does tool use work? Use the tools.",
  tools = { search, read },
  max_iterations = 6,
  session = s,
}

print(("iterations: %d, stop: %s"):format(r.iterations, r.stop_reason))
for i, m in ipairs(r.messages) do
  if type(m.content) == "table" then
    for _, b in ipairs(m.content) do
      if b.type == "tool_use" then
        print(("  %d %s called %s %s"):format(i, m.role, b.name, nyx.json_encode(b.input)))
      elseif b.type == "tool_result" then
        print(("  %d %s result%s: %s"):format(i, m.role, b.is_error and " (error)" or "", b.content))
      end
    end
  end
end
local u = r.total_usage
print(("tokens: %d input, %d output, %d cache reads, %d cache writes"):format(
  u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens))
print(("cost: $%.6f (without caching $%.6f)"):format(u.cost_usd or 0, u.cost_without_cache_usd or 0))
print("answer: " .. r.text)
