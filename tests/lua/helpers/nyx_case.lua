--- Runs Lua API test cases in fresh processes, against each provider a script can meet:
--- the in-process simulator (no API key) and a `nyx sim` server reached over HTTP through
--- ANTHROPIC_BASE_URL. A fresh process per case means a fresh engine (stats, cache policy,
--- configuration read at require time), and lets each case set its own environment.
---
--- A case is Lua source run as the body of a function, with these locals in scope:
---   nyx      require "nyx"
---   sim      the simulator's control endpoints: sim.faults{rule...}, sim.clear_faults(),
---            sim.requests() (the request log, decoded), sim.sent() (how many Messages
---            requests it holds), sim.hanging() (how many a hang fault holds now),
---            sim.reset(), sim.config{...},
---            sim.url(), sim.messages(json_body) (a plain POST /v1/messages),
---            sim.count_tokens(body_table) (the simulator's input token count)
---   context  context(salt, lines): cacheable business prose, unique per salt
---   notices  the engine's notices so far (the stderr lines it logged)
---   budget_row budget_row(scope): the row of nyx.budget.status() for scope, or nil
---   json     dkjson
---   slow     how many times slower than usual the case runs (10 under valgrind, else 1; H.slow
---            in a spec): a wait for the engine to get something under way scales by it, as
---            does a latency the engine's own work must fit in
--- What the case returns comes back to the spec as a Lua value (numbers exact, error tables
--- as plain tables with their tostring() kept in field `tostring`).
---
--- Under valgrind (the valgrind/* tests set NYX_TEST_VALGRIND to a valgrind command line), each
--- case's process and each `nyx sim` server run under it, and an error or leak it reports fails
--- the case. A case that cannot run there (it needs the engine to keep up with a clock) is
--- skipped with `if H.valgrind then pending("under valgrind: <why>") end`.
local json = require "dkjson"
local luassert = require "luassert"

local M = {}

M.bin = assert(os.getenv("NYX_BIN"), "NYX_BIN is not set (run through ctest)")
M.source_dir = assert(os.getenv("NYX_SOURCE_DIR"), "NYX_SOURCE_DIR is not set (run through ctest)")
M.valgrind = os.getenv("NYX_TEST_VALGRIND")
M.slow = M.valgrind and 10 or 1 -- a case's `slow`
-- The exit status valgrind gives a process it found errors or leaks in (--error-exitcode).
local VALGRIND_STATUS = 99
-- How long one case may run: one that hangs fails naming itself, its stderr kept, where the
-- whole spec used to run into ctest's limit and say nothing of which case or why.
local CASE_LIMIT_S = 120 * M.slow

--- A model the simulator serves but whose price nobody knows (cost must be nil).
M.UNPRICED_MODEL = "nyx-test-unpriced"

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  f:close()
end

local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

-- Every temporary directory this process made goes when it ends (busted closes the Lua state,
-- which runs finalizers): the databases of DB.fresh and the like were left behind, hundreds
-- in /tmp a run of the suite.
local made = {}
M._remove_made = setmetatable({}, { __gc = function()
  for first = 1, #made, 100 do
    local batch = {}
    for i = first, math.min(first + 99, #made) do batch[#batch + 1] = M.quote(made[i]) end
    os.execute("rm -rf " .. table.concat(batch, " "))
  end
end })

function M.tempdir()
  local dir = capture("mktemp -d \"${TMPDIR:-/tmp}/nyx-test.XXXXXX\""):gsub("%s+$", "")
  assert(dir ~= "", "mktemp failed")
  made[#made + 1] = dir
  return dir
end

function M.sleep(s)
  os.execute("sleep " .. s)
end

-- Only what a child needs passes through: the outer environment (an API key, a default
-- model, a budget) must not change what a test sees.
local PASS = { "PATH", "HOME", "TMPDIR", "LUA_PATH", "LUA_CPATH", "LD_PRELOAD", "ASAN_OPTIONS",
               "UBSAN_OPTIONS", "NYX_BIN", "NYX_SOURCE_DIR" }

--- "env -i K=V ..." for a child process.
function M.env_prefix(vars)
  local parts = { "env -i" }
  for _, k in ipairs(PASS) do
    local v = os.getenv(k)
    if v and (vars == nil or vars[k] == nil) then parts[#parts + 1] = k .. "=" .. M.quote(v) end
  end
  local keys = {}
  for k in pairs(vars or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if vars[k] ~= false then parts[#parts + 1] = k .. "=" .. M.quote(vars[k]) end
  end
  return table.concat(parts, " ")
end

-- ---- serialization of a case's result (child -> spec) ----

local SERIALIZER = [==[
local function __ser(v, seen)
  local t = type(v)
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v then return "(0/0)" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return ("%q"):format(v)
  end
  if t == "string" then return ("%q"):format(v) end
  if t == "table" then
    seen = seen or {}
    if seen[v] then return '"<cycle>"' end
    seen[v] = true
    local parts = {}
    for k, x in next, v do
      parts[#parts + 1] = "[" .. __ser(k, seen) .. "]=" .. __ser(x, seen)
    end
    local mt = getmetatable(v)
    if type(mt) == "table" and mt.__tostring and v.tostring == nil then
      parts[#parts + 1] = "tostring=" .. ("%q"):format(tostring(v))
    end
    seen[v] = nil
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return ("%q"):format("<" .. tostring(v) .. ">")
end
]==]

local PRELUDE = [==[
local __out_path = assert(os.getenv("NYX_TEST_OUT"))
local slow = tonumber(os.getenv("NYX_TEST_SLOW"))
local json = require "dkjson"
local nyx = require "nyx"
local notices = {}
-- Keep the notices for the case, and still print them as the library does.
nyx.set_log(function(_, msg)
  notices[#notices + 1] = msg
  io.stderr:write(msg, "\n")
end)

local sim = {}
local __sim_url = os.getenv("NYX_TEST_SIM_URL")
function sim.url()
  if not __sim_url then
    nyx.provider() -- starts the in-process simulator, whose notice names its address
    for _, n in ipairs(notices) do
      __sim_url = __sim_url or n:match("(http://127%.0%.0%.1:%d+)")
    end
  end
  return assert(__sim_url, "the simulator's address is unknown")
end
local function __q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function __curl(method, path, body, headers)
  -- curl is not instrumented: a sanitizer runtime preloaded into it can deadlock it.
  local cmd = ("env -u LD_PRELOAD curl -s -S -X %s %s"):format(method, __q(sim.url() .. path))
  for _, h in ipairs(headers or {}) do cmd = cmd .. " -H " .. __q(h) end
  if body then
    cmd = cmd .. " -H 'content-type: application/json' --data-binary " .. __q(body)
  end
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  assert(p:close(), "curl failed: " .. cmd)
  return out
end
local function __decode(text)
  local v, _, err = json.decode(text)
  assert(v ~= nil, ("not JSON (%s): %s"):format(tostring(err), text))
  return v
end
function sim.faults(rules)
  local r = __decode(__curl("POST", "/sim/faults", json.encode({ faults = rules })))
  assert(r.ok, "the simulator refused the faults: " .. json.encode(r))
end
function sim.clear_faults() assert(__decode(__curl("DELETE", "/sim/faults")).ok) end
function sim.reset() assert(__decode(__curl("POST", "/sim/reset")).ok) end
function sim.config(t)
  local r = __decode(__curl("POST", "/sim/config", json.encode(t)))
  assert(r.ttft_ms, "the simulator refused the config: " .. json.encode(r))
  return r
end
local __since = 0
--- The request log: what reached the server during this case, oldest first.
function sim.requests()
  local r = __decode(__curl("GET", "/sim/requests?since=" .. __since))
  return r.requests or {}
end
--- How many requests a "hang" fault holds now (they reach the log only once they end).
function sim.hanging() return __decode(__curl("GET", "/sim/hanging")).hanging end
--- How many Messages requests (POST /v1/messages) reached the server during this case.
function sim.sent()
  local n = 0
  for _, q in ipairs(sim.requests()) do if q.path == "/v1/messages" then n = n + 1 end end
  return n
end
--- A plain POST /v1/messages, as any HTTP client would send it.
function sim.messages(body)
  return __decode(__curl("POST", "/v1/messages", body,
    { "x-api-key: test-key", "anthropic-version: 2023-06-01" }))
end
--- The simulator's input token count of a Messages body (POST /v1/messages/count_tokens).
function sim.count_tokens(body)
  local r = __decode(__curl("POST", "/v1/messages/count_tokens", json.encode(body),
    { "x-api-key: test-key", "anthropic-version: 2023-06-01" }))
  return assert(r.input_tokens, "count_tokens failed: " .. json.encode(r))
end

-- A shared server: each case starts from a clean log, cache and fault list, with its own
-- latencies and no limits.
if os.getenv("NYX_TEST_SIM_PREPARE") then
  sim.reset()
  sim.config({ ttft_ms = tonumber(os.getenv("NYX_TEST_TTFT_MS")),
               token_ms = tonumber(os.getenv("NYX_TEST_TOKEN_MS")),
               rpm = 0, itpm = 0, otpm = 0, max_body = 0 })
  -- A request of an earlier case may still end (and be logged) after the reset, e.g. a hung
  -- one whose client has gone: the log of this case starts after a marker request.
  sim.count_tokens({ model = "claude-haiku-4-5", messages = { { role = "user", content = "marker" } } })
  for _, q in ipairs(sim.requests()) do
    if q.path == "/v1/messages/count_tokens" then __since = math.max(__since, q.n) end
  end
end

--- The row of nyx.budget.status() for a scope (of its current window, for a windowed scope).
local function budget_row(scope)
  local name = nyx.budget.scope(scope)
  for _, row in ipairs(nyx.budget.status()) do
    if row.scope == name then return row end
  end
end

--- Business prose of about 16 tokens per line (700 lines: about 11,000 tokens, above every
--- model's minimum cacheable length); salt makes the prefix unique.
local function context(salt, lines)
  local words = { "revenue", "margin", "customers", "retention", "inventory", "forecast",
                  "regional", "growth", "pricing", "channel", "partners", "capacity" }
  local out = { salt }
  for i = 1, lines or 700 do
    out[#out + 1] = ("Line %d: the %s of %s shifts with %s in the %s quarter."):format(i,
      words[i % 12 + 1], words[(i * 5) % 12 + 1], words[(i * 7) % 12 + 1], words[(i * 11) % 12 + 1])
  end
  return table.concat(out, "\n")
end
]==]

local EPILOGUE = [==[
local __ok, __value = xpcall(__case, function(e)
  if type(e) == "table" then return e end
  return debug.traceback(tostring(e), 2)
end)
local __f = assert(io.open(__out_path, "wb"))
__f:write("return ", __ser({ ok = __ok, value = __value, notices = notices }))
__f:close()
]==]

-- ---- setups ----

local Setup = {}
Setup.__index = Setup

local DEFAULTS = { ttft_ms = 5, token_ms = 0.02 }

local function models_file(dir)
  local path = dir .. "/models.json"
  M.write(path, json.encode({ models = { { id = M.UNPRICED_MODEL, aliases = {},
                                           min_cache_tokens = 1024 } } }))
  return path
end

--- The setups every Lua API case runs through.
---@param opts? {hosts?: string[], env?: table<string, string>}  hosts: "lua" (stock lua5.4,
--- default) and/or "nyx run"; env: variables every case of these setups runs with
function M.setups(opts)
  opts = opts or {}
  local hosts = opts.hosts or { "lua" }
  local list = {}
  for _, host in ipairs(hosts) do
    if host == "lua" then
      list[#list + 1] = setmetatable({ name = "the in-process simulator", host = host, http = false }, Setup)
    end
    -- Under valgrind, where every process is slow to start, the in-process simulator covers
    -- the Lua host alone: its server runs in the case's process, under the same valgrind.
    if not (M.valgrind and host == "lua") then
      list[#list + 1] = setmetatable({ name = "nyx sim over HTTP", host = host, http = true }, Setup)
    end
  end
  if #hosts > 1 then
    for _, s in ipairs(list) do s.name = s.name .. " (" .. s.host .. ")" end
  end
  for _, s in ipairs(list) do s.env = opts.env end
  return list
end

--- describe(title .. " through " .. setup name) for each of M.setups(opts), each setup stopped
--- after its cases; body(setup) declares them.
local function describe_on(title, setup, body)
  local busted = require "busted" -- a module sees busted's API only through its table
  busted.describe(title, function()
    busted.teardown(function() setup:stop() end)
    body(setup)
  end)
end
function M.describe_setups(title, body, opts)
  for _, setup in ipairs(M.setups(opts)) do describe_on(title .. " through " .. setup.name, setup, body) end
end
--- describe(title) on the first setup alone (the in-process simulator).
function M.describe_setup(title, body) describe_on(title, M.setups()[1], body) end

--- Starts `nyx sim` on a loopback port (for HTTP setups) and makes the temp directory.
function Setup:start()
  if self.dir then return end
  self.dir = M.tempdir()
  self.models = models_file(self.dir)
  self.count = 0
  if self.http then
    self.server = M.start_sim({ NYX_MODELS = self.models }, { "--ttft-ms", DEFAULTS.ttft_ms },
                              self.dir .. "/sim.out")
    self.url = self.server.url
  end
end

function Setup:stop()
  if self.server then
    M.stop_sim(self.server)
    self.server = nil
  end
  if self.dir then
    os.execute("rm -rf " .. M.quote(self.dir))
    self.dir = nil
  end
end

--- A fresh database file for one case, so that its log and audit trail can be read afterwards.
function Setup:new_db()
  self:start()
  self.dbs = (self.dbs or 0) + 1
  return ("%s/case%d.db"):format(self.dir, self.dbs)
end

--- Writes a file for the cases (e.g. a NYX_MODELS override) and returns its path.
function Setup:file(name, text)
  self:start()
  local path = self.dir .. "/" .. name
  M.write(path, text)
  return path
end

--- Runs a case in a fresh process.
--- Returns {ok = case returned normally, value = its return value or error, notices = the
--- engine's notices, stderr = the process's stderr, exited = the process exited with 0}.
---@param code string
---@param opts? {env?: table<string, string|false>, ttft_ms?: number, token_ms?: number}
function Setup:exec(code, opts)
  opts = opts or {}
  self:start()
  self.count = self.count + 1
  local base = ("%s/case%d"):format(self.dir, self.count)
  local env = {
    NYX_DB = ":memory:",
    NYX_MODELS = self.models,
    NYX_RETRY_BASE_SECONDS = "0.01",
    NYX_RETRY_MAX_SECONDS = "0.05",
    LLM_CACHE_ENABLED = "0", -- every call must reach the server: no response cache
    NYX_TEST_OUT = base .. ".out",
    NYX_TEST_SLOW = tostring(M.slow),
  }
  local ttft = opts.ttft_ms or DEFAULTS.ttft_ms
  local token = opts.token_ms or DEFAULTS.token_ms
  if self.http then
    env.ANTHROPIC_API_KEY = "test-key"
    env.ANTHROPIC_BASE_URL = self.url
    env.NYX_TEST_SIM_URL = self.url
    env.NYX_TEST_SIM_PREPARE = "1"
    env.NYX_TEST_TTFT_MS = tostring(ttft)
    env.NYX_TEST_TOKEN_MS = tostring(token)
  else
    env.NYX_SIM_TTFT_MS = tostring(ttft)
    env.NYX_SIM_TOKEN_MS = tostring(token)
  end
  for k, v in pairs(self.env or {}) do env[k] = v end
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local source = SERIALIZER .. PRELUDE .. "local function __case()\n" .. code .. "\nend\n" .. EPILOGUE
  M.write(base .. ".lua", source)
  local runner = self.host == "nyx run" and (M.quote(M.bin) .. " run") or "lua5.4"
  if M.valgrind then runner = M.valgrind .. " --quiet " .. runner end
  local cmd = ("cd %s && %s timeout -k 5 %d %s %s 2>%s >%s"):format(M.quote(self.dir), M.env_prefix(env),
    CASE_LIMIT_S, runner, M.quote(base .. ".lua"), M.quote(base .. ".err"), M.quote(base .. ".stdout"))
  local exited, _, status = os.execute(cmd)
  local res = { exited = exited == true, stderr = M.read(base .. ".err") or "",
                stdout = M.read(base .. ".stdout") or "" }
  if status == 124 or status == 137 then
    error(("the case ran past %d s and was stopped (%s):\n%s\n--- stderr ---\n%s"):format(CASE_LIMIT_S,
      self.name, code, res.stderr), 2)
  end
  -- Checked here, not by the caller: a case expected to fail must not hide a leak.
  if M.valgrind and status == VALGRIND_STATUS then
    error("valgrind found errors or leaks:\n" .. res.stderr, 2)
  end
  local out = M.read(base .. ".out")
  if out then
    local got = assert(load(out, "=case result"))()
    res.ok, res.value, res.notices = got.ok, got.value, got.notices
  end
  for _, ext in ipairs({ ".lua", ".out", ".err", ".stdout" }) do os.remove(base .. ext) end
  return res
end

local function describe_failure(res)
  local v = res.value
  if type(v) == "table" then
    v = v.tostring or json.encode(v)
  end
  return ("case failed: %s\n--- stderr ---\n%s"):format(tostring(v), res.stderr)
end

--- Runs a case that must succeed; returns what it returned (and the whole exec record).
function Setup:run(code, opts)
  local res = self:exec(code, opts)
  if not (res.ok and res.exited) then
    error(describe_failure(res), 2)
  end
  return res.value, res
end

--- Runs a case that must raise; returns the raised value (and the whole exec record).
function Setup:fails(code, opts)
  local res = self:exec(code, opts)
  if res.ok == nil then
    error("the case did not finish: " .. describe_failure(res), 2)
  end
  if res.ok then
    error("the case was expected to raise, but returned " .. json.encode(res.value), 2)
  end
  return res.value, res
end

-- ---- a `nyx sim` server in the background ----

--- Starts `nyx sim --port 0 ARGS...` and waits for its "listening on" line.
--- Returns {pid =, port =, url =}.
function M.start_sim(env, args, out_path)
  local argv = {}
  for i, a in ipairs(args or {}) do argv[i] = M.quote(a) end
  -- Under valgrind its report goes to a log of its own, which ends with the error summary as
  -- the server exits.
  local vg_log = M.valgrind and out_path .. ".valgrind"
  local runner = M.quote(M.bin)
  if vg_log then runner = ("%s --log-file=%s %s"):format(M.valgrind, M.quote(vg_log), runner) end
  -- timeout: a server orphaned by a crashed runner still goes away.
  local cmd = ("%s timeout 600 %s sim --port 0 %s >%s 2>&1 & echo $!"):format(
    M.env_prefix(env), runner, table.concat(argv, " "), M.quote(out_path))
  local pid = capture(cmd):match("%d+")
  assert(pid, "could not start nyx sim")
  for _ = 1, 500 do
    local port = (M.read(out_path) or ""):match("listening on 127%.0%.0%.1:(%d+)")
    if port then
      return { pid = pid, port = tonumber(port), url = "http://127.0.0.1:" .. port, vg_log = vg_log }
    end
    M.sleep(0.02)
  end
  os.execute("kill " .. pid .. " 2>/dev/null")
  error("nyx sim did not start: " .. (M.read(out_path) or ""))
end

--- Stops a server; under valgrind, waits for it to exit and raises if valgrind found errors or
--- leaks in it.
function M.stop_sim(server)
  os.execute("kill " .. server.pid .. " 2>/dev/null")
  if not server.vg_log then return end
  local log
  for _ = 1, 1500 do
    log = M.read(server.vg_log) or ""
    local errors = log:match("ERROR SUMMARY: (%d+) errors")
    if errors then
      assert(errors == "0", "valgrind found errors or leaks in nyx sim:\n" .. log)
      return
    end
    M.sleep(0.02)
  end
  error("nyx sim under valgrind did not exit:\n" .. log)
end

--- The nyx command on a database (a file or a PostgreSQL URI), in the environment a case gets:
--- its output (stdout and stderr) and its exit code.
function M.nyx(db, args)
  local p = assert(io.popen(("%s %s %s --db %s 2>&1"):format(M.env_prefix({ NYX_DB = db }),
    M.quote(M.bin), args, M.quote(db))))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

--- What `nyx ARGS --json` wrote on a database, one table a line.
function M.nyx_json(db, args)
  local rows = {}
  for line in M.nyx(db, args .. " --json"):gmatch("[^\n]+") do rows[#rows + 1] = assert(json.decode(line), line) end
  return rows
end

--- `nyx audit --json` on a database: its events, one table each.
function M.audit(db)
  return M.nyx_json(db, "audit")
end

--- err is an error table of type type_ whose message matches pattern (plain text when plain).
--- A failure names the spec's line that asked.
function M.assert_error(err, type_, pattern, plain)
  local at = debug.getinfo(2, "Sl")
  local where = ("%s:%d: "):format(at.short_src, at.currentline)
  luassert.are.equal(type_, type(err) == "table" and err.type, where .. tostring(type(err) == "table" and err.message or err))
  luassert.matches(pattern, err.message, 1, plain, where .. "the message")
end

--- Each results[name] is an error table of type type_ whose message holds want[name] (plain
--- text), for every name of want. A failure names the case and the spec's line that asked.
function M.assert_errors(results, type_, want)
  local at = debug.getinfo(2, "Sl")
  for name, text in pairs(want) do
    local err = results[name]
    local where = ("%s:%d: %s: "):format(at.short_src, at.currentline, name)
    luassert.are.equal(type_, type(err) == "table" and err.type,
                       where .. tostring(type(err) == "table" and err.message or err))
    luassert.matches(text, err.message, 1, true, where .. "the message")
  end
end

--- Whether a and b are equal to a relative rel (default 1e-9): money summed in another order.
function M.close(a, b, rel)
  return math.abs(a - b) <= (rel or 1e-9) * math.max(math.abs(a), math.abs(b), 1e-12)
end

--- How many of lines (notices, say) hold text, as plain text.
function M.count_holding(lines, text)
  local n = 0
  for _, line in ipairs(lines) do
    if line:find(text, 1, true) then n = n + 1 end
  end
  return n
end

--- Sums a field over a list of tables (nil fields count as 0).
function M.sum(list, get)
  local total = 0
  for _, x in ipairs(list) do total = total + (get(x) or 0) end
  return total
end

--- Cost in USD of a usage at a model's prices (from nyx.model(), per million tokens).
function M.cost_of(usage, price)
  local c = usage.cache_creation or {}
  local w5 = c.ephemeral_5m_input_tokens or 0
  local w1 = c.ephemeral_1h_input_tokens or 0
  if w5 + w1 ~= usage.cache_creation_input_tokens then
    w5 = usage.cache_creation_input_tokens - w1 -- the API may report only the total
  end
  return (usage.input_tokens * price.input + usage.output_tokens * price.output
          + w5 * price.cache_write_5m + w1 * price.cache_write_1h
          + usage.cache_read_input_tokens * price.cache_read) / 1e6
end

return M
