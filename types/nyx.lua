---@meta nyx
-- LuaLS definitions of the nyx module: every public function, option table and result field,
-- so an editor completes and type-checks scripts. Declarations only: nothing here runs. Point
-- lua-language-server at it with `"workspace.library": ["<nyx>/types"]` (installed under
-- share/nyx/types); `require "nyx"` then resolves to this file. tests/lua/types_spec.lua fails
-- when the real module has a field this file does not declare.

---@alias nyx.CacheMode "auto"|"1h"|"api"|boolean

---@class nyx.SystemBlock
---@field text string
---@field cache? boolean|"5m"|"1h"  a cache mark after this block

---@class nyx.Message
---@field role "user"|"assistant"
---@field content string|table[]  text, or the API's content blocks as tables

---@class nyx.Tool
---@field name string
---@field description? string
---@field input? table  JSON Schema of the input, as a table
---@field run? fun(input: table, call: nyx.CallOptions): any  a string, or a table sent as JSON; without run, tool calls are returned to the script
---@field strict? boolean  the API's strict schema adherence for this tool
---@field cache? boolean|"5m"|"1h"  a cache mark after this tool
---@field input_json? string  a host's tool (nyx_tool_register): its schema as registered
---@field host? boolean  true for a tool the host registered in C

---@class nyx.ToolCall
---@field id string
---@field name string
---@field input table

---@class nyx.CallOptions
---@field model? string  a model id or alias; default CLAUDE_DEFAULT_MODEL
---@field system? string|nyx.SystemBlock[]
---@field prompt? string  user text (or messages)
---@field messages? nyx.Message[]
---@field max_tokens? integer
---@field iteration? integer  set by the tool loop: the call's place in it (stored, counted in nyx stats)
---@field temperature? number
---@field stop_sequences? string[]
---@field user_id? string  metadata.user_id sent to the API
---@field cache? nyx.CacheMode  native prompt caching policy
---@field cache_response? boolean|"always"  answer an identical temperature-0 request from the response cache ("always": whatever the temperature)
---@field session? nyx.Session|string
---@field agent? string
---@field thought? integer  a node id from nyx.thought
---@field template? string  the template the prompt was rendered from (its use is recorded)
---@field timeout? number|string  seconds, or a profile named with nyx.timeout_profile
---@field fallback? string|string[]  models tried in order when the requested one fails
---@field headers? table<string, string>  extra HTTP headers (a gateway's; ones nyx sets are refused)
---@field stream? fun(text: string): boolean?  each text delta; false stops the stream
---@field on_start? fun()  the response began
---@field on_thinking? fun(text: string)  each thinking delta
---@field tools? (nyx.Tool|table)[]
---@field tool_choice? "auto"|"any"|"none"|{type: "auto"|"any"|"tool"|"none", name?: string, disable_parallel_tool_use?: boolean}
---@field max_iterations? integer  the tool loop's bound
---@field thinking? "adaptive"|integer|false
---@field effort? "low"|"medium"|"high"|"max"
---@field output? table  structured output: a JSON Schema as a table
---@field batch? table  set by nyx.batch: the batch a request travels in
---@field batch_id? string  set by nyx.batch: the request's id in its batch

---@class nyx.CacheCreation
---@field ephemeral_5m_input_tokens integer
---@field ephemeral_1h_input_tokens integer

---@class nyx.Usage
---@field input_tokens integer
---@field output_tokens integer
---@field cache_creation_input_tokens integer
---@field cache_read_input_tokens integer
---@field cache_creation nyx.CacheCreation
---@field cost_usd? number  nil when the model's price is unknown
---@field cost_without_cache_usd? number
---@field saved_usd? number

---@class nyx.Result
---@field text string
---@field model string
---@field id string
---@field stop_reason string  end_turn|max_tokens|stop_sequence|tool_use|pause_turn|refusal|...
---@field stop_sequence? string
---@field request_id? string
---@field cache_hit boolean
---@field interaction_id string
---@field attempts integer
---@field latency_ms number
---@field ttfb_ms number  time to the first byte of the answer
---@field model_requested? string
---@field route integer  0: the requested model; n: the n-th fallback
---@field from_cache boolean  answered from the response cache
---@field fallback_used boolean
---@field trace_id? string  its OpenTelemetry span's trace (32 hex digits), when exported
---@field span_id? string  and the span (16 hex digits)
---@field usage nyx.Usage
---@field content? table[]  the API's content blocks as tables
---@field tool_calls? nyx.ToolCall[]
---@field thinking? string
---@field json? any  the parsed structured output
---@field messages? nyx.Message[]  the conversation with this answer appended
---@field iterations? integer  tool loop rounds
---@field total_usage? table  the tool loop's usage summed over its iterations

---@class nyx.Error
---@field type string  rate_limit_error, overloaded_error, ..., budget_exceeded, circuit_open, timeout, stopped, invalid_argument, network_error, tls_error, resource_exhausted, cancelled, ...
---@field message string
---@field status? integer
---@field retryable? boolean
---@field request_id? string
---@field interaction_id? string
---@field where? string
---@field partial_text? string  what a cancelled stream had received
---@field usage? nyx.Usage  what a call that failed after its response began was billed for (its record's cost)
---@field cause? any  a callback_error's: what the stream callback raised
---@field timeout? number

---@class nyx.Stats
---@field calls integer
---@field ok integer
---@field errors integer
---@field cancelled integer
---@field calls_with_cache_read integer
---@field calls_with_cache_write integer
---@field cache_hit_rate number
---@field input_tokens integer
---@field output_tokens integer
---@field cache_read_tokens integer
---@field cache_write_tokens integer
---@field cost_usd number
---@field cost_without_cache_usd number
---@field saved_usd number
---@field cost_saved_by_caching number
---@field unknown_cost_calls integer
---@field unexpected_misses integer
---@field from_response_cache integer
---@field tool_calls integer  tool_use blocks the model sent
---@field tool_rounds integer  answers that stopped at tool_use (tool loop iterations that ran tools)
---@field iterations integer  calls made as iterations of tool loops
---@field avg_latency_ms number
---@field session? string

---@class nyx.EngineStats: nyx.Stats
---@field storage_degraded boolean
---@field records_lost integer
---@field breaker_opens integer
---@field connections_opened integer
---@field tls_handshakes integer
---@field write_premium_unread_usd number
---@field unexpected_miss_reasons table<string, integer>
---@field by_model table<string, nyx.Stats>
---@field by_agent table<string, nyx.Stats>
---@field by_template table<string, nyx.Stats>
---@field calibration table<string, {bytes_per_token: number, samples: integer}>

---@class nyx.Session
---@field name string
---@field budget_usd? number
---@field closed boolean
local Session = {}
---@return nyx.Stats
function Session:stats() end
function Session:close() end

---@class nyx.SessionOptions
---@field name? string  default: a generated name
---@field budget_usd? number

---@class nyx.Task
local Task = {}
--- Waits for the task and returns its results; raises its error.
---@return any ...
function Task:wait() end
function Task:cancel() end
---@return "running"|"waiting"|"done"|"failed"
function Task:status() end

---@class nyx.Event
local Event = {}
function Event:set() end
--- Waits until the event is set: true then, false when timeout seconds passed first.
---@param timeout? number
---@return boolean
function Event:wait(timeout) end
---@return boolean
function Event:is_set() end

---@class nyx.Model
---@field id string
---@field input number  USD per million tokens
---@field output number
---@field cache_read number
---@field cache_write_5m number
---@field cache_write_1h number
---@field min_cache_tokens integer
---@field deprecated? string
---@field retires? string

---@class nyx.Persona
---@field name string
---@field instruction string
---@field template? string

---@class nyx.CouncilOptions
---@field context string
---@field personas (string|nyx.Persona)[]
---@field question string
---@field session? nyx.Session|string
---@field model? string
---@field max_tokens? integer
---@field temperature? number
---@field thought? integer
---@field warm? boolean  false: every persona at once, without warming the shared prefix
---@field estimate? boolean  send nothing: return what the council would cost and the budget it needs
---@field batch? boolean

---@class nyx.CouncilAnswer
---@field persona string
---@field wall_ms number
---@field text? string
---@field usage? nyx.Usage
---@field cache_hit? boolean
---@field model? string
---@field latency_ms? number
---@field interaction_id? string
---@field error? nyx.Error

---@class nyx.CouncilTotals
---@field calls integer
---@field errors integer
---@field cache_hits integer
---@field input_tokens integer
---@field output_tokens integer
---@field cache_read_input_tokens integer
---@field cache_creation_input_tokens integer
---@field cost_usd number
---@field cost_without_cache_usd number
---@field saved_usd number
---@field saving number  saved_usd / cost_without_cache_usd
---@field wall_ms number
---@field unknown_cost? boolean

---@class nyx.CouncilResult
---@field responses nyx.CouncilAnswer[]
---@field totals nyx.CouncilTotals

---@class nyx.CouncilEstimate  what nyx.council{estimate = true} returns, sending nothing
---@field estimate true
---@field model string
---@field context_tokens integer
---@field cached boolean  the context reaches the model's cache minimum
---@field batch boolean
---@field max_tokens integer
---@field calls {persona: string, model: string, cost_usd: number, worst_case_usd: number}[]
---@field cost_usd number
---@field cost_without_cache_usd number
---@field budget_usd number  a session limit under which no persona is refused

---@class nyx.AgentOptions
---@field name string
---@field policy? string|table  a policy module name or table (choose, on_result, on_error, fallback, retries, pii)
---@field session? nyx.Session|string
---@field budget_usd? number
---@field budget_per? "day"|"month"|"total"  the budget's window (default "day")
---@field calls_per_minute? number

---@class nyx.Agent
local Agent = {}
---@param call nyx.CallOptions
---@return nyx.Result
function Agent:call(call) end
---@param name string
---@param text string
---@return integer version
function Agent:create_template(name, text) end

---@class nyx.BatchRequest: nyx.CallOptions
---@field id string

---@class nyx.BatchOptions
---@field requests nyx.BatchRequest[]
---@field session? nyx.Session|string
---@field agent? string
---@field name? string
---@field warm? boolean  the first request as a standard call that writes the shared prefix first
---@field retry? "standard"|"batch"  re-run what expired, was cancelled by the API or failed on its side
---@field partial? boolean  send the requests that fit the budgets instead of refusing the batch whole
---@field max_requests? integer  requests per submission (the API's 100,000); more go as several batches
---@field max_bytes? integer  bytes per submission (the API's 256 MB); more go as several batches

---@class nyx.Batch
---@field id string  the API's id (of the first part when the batch was split)
---@field ids string[]  the API's id of each part
---@field retried_as? nyx.Batch  the batch of a retry = "batch"
local Batch = {}
---@return table
function Batch:status() end
--- Waits until every request has its result (a retry run included).
---@return nyx.Batch self
function Batch:wait() end
---@return fun(): string, nyx.Result|nyx.Error, boolean
function Batch:results() end
---@return boolean
function Batch:cancel() end

---@class nyx.BudgetScope
---@field scope string
---@field limit_usd? number
---@field spent_usd number
---@field reserved_usd number
---@field remaining_usd? number

---@class nyx.Template
---@field name string
---@field version integer
---@field text string
---@field description? string
---@field model? string
---@field source string
---@field variables {name: string, required: boolean, default?: string, description?: string}[]  its front matter's, in order

---@class nyx.TemplateVersionStats
---@field version integer
---@field uses integer
---@field successes integer
---@field failures integer
---@field success_rate number
---@field tokens integer

---@class nyx.ConfigEntry
---@field key string
---@field value? string
---@field source "environment"|"database"|"default"

---@class nyx.PiiFinding
---@field kind string
---@field start integer
---@field ["end"] integer

---@class nyxlib
local nyx = {}

---@type string
nyx.version = ""
--- Each `--var k=v` of nyx run as vars.k; a key given more than once is the list of its values.
---@type table<string, string|string[]>
nyx.vars = {}

--- One call to the Messages API; the task waits while it is in flight. Raises a nyx.Error.
---@param opts nyx.CallOptions
---@return nyx.Result
function nyx.call(opts) end

--- A tool for nyx.call{tools = ...}.
---@param def nyx.Tool
---@return nyx.Tool
function nyx.tool(def) end

--- A Lua value as JSON text (object keys sorted; a 1..n table is an array, {} an object unless
--- marked by nyx.json_array; a float in the digits that read back as the same double).
---@param value any
---@return string
function nyx.json_encode(value) end

--- JSON text as a Lua value (null becomes nil; an integer is a Lua integer when it fits one,
--- past 2^53 too; an empty array comes back marked by nyx.json_array).
---@param text string
---@return any
function nyx.json_decode(text) end

--- t (a new empty table when nil) marked as a JSON array, so that empty it is written [] (a
--- schema's `required`, `enum`); a table with a metatable of its own is refused.
---@param t? table
---@return table
function nyx.json_array(t) end

--- The tool loop behind nyx.call (lua/nyx/tools.lua); scripts use nyx.call and nyx.tool.
nyx.tools = {}
--- Tools defined with nyx.tool, by name (a tool list or a template's `tools:` may name them).
---@type table<string, nyx.Tool>
nyx.tools.defined = {}
---@param call fun(opts: nyx.CallOptions, conversation: true): nyx.Result  the engine's call, whose
--- result (asked with conversation true) carries tool_calls, thinking and messages
---@param opts nyx.CallOptions
---@return nyx.Result
function nyx.tools.call(call, opts) end
---@param call fun(opts: nyx.CallOptions, conversation: true): nyx.Result
---@param opts nyx.CallOptions
---@return nyx.Result
function nyx.tools.run(call, opts) end
---@param def nyx.Tool
---@return nyx.Tool
function nyx.tools.tool(def) end
--- r.json for a result of a call with output = schema (nyx.batch's results use it); a refusal,
--- a cut answer or text that does not fit is an invalid_output error carrying the text.
---@param opts nyx.CallOptions
---@param r nyx.Result
---@return nyx.Result
function nyx.tools.structured(opts, r) end

--- Message Batches: half price for work that can wait.
---@param opts nyx.BatchOptions
---@return nyx.Batch
function nyx.batch(opts) end

---@class nyx.BatchPickup
---@field batch_id string  nyx's id of the batch
---@field name? string
---@field ids string[]  the API's id of each part
---@field processing_status string
---@field processing integer
---@field succeeded integer
---@field errored integer
---@field canceled integer
---@field expired integer
---@field logged integer  results this call logged (the others were logged before)
---@field results {id: string, ok: boolean, value: nyx.Result|nyx.Error}[]  by request id

--- Picks a batch up from the database by nyx's id or the API's id of a part (after the process
--- that submitted it died, or from another one): once it has ended, logs every result not logged
--- yet, exactly once whichever process gets there, settling its reservation.
---@param id string
---@param opts? {wait?: boolean, on_progress?: fun(status: table)}
---@return nyx.BatchPickup
function nyx.batch_pickup(id, opts) end

---@param fn function
---@param ... any  passed to fn
---@return nyx.Task
function nyx.spawn(fn, ...) end

--- Runs every function as its own task and returns their first results, in order.
---@param ... function
---@return any ...
function nyx.gather(...) end

---@param seconds number
function nyx.sleep(seconds) end

---@return nyx.Event
function nyx.event() end

---@param opts? nyx.SessionOptions
---@return nyx.Session
function nyx.session(opts) end

---@return nyx.EngineStats
function nyx.stats() end

---@param opts {label: string, parent?: integer, session?: nyx.Session|string}
---@return integer node_id
function nyx.thought(opts) end

--- Handlers for engine events (budget_alert, alert, stopped, ...); fn must not wait.
---@param event string
---@param fn fun(event: table)
function nyx.on(event, fn) end

--- Emergency stop for every process on the database.
---@param reason? string
function nyx.stop(reason) end
function nyx.resume() end
---@param reason? string
function nyx.cancel_all(reason) end

---@return "sim"|"anthropic"
function nyx.provider() end
--- Monotonic seconds.
---@return number
function nyx.now() end

---@param key string  a model or "agent:NAME"
---@param limits {rpm?: number, input_tpm?: number, output_tpm?: number}
function nyx.rate_limit(key, limits) end

---@param name string
---@param seconds number
function nyx.timeout_profile(name, seconds) end

--- The price table's entry for a model id or alias; nil when unknown.
---@param name string
---@return nyx.Model?
function nyx.model(name) end

--- The engine's estimate of text's tokens for the model (bytes per token calibrated on earlier
--- calls' usage); with "max", the most it may hold (what a budget reserves for), from what the
--- text is made of (digits, marks and other scripts count more than words).
---@param text string
---@param model? string
---@param bound? "max"
---@return integer
function nyx.tokens(text, model, bound) end

--- What the API bills for usage now, with every rule the bill has (tiers, dated prices, batch prices).
---@param usage {input_tokens?: integer, output_tokens?: integer, cache_read_input_tokens?: integer, cache_creation_input_tokens?: integer, ttl?: "5m"|"1h", service_tier?: "standard"|"batch"}
---@param model? string
---@return number usd
function nyx.price(usage, model) end

--- A notice through the engine's log (stderr under nyx run).
---@param message string
---@param level? "info"|"warn"
function nyx.log(message, level) end

--- A part of nyx run's live status line: the script's own, or under key another's (a council
--- shows "council 2 of 5 answered" under its own); nil removes it.
---@param text? string
---@param key? string  default "script"
function nyx.progress(text, key) end

--- Raises err (a table with a type) as the engine raises its own errors.
---@param err table
---@param level? integer
function nyx.raise(err, level) end

--- What is wrong with an options table whose options are names, or nil: its first key that is
--- not one of them, with the name it was likely meant to be ("unknown option 'budjet_usd'; did
--- you mean 'budget_usd'?"), for a function of a script's own that takes named options as
--- nyx.call does.
---@param t table
---@param names string[]
---@return string? problem
function nyx.unknown_option(t, names) end

--- A script's own security event in the audit trail.
---@param kind string
---@param detail? string
---@param opts? {session?: nyx.Session|string, agent?: string}
function nyx.audit(kind, detail, opts) end

--- Loads a module again now.
---@param name string
---@return boolean ok
---@return string? message
function nyx.reload(name) end

--- Where notices go when stock lua5.4 owns the engine (inside nyx run the host routes them).
---@param fn fun(level: string, message: string)
function nyx.set_log(fn) end
--- Where the debug view (NYX_DEBUG=1) goes when stock lua5.4 owns the engine.
---@param fn fun(text: string)
function nyx.set_debug_writer(fn) end

---@param opts nyx.AgentOptions
---@return nyx.Agent
function nyx.agent(opts) end

---@param opts nyx.CouncilOptions
---@return nyx.CouncilResult|nyx.CouncilEstimate  the estimate with estimate = true
function nyx.council(opts) end

nyx.budget = {}
---@return nyx.BudgetScope[]
function nyx.budget.status() end
---@param scope string  "day", "month", "session:NAME" or "agent:NAME"
---@param usd? number  nil removes the limit
---@param per? "day"|"month"|"total"  an agent's window (default "day")
function nyx.budget.limit(scope, usd, per) end
--- The ledger's name of a scope now: "agent:NAME" -> "agent:NAME/2026-12-06" for a daily
--- agent budget, "day" -> "day:2026-12-06".
---@param scope string
---@return string
function nyx.budget.scope(scope) end

nyx.templates = {}
---@param name string  "NAME" or "NAME@V"
---@param vars? table
---@return string text
---@return integer version
function nyx.templates.render(name, vars) end
---@param name string
---@return nyx.Template
function nyx.templates.get(name) end
---@param name string
---@param text string
---@param opts? {agent?: string}
---@return integer version
function nyx.templates.create(name, text, opts) end
---@param name string
---@param vars? table
---@return integer version
---@return string? text
function nyx.templates.pick(name, vars) end
---@param name string  "NAME" or "NAME@V"
---@param success boolean
function nyx.templates.record(name, success) end
---@param name string
---@return nyx.TemplateVersionStats[]
function nyx.templates.stats(name) end

nyx.config = {}
---@param key string
---@return string? value
---@return "environment"|"database"|"default" source
function nyx.config.get(key) end
---@param key string
---@param value any  nil removes the key
function nyx.config.set(key, value) end
---@return nyx.ConfigEntry[]
function nyx.config.list() end

--- The prompt-injection guard (lua/nyx/guard.lua; its classes describe the tables in detail).
nyx.guard = {}
---@type table[]
nyx.guard.rules = {}
---@type number
nyx.guard.threshold = 0
---@type string
nyx.guard.default_policy = ""
---@type integer
nyx.guard.max_hits_per_rule = 0
---@param text string
---@return number score
---@return table[] hits
function nyx.guard.score(text) end
---@param text string
---@return string
function nyx.guard.strip(text) end
---@param text string
---@param policy? string|table
---@return table result
function nyx.guard.check(text, policy) end
---@param text string
---@param policy? string|table
---@return string text
---@return table result
function nyx.guard.enforce(text, policy) end
---@param vars table
---@param policy? string|table
---@return table result
function nyx.guard.check_vars(vars, policy) end
---@param vars table
---@param policy? string|table
---@return table vars
---@return table result
function nyx.guard.enforce_vars(vars, policy) end
---@param name string
---@return table?
function nyx.guard.rule(name) end

--- Personal data and secrets.
nyx.pii = {}
---@param text string
---@return nyx.PiiFinding[]
function nyx.pii.scan(text) end
---@param text string
---@return string
function nyx.pii.redact(text) end
---@param found table<string, integer>
---@return string
function nyx.pii.describe(found) end
---@param call nyx.CallOptions
---@param action? "allow"|"redact"|"block"
---@return nyx.CallOptions call
---@return table<string, integer> found
function nyx.pii.call(call, action) end
--- Aliases of nyx.pii.scan and nyx.pii.redact.
---@param text string
---@return nyx.PiiFinding[]
function nyx.guard_scan(text) end
---@param text string
---@return string
function nyx.guard_redact(text) end

return nyx
