--- Tools and the tool loop. nyx.tool defines a tool; nyx.call with tools of which any has `run`
--- runs the loop: call the model, run the tools it asked for (several at once as concurrent
--- tasks), send every result back in one user turn, until the model stops asking. Each
--- iteration is an ordinary nyx.call (logged, budgeted, in the caller's session, agent,
--- template and thought), so the loop is plain Lua over core.call.
local core = require "nyx.core"

local M = {}

local Tool = {}
Tool.__index = Tool
Tool.__name = "nyx.tool"

local function bad(message, level)
  core.raise({ type = "invalid_argument", message = message }, (level or 1) + 1)
end

--- Defines a tool: name (^[a-zA-Z0-9_-]{1,64}$), description, input (a JSON Schema table of
--- type object), run(input, call) returning a string or a table (sent as JSON); strict, cache.
---@param def {name: string, description?: string, input?: table, run?: function, strict?: boolean, cache?: any}
local TOOL_OPTIONS = { "name", "description", "input", "run", "strict", "cache" }

function M.tool(def)
  if type(def) ~= "table" then bad("bad argument #1 to 'tool' (table expected, got " .. type(def) .. ")", 2) end
  local unknown = core.unknown_option(def, TOOL_OPTIONS)
  if unknown then bad("bad argument #1 to 'tool' (" .. unknown .. ")", 2) end
  local name = def.name
  if type(name) ~= "string" or #name < 1 or #name > 64 or name:find("[^%w_%-]") then
    bad("tool name must match ^[a-zA-Z0-9_-]{1,64}$, got " .. tostring(name), 2)
  end
  if def.description ~= nil and type(def.description) ~= "string" then
    bad("tool " .. name .. ": description must be a string", 2)
  end
  local input = def.input
  if input == nil then
    input = { type = "object", properties = {} }
    -- What a strict tool's schema needs of every object (claude/schema.c).
    if def.strict then input.additionalProperties = false end
  end
  if type(input) ~= "table" or input.type ~= "object" then
    bad("tool " .. name .. ": input must be a JSON Schema table with type = \"object\"", 2)
  end
  if def.strict ~= nil and type(def.strict) ~= "boolean" then
    bad("tool " .. name .. ": strict must be true or false", 2)
  end
  -- A strict tool's schema is held to what structured outputs take, here where it is defined
  -- rather than by the API's 400 at its first call.
  local why = def.strict and core.schema_problem(input, "input")
  if why then bad("tool " .. name .. ": " .. why, 2) end
  if def.run ~= nil and type(def.run) ~= "function" then
    bad("tool " .. name .. ": run must be a function(input)", 2)
  end
  local tool = setmetatable({ name = name, description = def.description, input = input, run = def.run,
                              strict = def.strict, cache = def.cache }, Tool)
  M.defined[name] = tool
  return tool
end

--- Tools by name, as defined with nyx.tool (the latest definition of a name wins): a tool
--- list or a template's `tools:` may name them.
M.defined = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- A template's front matter fills in what the call leaves out: output and tools.
local function with_template(spec)
  if type(spec.template) ~= "string" or (spec.output ~= nil and spec.tools ~= nil) then return spec end
  local ok, info = pcall(core.templates.get, spec.template)
  if not ok or (info.output == nil and info.tools == nil) then return spec end
  local out = copy(spec)
  if out.output == nil then out.output = info.output end
  if out.tools == nil then out.tools = info.tools end
  return out
end

--- The tool the host registered in C under name (nyx_tool_register), or nil: its run waits
--- for the host's answer, which may come frames later; an answer marked as an error raises,
--- so the model reads it as a tool_result with is_error.
local function host_tool(name)
  local t = core.host_tool(name)
  if not t then return nil end
  return setmetatable({ name = name, description = t.description, input = core.json_decode(t.input_json),
                        input_json = t.input_json, host = true,
                        run = function(input)
                          local content, is_error = core.host_tool_call(name, input)
                          if is_error then error(content, 0) end
                          return content
                        end }, Tool)
end

--- A tool list with names replaced by the tools defined under them: nyx.tool's first, then
--- the host's.
local function resolve_tools(spec)
  local list, changed = {}, false
  for i, t in ipairs(spec.tools) do
    if type(t) == "string" then
      list[i] = M.defined[t] or host_tool(t) or
        bad(("tools[%d]: no tool named %s was defined with nyx.tool or registered by the host"):format(i, t), 4)
      changed = true
    else
      list[i] = t
    end
  end
  if not changed then return spec end
  local out = copy(spec)
  out.tools = list
  return out
end

--- The conversation a call sends, as messages of the loop's own: the caller's list is not
--- changed.
local function sent_messages(call)
  if call.messages ~= nil then
    local out = {}
    for i, m in ipairs(call.messages) do out[i] = m end
    return out
  end
  return { { role = "user", content = call.prompt } }
end

--- Runs one tool call; a failure is an is_error result the model reads. A cancellation (the
--- task or script was stopped) is not a failure the model should read: it ends the loop, so
--- no request is sent that nobody will wait for.
local function run_tool(tool, tc, call)
  local result = { type = "tool_result", tool_use_id = tc.id }
  if not tool then
    result.content, result.is_error = "no tool named " .. tostring(tc.name), true
    return result
  end
  -- An agent's policy may allow the call, refuse it (the model reads that it was refused) or
  -- change its input.
  local input = tc.input
  if call._on_tool then
    local decision = call._on_tool(tc)
    if decision == "deny" then
      result.content, result.is_error = ("the policy refused the tool %s"):format(tc.name), true
      return result
    elseif type(decision) == "table" then
      input = decision
    end
  end
  local ok, value = pcall(tool.run, input, call)
  if not ok then
    if type(value) == "table" and value.type == "cancelled" then error(value, 0) end
    result.is_error = true
    value = type(value) == "table" and (value.message or value.type) or value
    local text_ok, text = pcall(tostring, value) -- a __tostring may raise too
    result.content = text_ok and type(text) == "string" and text or ("tool %s failed"):format(tostring(tc.name))
  elseif type(value) == "table" then
    local encoded, json = pcall(core.json_encode, value)
    if encoded then
      result.content = json
    else
      -- What the tool returned cannot be sent: the model reads why, as for a tool that raised.
      local why = type(json) == "table" and json.message or tostring(json)
      result.is_error = true
      result.content = ("tool %s returned a table JSON cannot hold: %s"):format(tostring(tc.name),
        why:match("%((.*)%)$") or why)
    end
  elseif type(value) == "string" or type(value) == "number" or type(value) == "boolean" then
    result.content = tostring(value)
  elseif value ~= nil then
    -- A function, coroutine or userdata would reach the model as its address
    -- ("function: 0x55d0..."), read as the tool's answer; unless it says how it reads itself.
    local mt = type(value) == "userdata" and getmetatable(value)
    local text_ok, text = false, nil
    if type(mt) == "table" and mt.__tostring then text_ok, text = pcall(tostring, value) end
    if text_ok and type(text) == "string" then
      result.content = text
    else
      result.is_error = true
      result.content = ("tool %s returned a %s, which a message cannot carry (return a string or a table)")
        :format(tostring(tc.name), type(value))
    end
  end
  if type(result.content) == "string" and result.content:find("\0", 1, true) then
    result.is_error = true
    result.content = ("tool %s returned text holding a NUL byte, which a message cannot carry"):format(tostring(tc.name))
  end
  -- Nor an answer that alone passes the limit on a request's size: the next request would be
  -- refused whole ("the request is N bytes"), naming no tool, and the loop would end there.
  local limit = core.config.get("NYX_MAX_PROMPT_BYTES")
  if type(result.content) == "string" and type(limit) == "number" and #result.content > limit then
    result.is_error = true
    result.content = ("tool %s returned %d bytes, more than a whole request may hold (NYX_MAX_PROMPT_BYTES=%d)")
      :format(tostring(tc.name), #result.content, math.floor(limit))
  end
  -- Nor text that is not UTF-8 (a file read as Latin-1): the API would refuse the whole request.
  -- utf8.len is Lua's own strict check (no overlong form, surrogate or code point past U+10FFFF).
  local valid, bad = true, nil
  if type(result.content) == "string" then valid, bad = utf8.len(result.content) end
  if not valid then
    result.is_error = true
    result.content = ("tool %s returned text that is not valid UTF-8 (its byte %d is 0x%02X), which a message cannot carry")
      :format(tostring(tc.name), bad, result.content:byte(bad))
  end
  return result
end

--- Runs one tool call and reports it as an execute_tool span, the child of the span of the
--- call that asked for it (asked: that call's result; nothing is sent when export is off).
local function run_one(tool, tc, call, asked)
  local started = core.now()
  local result = run_tool(tool, tc, call)
  local session = call.session
  if session ~= nil and type(session) ~= "string" then session = session.name end
  core.otel_tool { name = tostring(tc.name), call_id = tc.id, started = started, session = session,
                   agent = call.agent, trace_id = asked.trace_id, parent_id = asked.span_id,
                   error = result.is_error and (tool and "tool_error" or "unknown_tool") or nil }
  return result
end

--- Runs the requested tools, several at once as tasks, results in the order asked.
local function run_tools(tool_calls, by_name, call, asked)
  if #tool_calls == 1 then
    return { run_one(by_name[tool_calls[1].name], tool_calls[1], call, asked) }
  end
  local tasks = {}
  for i, tc in ipairs(tool_calls) do
    tasks[i] = core.spawn(function() return run_one(by_name[tc.name], tc, call, asked) end)
  end
  local results = {}
  for i, t in ipairs(tasks) do results[i] = t:wait() end
  return results
end

local USAGE_KEYS = { "input_tokens", "output_tokens", "cache_creation_input_tokens",
                     "cache_read_input_tokens", "cost_usd", "cost_without_cache_usd", "saved_usd" }

local function add_usage(total, u)
  for _, k in ipairs(USAGE_KEYS) do
    if u[k] ~= nil then total[k] = (total[k] or 0) + u[k] end
  end
end

local loop_count = 0 -- names each loop's part of the progress line

local function loop(call, spec, by_name, progress)
  local max = spec.max_iterations or 10
  if math.type(max) ~= "integer" or max < 1 then
    bad("max_iterations must be an integer >= 1", 3)
  end
  local req = copy(spec)
  req.prompt, req.max_iterations = nil, nil
  local messages = sent_messages(spec)
  local total = {}
  local who = type(spec.agent) == "string" and spec.agent .. ": " or ""
  for i = 1, max do
    -- The status line of nyx run (and nyx_progress of a C host) shows how far the loop is.
    core.progress(("%siteration %d of %d"):format(who, i, max), progress)
    req.iteration = i
    req.messages = messages
    local ok, r = pcall(call, req, true)
    if not ok then
      if type(r) == "table" then r.messages, r.iterations = messages, i end
      error(r, 0)
    end
    messages = r.messages
    add_usage(total, r.usage)
    r.iterations, r.total_usage = i, total
    if r.stop_reason ~= "tool_use" and r.stop_reason ~= "pause_turn" then return r end
    if r.stop_reason == "tool_use" then
      for _, tc in ipairs(r.tool_calls) do
        local t = by_name[tc.name]
        -- A tool the script runs itself: the calls go back to the script.
        if t and not t.run then return r end
      end
      messages[#messages + 1] = { role = "user", content = run_tools(r.tool_calls, by_name, req, r) }
    end
    -- pause_turn: the conversation goes back as it is and the model continues.
  end
  error({ type = "max_iterations", iterations = max, messages = messages, usage = total,
          message = ("the tool loop made %d calls and the model still asks for tools"):format(max) }, 0)
end

local JSON_TYPES = {
  object = function(v) return type(v) == "table" end,
  array = function(v) return type(v) == "table" end,
  string = function(v) return type(v) == "string" end,
  integer = function(v) return math.type(v) == "integer" end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
}

--- Where value breaks schema (type, enum, required, properties, items), or nil.
local function mismatch(schema, value, path)
  if type(schema) ~= "table" then return nil end
  local t = schema.type
  if type(t) == "string" and JSON_TYPES[t] and not JSON_TYPES[t](value) then
    return ("%s should be of type %s"):format(path, t)
  end
  if type(schema.enum) == "table" then
    local found = false
    for _, e in ipairs(schema.enum) do found = found or e == value end
    if not found then return path .. " is not one of its enum values" end
  end
  if type(value) ~= "table" then return nil end
  -- Parts of the schema that are not what JSON Schema says (properties = 42) check nothing:
  -- the API judges the schema; this only judges the answer.
  if type(schema.required) == "table" then
    for _, k in ipairs(schema.required) do
      if value[k] == nil then return ("%s.%s is required"):format(path, tostring(k)) end
    end
  end
  for k, sub in pairs(type(schema.properties) == "table" and schema.properties or {}) do
    if value[k] ~= nil then
      local why = mismatch(sub, value[k], path .. "." .. tostring(k))
      if why then return why end
    end
  end
  if type(schema.items) == "table" then
    for i, v in ipairs(value) do
      local why = mismatch(schema.items, v, ("%s[%d]"):format(path, i))
      if why then return why end
    end
  end
  return nil
end

--- r.json for a call with output = schema; a refusal, a cut answer or text that is not JSON
--- for the schema is an invalid_output error carrying the text.
local function structured(spec, r)
  if spec.output == nil or r.stop_reason == "tool_use" then return r end
  local function invalid(why)
    error({ type = "invalid_output", message = why, text = r.text, stop_reason = r.stop_reason,
            messages = r.messages, interaction_id = r.interaction_id }, 0)
  end
  if r.stop_reason == "refusal" or r.stop_reason == "max_tokens" then
    invalid(("the answer stopped at %s and may not match the output schema"):format(r.stop_reason))
  end
  local ok, value = pcall(core.json_decode, r.text)
  if not ok then invalid("the answer is not JSON") end
  local why = mismatch(spec.output, value, "output")
  if why then invalid("the answer does not match the output schema: " .. why) end
  r.json = value
  return r
end

--- The same check for an answer that reached the script another way (a batch's result).
M.structured = structured
M.with_template = with_template

local OWN = { "nyx/tools%.lua$", "nyx/init%.lua$", "nyx/agent%.lua$" }

--- The line of the script that called nyx.call, as the engine names it ("file:line: ").
local function script_where()
  if not debug then return "" end
  for level = 3, 60 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    local own = info.what == "C"
    for _, pattern in ipairs(OWN) do own = own or info.short_src:find(pattern) ~= nil end
    if not own then
      return info.currentline > 0 and ("%s:%d: "):format(info.short_src, info.currentline) or ""
    end
  end
  return ""
end

--- nyx.call: one call, or the tool loop when any tool given has run.
---@param call fun(call: table): table  core.call (so argument errors name 'call')
---@param spec table
function M.call(call, spec)
  local ok, r = pcall(M.run, call, spec)
  if ok then return r end
  -- Errors name the script's line, as if the script had called the engine itself.
  if type(r) == "table" and type(r.type) == "string" then
    r.where = script_where()
    core.raise(r, 0)
  end
  error(r, 0)
end

--- The work of M.call; `call` is named so an argument error reads "to 'call'". call(spec, true)
--- returns the result with tool_calls, thinking and messages (the conversation sent with the
--- answer appended, so `messages = r.messages` continues it), as core.call makes them.
function M.run(call, spec)
  if type(spec) ~= "table" then return call(spec, true) end -- which refuses it
  if spec.template ~= nil then spec = with_template(spec) end
  -- The usual call, without tools (or with them as JSON text): the engine's call, and the
  -- output schema's check only when there is one. Every step here is paid on every call.
  local tools = spec.tools
  if tools == nil or type(tools) ~= "table" then
    local r = call(spec, true)
    if spec.output == nil then return r end
    return structured(spec, r)
  end
  spec = resolve_tools(spec)
  local by_name, loops = {}, false
  for i, t in ipairs(spec.tools) do
    if type(t) ~= "table" or type(t.name) ~= "string" then
      bad(("tools[%d] must be a tool (nyx.tool{...})"):format(i), 3)
    end
    by_name[t.name] = t
    loops = loops or t.run ~= nil
  end
  if not loops then
    return structured(spec, call(spec, true))
  end
  -- Each loop has its own part of the progress line while it runs, gone when it ends.
  loop_count = loop_count + 1
  local key = "tool loop " .. loop_count
  local ok, r = pcall(loop, call, spec, by_name, key)
  core.progress(nil, key)
  if not ok then error(r, 0) end
  return structured(spec, r)
end

return M
