-- A council of five personas weighs a business decision over one shared, cached briefing.
-- Run: nyx run examples/council.lua   (on the built-in simulator when no API key is set)
local nyx = require "nyx"

local here = (arg and arg[0] or "examples/council.lua"):match("^(.*)/") or "."

local function read(path)
  local f = assert(io.open(path, "r"))
  local text = f:read("a")
  f:close()
  return text
end

-- The briefing: a narrative plus the data appendix a real board pack would carry.
local function appendix()
  local rows = { "| month | channel | region | orders | revenue_usd | returns | nps |",
                 "|---|---|---|---|---|---|---|" }
  local channels = { "web", "specialty", "chains" }
  local regions = { "US-West", "US-East", "Canada", "EU-North", "EU-South" }
  for m = 1, 24 do
    for c, channel in ipairs(channels) do
      for r, region in ipairs(regions) do
        local base = 900 + 37 * ((m * 7 + c * 13 + r * 29) % 41)
        local season = ({ 0.7, 0.7, 0.9, 1.1, 1.3, 1.4, 1.4, 1.2, 1.0, 0.9, 1.1, 1.5 })[(m - 1) % 12 + 1]
        local orders = math.floor(base * season * (channel == "web" and 0.6 or 1))
        rows[#rows + 1] = ("| %d | %s | %s | %d | %d | %d | %d |"):format(
          m, channel, region, orders, orders * (96 + (m * c * r) % 57), orders // (14 + r), 38 + (m + c + r) % 19)
      end
    end
  end
  return table.concat(rows, "\n")
end

-- The shared context and each persona's instruction come from templates/ (council_context.md,
-- council_persona.md): edit them there; each distinct version is recorded with its statistics.
local context = nyx.templates.render("council_context", {
  company = "Northwind Outdoor Gear",
  briefing = read(here .. "/data/northwind_brief.md"),
  data = appendix(),
  data_title = "Orders, revenue, returns and NPS by month, channel and region (24 months)",
})

local members = {
  { name = "CFO", role = "chief financial officer",
    focus = "Judge the proposal on cash, payback, risk to the credit covenants and the quality of the base-case assumptions." },
  { name = "CMO", role = "chief marketing officer",
    focus = "Judge the proposal on brand, customer acquisition, retention and the reaction of retail partners." },
  { name = "COO", role = "chief operating officer",
    focus = "Judge the proposal on fulfilment, repair capacity, trade-in logistics and what could break at peak." },
  { name = "CTO", role = "chief technology officer",
    focus = "Judge the proposal on the platform rebuild, data, real-time stock and delivery risk." },
  { name = "Customer advocate", role = "the voice of Northwind's customers",
    focus = "Judge the proposal on what members would actually value, pay for and complain about." },
}
local personas = {}
for i, m in ipairs(members) do
  personas[i] = { name = m.name, template = "council_persona",
                  instruction = nyx.templates.render("council_persona", m) }
end

local question = "Should Northwind launch the Trail Club subscription as proposed, change it, or drop it? Give a recommendation, the two strongest reasons, and the one risk you would insist on managing."

local s <close> = nyx.session{ name = nyx.vars.session or ("council_" .. os.date("!%Y%m%dT%H%M%S")) }
local council = nyx.council{
  context = context, personas = personas, question = question,
  session = s, max_tokens = tonumber(nyx.vars.max_tokens) or 400,
}

print(("%-18s %8s %8s %8s %8s  %-5s %10s"):format("persona", "input", "cache_w", "cache_r", "output", "hit", "cost_usd"))
for _, a in ipairs(council.responses) do
  if a.error then
    print(("%-18s failed: %s"):format(a.persona, tostring(a.error)))
  else
    local u = a.usage
    print(("%-18s %8d %8d %8d %8d  %-5s %10.6f"):format(a.persona, u.input_tokens,
      u.cache_creation_input_tokens, u.cache_read_input_tokens, u.output_tokens,
      a.cache_hit and "yes" or "no", u.cost_usd or 0))
  end
end
local t = council.totals
print(("\ncouncil: %d calls, %d cache hits, %.0f ms wall"):format(t.calls, t.cache_hits, t.wall_ms))
print(("cost %.6f USD; without caching %.6f USD; saved %.6f USD (%.1f%%)"):format(
  t.cost_usd, t.cost_without_cache_usd, t.saved_usd, 100 * t.saving))
print("\nfirst answer (" .. council.responses[1].persona .. "):\n" .. (council.responses[1].text or ""))
