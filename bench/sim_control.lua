-- What the benchmarks that run against `nyx sim` over HTTP share: its control endpoints and
-- the ~1.1k-token system prompt their cache comparisons stand on (the same words, so figures
-- of different benchmarks are of the same prefix). Loaded with dofile beside the script:
-- bench/ is not on package.path.
local json = require "dkjson"

local M = {}

local base = assert(os.getenv("ANTHROPIC_BASE_URL"), "ANTHROPIC_BASE_URL must point at `nyx sim`")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- One request to the simulator's control API (/sim/...); returns its decoded JSON answer.
function M.control(method, path, body)
  local cmd = ("env -u LD_PRELOAD curl -s -S -X %s %s"):format(method, q(base .. path))
  if body then cmd = cmd .. " -H 'content-type: application/json' --data-binary " .. q(json.encode(body)) end
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return assert(json.decode(out), "the simulator answered: " .. out)
end

--- About 1,100 tokens of instructions (22 a line in the simulator's count) after `first`.
function M.system(first)
  local lines = { first }
  local words = { "revenue", "margin", "customers", "retention", "inventory", "forecast",
                  "regional", "growth", "pricing", "channel", "partners", "capacity" }
  for i = 1, 49 do
    lines[#lines + 1] = ("Rule %d: weigh the %s of %s against %s in the %s quarter."):format(i,
      words[i % 12 + 1], words[(i * 5) % 12 + 1], words[(i * 7) % 12 + 1], words[(i * 11) % 12 + 1])
  end
  return table.concat(lines, "\n")
end

return M
