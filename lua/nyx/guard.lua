--- nyx.guard: the prompt-injection guard, as an editable policy.
---
--- Text is scored against M.rules, known signs of prompt injection: instruction overrides,
--- system-prompt extraction, role hijacks and chat markup, invisible or tag Unicode characters,
--- and long encoded blobs. A policy then allows, warns, strips or blocks. The rules are plain
--- data: change a weight, disable a rule or add your own at run time.
---
--- Rule patterns are Lua patterns matched against the lower-cased text, with two additions:
--- a space matches any run of whitespace, and {a|b|c} matches one of its alternatives (each a
--- pattern itself; an empty alternative makes the group optional). Groups do not nest. A match
--- must begin and end on word boundaries where it begins or ends with a letter or digit, so
--- "act as dan" does not fire inside "act as danger".
---
--- Plain Lua 5.4: no C module is needed. (The PII scanner is C; see M.scan below.)
local M = {}

---@alias nyx.guard.Action "allow"|"warn"|"strip"|"block"

---@class nyx.guard.Rule
---@field name string           reported as `rule` in hits
---@field category string       "override", "extraction", "role", "unicode", "encoded", or yours
---@field weight number         added to the score once when the rule matches at all
---@field patterns? string[]    patterns as described above
---@field find? fun(text: string, lower: string, rule: nyx.guard.Rule): nyx.guard.Span[]
---@field enabled? boolean      false skips the rule
---@field strip? boolean        false keeps its matches when stripping (default true)
---@field min_len? integer      for the encoded-blob rules: shortest run that counts

---@class nyx.guard.Span
---@field [1] integer first byte (1-based)
---@field [2] integer last byte (inclusive)
---@field decoded? string what hidden tag characters spell

---@class nyx.guard.Hit
---@field rule string
---@field category string
---@field weight number
---@field match string     the matched bytes of the original text
---@field from integer     first byte (1-based)
---@field to integer       last byte (inclusive)
---@field decoded? string  for tag characters: the ASCII they spell
---@field path? string     for check_vars: where in the variables the text was

---@class nyx.guard.Result
---@field action nyx.guard.Action what to do: the policy's action, or "allow" below threshold
---@field score number             sum of the weights of the rules that matched
---@field hits nyx.guard.Hit[]     in order of position
---@field text string              the text, stripped when action is "strip"

---@class nyx.guard.Policy
---@field action nyx.guard.Action
---@field threshold? number        default M.threshold

--- Score at or above which a policy acts (a score of 0 never acts).
M.threshold = 0.5
--- The policy used when none is given.
M.default_policy = "warn"
--- At most this many hits are reported per rule (stripping still removes every match).
M.max_hits_per_rule = 50

local find, sub, byte, lower_of = string.find, string.sub, string.byte, string.lower

---------------------------------------------------------------------------------------------
-- Unicode and encoded-blob finders
---------------------------------------------------------------------------------------------

-- Zero-width and invisible formatting characters, as UTF-8: U+200B..U+200F, U+2060..U+2064,
-- U+FEFF.
local INVISIBLE = { "\xE2\x80[\x8B-\x8F]", "\xE2\x81[\xA0-\xA4]", "\xEF\xBB\xBF" }

--- Merges spans that touch or overlap (after sorting), so a run of invisible characters is
--- one hit.
---@param spans nyx.guard.Span[]
---@return nyx.guard.Span[]
local function merge_runs(spans)
  table.sort(spans, function(a, b) return a[1] < b[1] end)
  local out = {}
  for _, s in ipairs(spans) do
    local last = out[#out]
    if last and s[1] <= last[2] + 1 then
      if s[2] > last[2] then last[2] = s[2] end
    else
      out[#out + 1] = { s[1], s[2] }
    end
  end
  return out
end

-- Not an attack: a byte-order mark opening the text, and ZWNJ/ZWJ between two non-ASCII
-- characters, where Persian and Indic scripts and emoji sequences (👩‍💻) need them.
local function benign_invisible(text, s, e)
  if s == 1 and sub(text, s, e) == "\xEF\xBB\xBF" then
    return true
  end
  local c = byte(text, s + 2)
  if byte(text, s) == 0xE2 and byte(text, s + 1) == 0x80 and (c == 0x8C or c == 0x8D) then
    local before, after = byte(text, s - 1), byte(text, e + 1)
    return s > 1 and before >= 0x80 and after ~= nil and after >= 0x80
  end
  return false
end

---@return nyx.guard.Span[]
local function find_invisible(text)
  if not find(text, "[\xE2\xEF]") then
    return {}
  end
  local spans = {}
  for _, pat in ipairs(INVISIBLE) do
    for s, e in text:gmatch("()" .. pat .. "()") do
      if not benign_invisible(text, s, e - 1) then
        spans[#spans + 1] = { s, e - 1 }
      end
    end
  end
  return merge_runs(spans)
end

-- Unicode tag characters U+E0000..U+E007F (UTF-8 F3 A0 80 80 .. F3 A0 81 BF): invisible
-- copies of ASCII, used to smuggle instructions past a human reader.
---@return nyx.guard.Span[]
local function find_tags(text)
  if not find(text, "\xF3\xA0", 1, true) then
    return {}
  end
  local spans = {}
  for s in text:gmatch("()\xF3\xA0[\x80\x81][\x80-\xBF]") do
    spans[#spans + 1] = { s, s + 3 }
  end
  spans = merge_runs(spans)
  for _, span in ipairs(spans) do
    local chars = {}
    for i = span[1], span[2], 4 do
      local cp = ((byte(text, i + 2) & 0x3F) << 6) | (byte(text, i + 3) & 0x3F)
      if cp >= 0x20 and cp < 0x7F then
        chars[#chars + 1] = string.char(cp)
      end
    end
    span.decoded = table.concat(chars)
  end
  return spans
end

--- Runs of class `set` at least rule.min_len long that satisfy ok(run).
local function find_runs(text, set, min_len, ok)
  local spans = {}
  if #text < min_len then
    return spans
  end
  local init = 1
  while true do
    local s, e = find(text, set, init)
    if not s then break end
    if e - s + 1 >= min_len and ok(sub(text, s, e)) then
      spans[#spans + 1] = { s, e }
    end
    init = e + 1
  end
  return spans
end

-- Base64 (standard or URL-safe) needs all three character classes, which prose, hex digests
-- and long identifiers lack.
local function find_base64(text, _, rule)
  return find_runs(text, "[%w+/_%-]+=*", rule.min_len or 200, function(run)
    return find(run, "%d") and find(run, "%u") and find(run, "%l") and true or false
  end)
end

local function find_hex(text, _, rule)
  return find_runs(text, "%x+", rule.min_len or 160, function(run)
    return find(run, "%d") and find(run, "%a") and true or false
  end)
end

---------------------------------------------------------------------------------------------
-- The rules
---------------------------------------------------------------------------------------------

local PREVIOUS = "{previous|prior|above|preceding|earlier|former|foregoing|initial|original}"
local DIRECTIONS = "{instructions?|directions?|prompts?|rules|messages?|commands?|guidelines"
  .. "|directives?|context|programming}"

---@type nyx.guard.Rule[]
M.rules = {
  -- instruction overrides
  { name = "ignore_instructions", category = "override", weight = 1.0, patterns = {
    "ignore {all |any |the |all the |all of the |every |}" .. PREVIOUS .. " " .. DIRECTIONS,
    "ignore {all |any |}your {instructions?|rules|guidelines|directives|programming|system prompt"
      .. "|training}",
    "ignore {everything|all} {above|before}",
  } },
  { name = "disregard_instructions", category = "override", weight = 1.0, patterns = {
    "disregard {all |any |the |all the |all of the |}{your |}" .. PREVIOUS .. " " .. DIRECTIONS,
    "disregard {all |any |}your {instructions?|rules|guidelines|directives|programming"
      .. "|system prompt|training}",
    "disregard {everything|all} {above|before}",
  } },
  { name = "forget_everything", category = "override", weight = 1.0, patterns = {
    "forget {everything|all} {you|you've|your|above|before|previously|that came before}",
    "forget {all |}your {instructions|rules|guidelines|programming|training|system prompt}",
  } },
  { name = "bypass_safety", category = "override", weight = 1.0, patterns = {
    "{override|bypass|circumvent|disable} {all |any |}your {safety |content |ethical |}"
      .. "{guidelines|restrictions|filters|policies|guardrails|rules|instructions}",
  } },
  -- system-prompt extraction
  { name = "reveal_system_prompt", category = "extraction", weight = 1.0, patterns = {
    "{reveal|print|repeat|show|output|display|dump|leak|recite|disclose|expose|give me|tell me"
      .. "|write out|spell out|share|copy} {me |us |}{your|the} {full |entire |complete |exact "
      .. "|original |initial |hidden |secret |}system {prompt|instructions|message}",
    "{reveal|print|repeat|show|output|display|dump|leak|recite|disclose|expose|write out"
      .. "|spell out} {me |us |}your {full |entire |complete |exact |original |initial |hidden "
      .. "|secret |}{instructions|prompt|rules|guidelines}",
    "repeat {the |all |all the |}{words|text|everything} above",
  } },
  { name = "ask_instructions", category = "extraction", weight = 0.5, patterns = {
    "what {is|are|were|was} your {system prompt|instructions|initial instructions"
      .. "|original instructions|exact instructions|hidden instructions}",
  } },
  -- role hijacks
  { name = "persona_override", category = "role", weight = 1.0, patterns = {
    "you are now {dan|an? unfiltered|an? unrestricted|an? uncensored|jailbroken|in developer mode"
      .. "|free from|no longer bound|not bound}",
    "{act|acting|behave} as {dan|an? unfiltered|an? unrestricted|an? uncensored|an? jailbroken"
      .. "|if you have no}",
    "pretend {to be|you are|you're} {dan|an? unfiltered|an? unrestricted|an? uncensored"
      .. "|an? jailbroken|an? evil|not an ai}",
    "you are no longer {an? ai|an? assistant|an? language model|claude|bound|restricted|limited}",
    "do anything now",
    "{dan|jailbreak|god} mode",
  } },
  { name = "developer_mode", category = "role", weight = 0.5, patterns = {
    "{enable|enter|activate|switch to|you are in|you're in|now in} developer mode",
    "developer mode {enabled|activated|is on}",
  } },
  { name = "chat_markup", category = "role", weight = 1.0, patterns = {
    "</?system>", "%[/?inst%]", "<|im_start|>", "<|im_end|>", "<|system|>", "<|user|>",
    "<|assistant|>", "<|endoftext|>", "<</?sys>>",
  } },
  { name = "turn_markers", category = "role", weight = 0.5, patterns = {
    "\n\nhuman:", "\n\nassistant:", "\n\nsystem:",
  } },
  -- hidden characters
  { name = "invisible_characters", category = "unicode", weight = 0.5, find = find_invisible },
  { name = "tag_characters", category = "unicode", weight = 1.0, find = find_tags },
  -- encoded payloads
  { name = "base64_blob", category = "encoded", weight = 0.5, min_len = 200, find = find_base64 },
  { name = "hex_blob", category = "encoded", weight = 0.5, min_len = 160, find = find_hex },
}

---------------------------------------------------------------------------------------------
-- Pattern compilation and matching
---------------------------------------------------------------------------------------------

local function to_lua(fragment)
  return "^" .. fragment:gsub(" +", "%%s+")
end

-- The literal text an anchored fragment must begin with ("" when it begins with a class or
-- an optional character), for a fast plain search.
local function literal_prefix(anchored)
  local out, i, n = {}, 2, #anchored
  while i <= n do
    local c = sub(anchored, i, i)
    local lit, width
    if c == "%" then
      local d = sub(anchored, i + 1, i + 1)
      if d == "" or d:match("%w") then break end
      lit, width = d, 2
    elseif c:match("[%^%$%(%)%.%[%]%*%+%-%?]") then
      break
    else
      lit, width = c, 1
    end
    local q = sub(anchored, i + width, i + width)
    if q == "?" or q == "*" or q == "-" then break end
    out[#out + 1] = lit
    if q == "+" then break end
    i = i + width
  end
  return table.concat(out)
end

-- pattern text -> { items = { {alt, ...}, ... }, prefixes = {string, ...} | false }
local compiled = {}

local function compile(pattern)
  local c = compiled[pattern]
  if c then return c end
  local items, pos = {}, 1
  while pos <= #pattern do
    local s, e, body = find(pattern, "{([^{}]*|[^{}]*)}", pos)
    local literal = sub(pattern, pos, (s or #pattern + 1) - 1)
    if literal ~= "" then
      items[#items + 1] = { to_lua(literal) }
    end
    if not s then break end
    local alts = {}
    for alt in (body .. "|"):gmatch("([^|]*)|") do
      alts[#alts + 1] = to_lua(alt)
    end
    items[#items + 1] = alts
    pos = e + 1
  end
  -- anchor on the literal beginnings of the first item, or of the second when the first is
  -- optional; a pattern with no literal beginning is tried at every byte
  local prefixes, seen = {}, {}
  local k = 1
  while items[k] do
    local optional = false
    for _, alt in ipairs(items[k]) do
      local p = literal_prefix(alt)
      if alt == "^" then
        optional = true
      elseif p == "" then
        prefixes = false
        break
      elseif not seen[p] then
        seen[p] = true
        prefixes[#prefixes + 1] = p
      end
    end
    if not prefixes or not optional then break end
    k = k + 1
  end
  if prefixes and #prefixes == 0 then prefixes = false end
  c = { items = items, prefixes = prefixes }
  compiled[pattern] = c
  return c
end

-- The end of the longest match of items[k..] at pos, or nil.
local function match_items(items, k, lower, pos)
  if k > #items then
    return pos - 1
  end
  local best
  for _, alt in ipairs(items[k]) do
    local s, e = find(lower, alt, pos)
    if s then
      local r = match_items(items, k + 1, lower, e + 1)
      if r and (not best or r > best) then best = r end
    end
  end
  return best
end

local function is_word_byte(b)
  return b and ((b >= 48 and b <= 57) or (b >= 97 and b <= 122) or (b >= 65 and b <= 90))
end

local function on_boundaries(lower, s, e)
  if is_word_byte(byte(lower, s)) and is_word_byte(byte(lower, s - 1)) then return false end
  if is_word_byte(byte(lower, e)) and is_word_byte(byte(lower, e + 1)) then return false end
  return true
end

---@return nyx.guard.Span[]
local function find_pattern(pattern, lower, spans)
  local c = compile(pattern)
  local taken = {}
  local function try(s)
    if taken[s] then return nil end
    local e = match_items(c.items, 1, lower, s)
    if e and e >= s and on_boundaries(lower, s, e) then
      taken[s] = true
      spans[#spans + 1] = { s, e }
      return e
    end
    return nil
  end
  if c.prefixes then
    for _, p in ipairs(c.prefixes) do
      local init = 1
      while true do
        local s = find(lower, p, init, true)
        if not s then break end
        init = (try(s) or s) + 1
      end
    end
  else
    local s = 1
    while s <= #lower do
      s = (try(s) or s) + 1
    end
  end
  return spans
end

---------------------------------------------------------------------------------------------
-- Scoring
---------------------------------------------------------------------------------------------

-- Raises an invalid_argument error table, as every nyx error is one, naming the line of the
-- function level levels up: through the engine's nyx.raise when nyx.core is there (its error
-- metatable and `where`), else as a plain table, so that this module still needs no C.
local function invalid(message, level)
  local err = { type = "invalid_argument", message = message }
  local ok, core = pcall(require, "nyx.core")
  if ok and type(core) == "table" and core.raise then core.raise(err, level > 0 and level + 1 or 0) end
  error(err, level + 1)
end

-- level: counted as error()'s, from bad_arg (default 3: the caller of the public function
-- that called bad_arg).
local function bad_arg(n, fname, msg, level)
  invalid(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level or 3)
end

local function check_rule(rule, i)
  if type(rule) ~= "table" or type(rule.name) ~= "string" or type(rule.weight) ~= "number"
      or (rule.patterns == nil and rule.find == nil) then
    invalid(("nyx.guard.rules[%d] must be a table {name=, category=, weight=, patterns= or find=}")
      :format(i), 0)
  end
end

-- Every matching span of every enabled rule: returns score, hits, spans-to-strip.
local function analyse(text)
  local lower = lower_of(text)
  local score, hits, strip_spans = 0, {}, {}
  for i, rule in ipairs(M.rules) do
    check_rule(rule, i)
    if rule.enabled ~= false then
      local spans
      if rule.find then
        spans = rule.find(text, lower, rule)
      else
        spans = {}
        for _, pattern in ipairs(rule.patterns) do
          find_pattern(pattern, lower, spans)
        end
        spans = merge_runs(spans)
      end
      if #spans > 0 then
        score = score + rule.weight
        for n, span in ipairs(spans) do
          if n <= M.max_hits_per_rule then
            hits[#hits + 1] = { rule = rule.name, category = rule.category, weight = rule.weight,
                                match = sub(text, span[1], span[2]), from = span[1], to = span[2],
                                decoded = span.decoded }
          end
          if rule.strip ~= false then
            strip_spans[#strip_spans + 1] = span
          end
        end
      end
    end
  end
  table.sort(hits, function(a, b)
    if a.from ~= b.from then return a.from < b.from end
    return a.rule < b.rule
  end)
  return score, hits, strip_spans
end

local function remove_spans(text, spans)
  if #spans == 0 then return text end
  local out, pos = {}, 1
  for _, s in ipairs(merge_runs(spans)) do
    out[#out + 1] = sub(text, pos, s[1] - 1)
    pos = s[2] + 1
  end
  out[#out + 1] = sub(text, pos)
  return table.concat(out)
end

--- Scores text against M.rules.
---@param text string
---@return number score  the sum of the weights of the rules that matched (0 when none did)
---@return nyx.guard.Hit[] hits  every match, in order of position
function M.score(text)
  if type(text) ~= "string" then
    bad_arg(1, "score", "string expected, got " .. type(text))
  end
  local score, hits = analyse(text)
  return score, hits
end

--- Removes every match of every rule (except rules with strip = false), whatever the score.
---@param text string
---@return string
function M.strip(text)
  if type(text) ~= "string" then
    bad_arg(1, "strip", "string expected, got " .. type(text))
  end
  local _, _, spans = analyse(text)
  return remove_spans(text, spans)
end

local ACTIONS = { allow = true, warn = true, strip = true, block = true }
local RANK = { allow = 0, warn = 1, strip = 2, block = 3 }

---@return nyx.guard.Policy
local function normalize_policy(policy, n, fname)
  if policy == nil then policy = M.default_policy end
  if type(policy) == "string" and ACTIONS[policy] then
    return { action = policy, threshold = M.threshold }
  end
  if type(policy) == "table" and ACTIONS[policy.action]
      and (policy.threshold == nil or type(policy.threshold) == "number") then
    return { action = policy.action, threshold = policy.threshold or M.threshold }
  end
  bad_arg(n, fname, 'policy must be "allow", "warn", "strip", "block" or {action=, threshold=}', 4)
end

local function decide(text, p)
  local score, hits, spans = analyse(text)
  local action = "allow"
  if p.action ~= "allow" and score > 0 and score >= p.threshold then
    action = p.action
  end
  return { action = action, score = score, hits = hits,
           text = action == "strip" and remove_spans(text, spans) or text }
end

--- Scores text and applies a policy. Below the threshold the action is "allow"; at or above
--- it, the policy's action. "strip" returns the text without the matched spans (and so
--- without invisible characters); "block" only reports: M.enforce raises.
---@param text string
---@param policy? nyx.guard.Action|nyx.guard.Policy  default M.default_policy
---@return nyx.guard.Result
function M.check(text, policy)
  if type(text) ~= "string" then
    bad_arg(1, "check", "string expected, got " .. type(text))
  end
  return decide(text, normalize_policy(policy, 2, "check"))
end

local function blocked(result, what)
  local names, seen = {}, {}
  for _, h in ipairs(result.hits) do
    if not seen[h.rule] then
      seen[h.rule] = true
      names[#names + 1] = h.rule
    end
  end
  error({ type = "blocked", score = result.score, hits = result.hits,
          message = ("%s blocked by the injection guard (score %.2f: %s)")
            :format(what, result.score, table.concat(names, ", ")) }, 3)
end

--- Like M.check, but raises {type="blocked", message=, score=, hits=} when the action is
--- "block". Returns the text to send (stripped under "strip") and the result.
---@param text string
---@param policy? nyx.guard.Action|nyx.guard.Policy
---@return string text
---@return nyx.guard.Result result
function M.enforce(text, policy)
  if type(text) ~= "string" then
    bad_arg(1, "enforce", "string expected, got " .. type(text))
  end
  local r = decide(text, normalize_policy(policy, 2, "enforce"))
  if r.action == "block" then blocked(r, "text") end
  return r.text, r
end

local function key_path(prefix, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then
    return prefix == "" and k or prefix .. "." .. k
  end
  local shown = type(k) == "string" and ("%q"):format(k) or tostring(k)
  return prefix .. "[" .. shown .. "]"
end

---@class nyx.guard.VarsResult
---@field action nyx.guard.Action  the strongest action over all values
---@field score number             the highest score of any value
---@field hits nyx.guard.Hit[]     all hits, each with `path` ("user.name", "items[2]")
---@field vars table               a copy of vars with stripped strings under "strip"

--- Checks every string value of a template's variables, recursing into tables (each table
--- once). Keys are not checked.
---@param vars table
---@param policy? nyx.guard.Action|nyx.guard.Policy
---@return nyx.guard.VarsResult
function M.check_vars(vars, policy)
  if type(vars) ~= "table" then
    bad_arg(1, "check_vars", "table expected, got " .. type(vars))
  end
  local p = normalize_policy(policy, 2, "check_vars")
  local out = { action = "allow", score = 0, hits = {} }
  local copies = {}
  local function visit(t, prefix)
    if copies[t] then return copies[t] end
    local copy = {}
    copies[t] = copy
    for k, v in pairs(t) do
      local path = key_path(prefix, k)
      if type(v) == "string" then
        local r = decide(v, p)
        if r.score > out.score then out.score = r.score end
        if RANK[r.action] > RANK[out.action] then out.action = r.action end
        for _, h in ipairs(r.hits) do
          h.path = path
          out.hits[#out.hits + 1] = h
        end
        copy[k] = r.text
      elseif type(v) == "table" then
        copy[k] = visit(v, path)
      else
        copy[k] = v
      end
    end
    return copy
  end
  out.vars = visit(vars, "")
  return out
end

--- Like M.check_vars, but raises {type="blocked", ...} when any value is blocked. Returns the
--- variables to render (stripped under "strip") and the result.
---@param vars table
---@param policy? nyx.guard.Action|nyx.guard.Policy
---@return table vars
---@return nyx.guard.VarsResult result
function M.enforce_vars(vars, policy)
  if type(vars) ~= "table" then
    bad_arg(1, "enforce_vars", "table expected, got " .. type(vars))
  end
  local r = M.check_vars(vars, policy)
  if r.action == "block" then blocked(r, "template variables") end
  return r.vars, r
end

--- Returns the rule named name, or nil, to edit it in place.
---@param name string
---@return nyx.guard.Rule?
function M.rule(name)
  for _, r in ipairs(M.rules) do
    if r.name == name then return r end
  end
  return nil
end

-- The PII and secrets scanner is C (engine/guard/scan.c). When the engine's module nyx.core
-- is available and exports it as guard_scan / guard_redact, M.scan and M.redact are those
-- functions; they are looked up on first use, so requiring this module never loads C.
setmetatable(M, {
  __index = function(t, name)
    if name ~= "scan" and name ~= "redact" then return nil end
    local ok, core = pcall(require, "nyx.core")
    local fn = ok and type(core) == "table" and core["guard_" .. name] or nil
    if fn then rawset(t, name, fn) end
    return fn
  end,
})

return M
