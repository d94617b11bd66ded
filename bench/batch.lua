-- Message Batches against standard calls: the same templated rows (a shared ~6,000-token
-- instruction prefix, above the model's cache minimum, then the row's ticket) as 1,000 standard
-- calls (the first alone, writing the prefix, the rest in parallel reading it) and as one
-- nyx.batch (whose requests read the prefix too).
-- Dollars from the engine's own accounting (each row's usage priced by the model table), the
-- engine's CPU per row (the simulator runs in another process: bench/run.sh starts `nyx sim`),
-- database bytes per row (NYX_DB must be a file), and the process's peak memory.
local nyx = require "nyx"

local rows = nyx.vars.short and 50 or 1000
local model = "claude-haiku-4-5"
local words = { "refund", "invoice", "login", "printer", "badge", "laptop", "network", "payroll" }
local rules = {}
for i = 1, 450 do
  rules[i] = ("Rule %d: a ticket about %s goes to the %s queue unless it mentions %s."):format(i,
    words[i % 8 + 1], words[(i * 3) % 8 + 1], words[(i * 5) % 8 + 1])
end
nyx.templates.create("bench_ticket", "{{desk}}\n" .. table.concat(rules, "\n") .. "\n\nTicket: {{ticket}}\nQueue:")
-- Each run has a prefix of its own (the desk line), so neither reads what the other wrote.
local function prompts_for(desk)
  local prompts = {}
  for i = 1, rows do
    local text = nyx.templates.render("bench_ticket", { desk = desk,
      ticket = ("ticket %d: my %s is broken"):format(i, words[i % 8 + 1]) })
    -- The rules are the shared prefix, marked; the ticket follows the mark.
    local cut = text:find("\n\nTicket:", 1, true)
    prompts[i] = { { text = text:sub(1, cut), cache = "1h" }, { text = text:sub(cut + 1) } }
  end
  return prompts
end

local db = os.getenv("NYX_DB")
local function db_bytes()
  local n = 0
  for _, suffix in ipairs({ "", "-wal" }) do
    local f = db and io.open(db .. suffix, "rb")
    if f then n = n + f:seek("end"); f:close() end
  end
  return n
end
local function peak_kb()
  local f = io.open("/proc/self/status")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

local function standard()
  local prompts = prompts_for("Service desk A")
  local tasks, cost = {}, 0
  local first = nyx.call{ model = model, messages = { { role = "user", content = prompts[1] } },
                          max_tokens = 20, cache = "1h" }
  cost = first.usage.cost_usd
  for i = 2, rows do
    tasks[i] = nyx.spawn(nyx.call, { model = model, messages = { { role = "user", content = prompts[i] } },
                                     max_tokens = 20, cache = "1h" })
  end
  for i = 2, rows do cost = cost + tasks[i]:wait().usage.cost_usd end
  return cost
end

local function batch()
  local prompts = prompts_for("Service desk B")
  local reqs = {}
  for i = 1, rows do
    reqs[i] = { id = "row" .. i, model = model, messages = { { role = "user", content = prompts[i] } },
                max_tokens = 20 }
  end
  local b = nyx.batch{ requests = reqs, name = "bench" }
  local cost, failed, reads, first_error = 0, 0, 0, nil
  for _, r, ok in b:results() do
    if ok then
      cost = cost + r.usage.cost_usd
      reads = reads + (r.usage.cache_read_input_tokens > 0 and 1 or 0)
    else
      failed = failed + 1
      first_error = first_error or (r.type .. ": " .. tostring(r.message))
    end
  end
  assert(failed == 0, failed .. " batch rows failed: " .. tostring(first_error))
  print(("batch_rows_reading_the_prefix: %d"):format(reads))
  return cost
end

local function measure(fn)
  local c0, b0, t0 = os.clock(), db_bytes(), nyx.now()
  local cost = fn()
  return cost, (os.clock() - c0) / rows * 1e6, (db_bytes() - b0) / rows, nyx.now() - t0
end

local std_cost, std_cpu, std_bytes = measure(standard)
local b_cost, b_cpu, b_bytes, b_wall = measure(batch)
print(("batch_rows: %d"):format(rows))
print(("batch_standard_usd: %.6f"):format(std_cost))
print(("batch_batch_usd: %.6f"):format(b_cost))
print(("batch_cost_vs_standard: %.3f"):format(b_cost / std_cost))
print(("batch_standard_cpu_us_per_row: %.0f"):format(std_cpu))
print(("batch_batch_cpu_us_per_row: %.0f"):format(b_cpu))
print(("batch_standard_db_bytes_per_row: %.0f"):format(std_bytes))
print(("batch_batch_db_bytes_per_row: %.0f"):format(b_bytes))
print(("batch_batch_wall_s: %.2f"):format(b_wall))
print(("batch_peak_rss_kb: %d"):format(peak_kb()))
