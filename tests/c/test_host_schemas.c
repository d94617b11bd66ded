/* A script's structured-output schemas are checked through the engine's memo (claude/schema.h),
 * whichever way they come (output, a strict tool table, a tools list as JSON text): a loop
 * sending one schema walks it once, a changed schema is walked again and refused, and a list
 * without a strict tool is not looked at. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "claude/schema.h"
#include "core/host_api.h"
#include "nyx.h"
#include "sim_engine.h"

#include <stdlib.h>

static const char *script =
    "local nyx = require 'nyx'\n"
    "local schema = {type = 'object', properties = {n = {type = 'integer'}}, required = {'n'},\n"
    "                additionalProperties = false}\n"
    "local tool = {name = 'count', strict = true, input = schema}\n"
    "local json = '[{\"name\":\"count\",\"strict\":true,\"input_schema\":' .. nyx.json_encode(schema) .. '}]'\n"
    "for i = 1, 5 do\n"
    "  local r = nyx.call{prompt = 'o' .. i, output = schema, max_tokens = 200}\n"
    "  assert(math.type(r.json.n) == 'integer')\n"
    "  nyx.call{prompt = 't' .. i, tools = {tool}, max_tokens = 16}\n"
    "  nyx.call{prompt = 'j' .. i, tools = json, max_tokens = 16}\n"
    "  nyx.call{prompt = 'l' .. i, tools = {{name = 'loose', input = {type = 'object'}}}, max_tokens = 16}\n"
    "end\n"
    "-- The same table changed: a new text, walked and refused each time; the good one still passes.\n"
    "schema.properties.n.minimum = 1\n"
    "for i = 1, 2 do\n"
    "  local ok, e = pcall(nyx.call, {prompt = 'c' .. i, output = schema})\n"
    "  assert(not ok and e.type == 'invalid_argument' and e.message:find('minimum is not supported', 1, true),\n"
    "         tostring(e))\n"
    "end\n"
    "schema.properties.n.minimum = nil\n"
    "nyx.call{prompt = 'again', output = schema, max_tokens = 200}\n";

int main(void)
{
    nyx_engine *e = SIM_ENGINE_WITH("0", script, "=schemas");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(run_to_done(e), NYX_OK);
    claude_schema_memo_stats st;
    claude_schema_memo_get_stats(engine_schema_memo(e), &st);
    /* Walked: the output schema, the strict tool list, the JSON list, the changed schema twice. */
    CHECK_INT((int)st.walked, 5);
    /* Found: four more of each of the three, and the output schema once it is as before. */
    CHECK_INT((int)st.found, 13);
    nyx_close(e);
    return check_failures;
}
