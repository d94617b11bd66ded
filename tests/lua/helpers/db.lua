--- A database of its own for each test case: a new database on the test run's PostgreSQL
--- server when NYX_TEST_PG names the file holding its URI (tests/pg/cluster.sh writes it),
--- else a new SQLite file. The same suites run against both backends this way.
local H = require "helpers.nyx_case"
local quote, read = H.quote, H.read

local M = {}

local seq, tag = 0, nil

function M.fresh(tempdir)
  local file = os.getenv("NYX_TEST_PG")
  if not file or file == "" then return tempdir() .. "/nyx.db" end
  local base = assert(read(file), "NYX_TEST_PG: cannot read " .. file):gsub("%s+$", "")
  if not tag then
    -- Spec processes run side by side, and math.random may start alike in each (its seed
    -- mixes the time with addresses that a sanitizer build can make equal): mktemp's random
    -- name tells this process's databases apart.
    local dir = tempdir()
    tag = dir:match("([^/.]+)$"):lower():gsub("[^%w]", "")
    os.remove(dir)
  end
  seq = seq + 1
  local name = string.format("nyx_case_%s_%d_%d", tag, os.time(), seq)
  -- psql is not instrumented: it must not inherit a preloaded sanitizer runtime.
  local p = assert(io.popen("env -u LD_PRELOAD psql -q -X -v ON_ERROR_STOP=1 " .. quote(base) ..
    " -c " .. quote("CREATE DATABASE " .. name) .. " 2>&1"))
  local out = p:read("a")
  assert(p:close(), "cannot create a test database: " .. out)
  return (base:gsub("/[^/?]*$", "/" .. name))
end

return M
