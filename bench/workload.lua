-- The workload of issue 19, as a new user runs it: `calls` calls (default 2,000), `inflight` in
-- flight (default 64), each with the same ~2.4k-token system prompt (about 15 KB of text,
-- cached) and a different question, through `nyx run` with the default database (nyx.db in the
-- working directory) and storage mode. bench/workload.sh starts the server (`nyx sim` over
-- HTTP with zero delays) and measures the process from outside (CPU, peak RSS); this prints
-- what only the script sees: the rate of calls, the CPU of the calls alone (without start-up)
-- and the resident memory after each of `marks` calls (e.g. --var marks=10000,50000,100000).
local nyx = require "nyx"

local n = tonumber(nyx.vars.calls or "2000")
local k = tonumber(nyx.vars.inflight or "64")
local marks = {}
for m in (nyx.vars.marks or ""):gmatch("%d+") do marks[tonumber(m)] = true end

-- Prose that reads like a real instruction block: a fixed pseudo-random walk over a word list,
-- so the scanner and the tokenizer see varied text, the same in every run.
local words = { "the", "assistant", "answers", "customer", "questions", "about", "orders", "and",
  "shipping", "always", "politely", "with", "short", "clear", "sentences", "never", "invent",
  "policy", "details", "refunds", "take", "five", "business", "days", "after", "return",
  "arrives", "at", "warehouse", "escalate", "complaints", "to", "human", "agent", "when",
  "asked", "twice", "keep", "tone", "warm", "but", "precise", "use", "metric", "units", "quote",
  "prices", "in", "euros", "include", "tax", "where", "applicable" }
local parts, seed, size = {}, 12345, 0
while size < 15000 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  local w = words[seed % #words + 1]
  parts[#parts + 1] = w
  size = size + #w + 1
  if #parts % 14 == 0 then parts[#parts] = w .. "." end
end
local system = table.concat(parts, " ")
-- --var prompts=N: N different system prompts (the same text after a line of its own), taken
-- in turn, as a service with a prompt per customer sends them.
local systems = {}
for j = 1, tonumber(nyx.vars.prompts or "1") do
  systems[j] = j == 1 and system or ("Customer %d.\n"):format(j) .. system
end
if nyx.vars.print_system == "1" then -- bench/compare.sh gives the same prompt to the SDK
  io.write(system)
  return
end

local function rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return (tonumber(s:match("VmRSS:%s*(%d+)")) or 0) / 1024
end

local next_call, done, failed, input_tokens = 1, 0, 0, 0
local wall0, cpu0 = nyx.now(), os.clock()
local function worker()
  while next_call <= n do
    local i = next_call
    next_call = next_call + 1
    local ok, r = pcall(nyx.call, { system = systems[(i - 1) % #systems + 1], prompt = "Question " .. i .. ": where is order " .. (i * 7919) % 100000 .. "?",
                                     max_tokens = 16 })
    done = done + 1
    if not ok then failed = failed + 1 elseif i == 1 then input_tokens = r.usage.input_tokens + r.usage.cache_read_input_tokens + r.usage.cache_creation_input_tokens end
    if marks[done] then print(("rss_after_%d_calls_mb: %.1f"):format(done, rss_mb())) end
  end
end
local tasks = {}
for w = 1, k do tasks[w] = nyx.spawn(worker) end
for _, t in ipairs(tasks) do t:wait() end
local wall, cpu = nyx.now() - wall0, os.clock() - cpu0
print(("calls: %d (%d in flight, %d failed, system prompt %d bytes, %d input tokens a call)"):format(n, k, failed, #system, input_tokens))
print(("calls_per_second: %.0f"):format(n / wall))
print(("cpu_per_call_us_after_start: %.1f"):format(cpu / n * 1e6))
local s = nyx.stats()
print(("cache_hit_rate: %.3f"):format(s.cache_hit_rate or 0))
if failed > 0 then os.exit(1) end
