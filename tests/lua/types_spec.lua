-- types/nyx.lua, the LuaLS definitions of the nyx module, parses as Lua and declares
-- everything the real module offers: every field of `require "nyx"` (its submodules loaded)
-- and of nyx.core that nyx shows, every function of its namespaces, the methods of tasks and events, and
-- every field of a call's result, its usage, an error and nyx.stats(). A public name added
-- without its declaration fails here.
local source_dir = assert(os.getenv("NYX_SOURCE_DIR"), "run through ctest")
local types_file = source_dir .. "/types/nyx.lua"

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return text
end

-- What the file declares: dotted names (nyx.call, nyx.budget.limit), classes with their
-- fields (parents' included) and methods (function Task:wait).
local function declarations(text)
  local names, classes, parents, current = {}, {}, {}, nil
  local methods_of = {} -- local variable name -> class
  for line in text:gmatch("[^\n]*") do
    local class, parent = line:match("^%-%-%-@class ([%w_.]+):? *([%w_.]*)")
    if class then
      current = class
      classes[class] = classes[class] or {}
      if parent ~= "" then parents[class] = parent end
    else
      local field = line:match("^%-%-%-@field %[?\"?([%w_]+)")
      if field and current then classes[current][field] = true end
    end
    local var = line:match("^local (%u%w*) = {}")
    if var and current then methods_of[var] = current end
    local owner, method = line:match("^function (%u%w*):([%w_]+)%(")
    if owner and methods_of[owner] then classes[methods_of[owner]][method] = true end
    local name = line:match("^function (nyx[%w_.]*)%(") or line:match("^(nyx[%w_.]*) = ")
    if name then names[name] = true end
  end
  local function fields(class)
    local all = {}
    while class do
      for f in pairs(classes[class] or {}) do all[f] = true end
      class = parents[class]
    end
    return all
  end
  return names, fields
end

-- The real module, probed in a process of its own: a fresh database, the built-in simulator.
local function probe()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local script = dir .. "/probe.lua"
  local f = assert(io.open(script, "w"))
  f:write(([[
    local nyx = require "nyx"
    local core = require "nyx.core"
    local out = {}
    local function say(...) out[#out + 1] = table.concat({...}, " ") end
    -- every file of the Lua library is a submodule nyx loads on first use
    local ls = io.popen("ls " .. %q)
    for file in ls:lines() do
      local name = file:match("^(.-)%%.lua$")
      if name and name ~= "init" then local _ = nyx[name] end
    end
    ls:close()
    local function namespace(t)
      for _, v in pairs(t) do if type(v) == "function" then return true end end
      return false
    end
    for k, v in pairs(nyx) do
      say("name", "nyx." .. k)
      if type(v) == "table" and namespace(v) then
        for k2 in pairs(v) do
          if type(k2) == "string" then say("name", "nyx." .. k .. "." .. k2) end
        end
      end
    end
    -- nyx.core's own, but for the C halves of the library's functions, which nyx does not show
    -- (nyx/init.lua's LIBRARY_ONLY; surface_spec checks they stay out).
    for k in pairs(core) do
      if nyx[k] ~= nil then say("name", "nyx." .. k) end
    end
    local function index_of(value)
      local mt = getmetatable(value)
      return type(mt.__index) == "table" and mt.__index or mt
    end
    local t = nyx.spawn(function() return 1 end)
    for k, v in pairs(index_of(t)) do if type(v) == "function" and not k:match("^__") then say("field", "nyx.Task", k) end end
    t:wait()
    for k, v in pairs(index_of(nyx.event())) do if type(v) == "function" and not k:match("^__") then say("field", "nyx.Event", k) end end
    local r = nyx.call { prompt = "hello", max_tokens = 20 }
    for k in pairs(r) do say("field", "nyx.Result", k) end
    for k in pairs(r.usage) do say("field", "nyx.Usage", k) end
    for k in pairs(r.usage.cache_creation) do say("field", "nyx.CacheCreation", k) end
    local ok, err = pcall(nyx.call, { prompt = "x", max_tokens = 0 })
    assert(not ok and type(err) == "table")
    for k in pairs(err) do say("field", "nyx.Error", k) end
    for k in pairs(nyx.stats()) do say("field", "nyx.EngineStats", k) end
    local s = nyx.session { name = "probe" }
    for k in pairs(s:stats()) do say("field", "nyx.Stats", k) end
    io.write(table.concat(out, "\n"), "\n")
  ]]):format(source_dir .. "/lua/nyx"))
  f:close()
  local p = assert(io.popen(("cd '%s' && env -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL NYX_DB='%s/nyx.db' lua5.4 '%s' 2>'%s/err'")
    :format(dir, dir, script, dir)))
  local text = p:read("a")
  local ok = p:close()
  local err = read(dir .. "/err")
  os.execute("rm -rf '" .. dir .. "'")
  assert(ok, "the probe failed:\n" .. text .. err)
  return text
end

describe("types/nyx.lua", function()
  local text = read(types_file)

  it("is a ---@meta file that parses as Lua", function()
    assert.matches("^%-%-%-@meta", text)
    local chunk, err = loadfile(types_file)
    assert(chunk, err)
  end)

  it("the examples parse as Lua too", function()
    local p = assert(io.popen("ls '" .. source_dir .. "/examples'/*.lua '" .. source_dir .. "/examples'/*/*.lua 2>/dev/null"))
    local n = 0
    for file in p:lines() do
      local chunk, err = loadfile(file)
      assert(chunk, err)
      n = n + 1
    end
    p:close()
    assert.is_true(n > 0)
  end)

  it("declares every field of the real module, its namespaces, tasks, events, results, errors and statistics", function()
    local names, fields = declarations(text)
    local missing = {}
    for line in probe():gmatch("[^\n]+") do
      local kind, a, b = line:match("^(%a+) (%S+) ?(%S*)")
      if kind == "name" and not names[a] then
        missing[#missing + 1] = a
      elseif kind == "field" and not fields(a)[b] then
        missing[#missing + 1] = a .. "." .. b
      elseif kind ~= "name" and kind ~= "field" then
        missing[#missing + 1] = "(probe said) " .. line
      end
    end
    table.sort(missing)
    assert(#missing == 0, "types/nyx.lua does not declare (add them there): " .. table.concat(missing, ", "))
  end)

  it("declares every option the option tables take, and the values of the options that take words", function()
    local _, fields = declarations(text)
    local function strings(list)
      local out = {}
      for word in list:gmatch('"([^"]+)"') do out[#out + 1] = word end
      return out
    end
    local lcall = read(source_dir .. "/engine/lua/lcall.c")
    local options = {
      ["nyx.CallOptions"] = strings(assert(lcall:match("option_names%[O_COUNT%] = (%b{})"))),
      ["nyx.Tool"] = strings(assert(read(source_dir .. "/lua/nyx/tools.lua"):match("TOOL_OPTIONS = (%b{})"))),
      ["nyx.AgentOptions"] = strings(assert(read(source_dir .. "/lua/nyx/agent.lua"):match("OPTIONS = (%b{})"))),
      ["nyx.BatchOptions"] = strings(assert(read(source_dir .. "/lua/nyx/batch.lua"):match("OPTIONS = (%b{})"))),
      ["nyx.CouncilOptions"] = strings(assert(read(source_dir .. "/lua/nyx/council.lua"):match("OPTIONS = (%b{})"))),
    }
    for _, name in ipairs(strings(assert(lcall:match("lua_layer_options%[%] = (%b{})")))) do
      if name:sub(1, 1) ~= "_" then table.insert(options["nyx.CallOptions"], name) end
    end
    local missing = {}
    for class, names in pairs(options) do
      assert.is_true(#names > 3, class)
      for _, name in ipairs(names) do
        if not fields(class)[name] then missing[#missing + 1] = class .. "." .. name end
      end
    end
    table.sort(missing)
    assert(#missing == 0, "types/nyx.lua does not declare the options: " .. table.concat(missing, ", "))

    -- The words an option takes, as its refusal of another lists them, are the words declared.
    local aliases = {}
    for name, def in text:gmatch("\n%-%-%-@alias ([%w_.]+) ([^\n]+)") do aliases[name] = def end
    local call_options = assert(text:match("\n%-%-%-@class nyx%.CallOptions\n.-\n\n"))
    local function declared(field)
      local def = assert(call_options:match("\n%-%-%-@field " .. field .. "%?? ([^ \n]+)"), field)
      def = def:gsub("[%w_.]+", function(word) return aliases[word] end)
      local words = {}
      for word in def:gmatch('"([^"]+)"') do words[word] = true end
      return words
    end
    local wrong = {}
    for field, refusal in pairs {
      cache = lcall:match('"cache must be ([^\n]-)"%);'),
      cache_response = lcall:match('"cache_response must be ([^\n]-)"%);'),
      effort = lcall:match('"effort must be ([^\n]-)"%);'),
    } do
      local said, words = {}, declared(field)
      for word in refusal:gmatch('\\"([^\\]+)\\"') do
        said[word] = true
        if not words[word] then wrong[#wrong + 1] = field .. ' takes "' .. word .. '"' end
      end
      assert.is_not_nil(next(said), field)
      for word in pairs(words) do
        if not said[word] then wrong[#wrong + 1] = field .. ' refuses "' .. word .. '"' end
      end
    end
    table.sort(wrong)
    assert(#wrong == 0, "types/nyx.lua declares other values than nyx.call takes: " .. table.concat(wrong, ", "))
  end)

  it("sees a name the file leaves out", function()
    local names, fields = declarations(text:gsub("\nfunction nyx%.progress%([^)]*%) end", ""))
    assert.is_nil(names["nyx.progress"])
    assert.is_true(names["nyx.call"])
    assert.is_true(fields("nyx.EngineStats").calls) -- inherited from nyx.Stats
    assert.is_true(fields("nyx.Task").wait)
  end)
end)
