/* A script's long strings reach the engine's text pool (claude/types.h) once: the binding finds
 * a string it saw before by identity instead of having the pool hash and compare its bytes on
 * every call. New strings, with the same bytes as others or not, more of them than the binding
 * remembers and collected in between (their addresses then reused), each still send their own
 * text. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "claude/types.h"
#include "core/host_api.h"
#include "nyx.h"
#include "sim_engine.h"

#include <stdlib.h>

static const char *script =
    "local nyx = require 'nyx'\n"
    "local function long(word) return word .. ' ' .. string.rep('refunds take five days. ', 100) end\n"
    "local same = long('alpha')\n"
    "for i = 1, 5 do\n"
    "  local r = nyx.call{system = same, prompt = 'q' .. i, max_tokens = 16}\n"
    "  assert(r.text:find('alpha', 1, true), r.text)\n"
    "  r = nyx.call{system = {{text = same, cache = '5m'}}, prompt = 'p' .. i, max_tokens = 16}\n"
    "  assert(r.text:find('alpha', 1, true), r.text)\n"
    "end\n"
    "local words = {'beta', 'gamma', 'delta'}\n"
    "for i = 1, 20 do\n"
    "  local word = words[i % 3 + 1]\n"
    "  local r = nyx.call{system = long(word), prompt = 'q' .. i, max_tokens = 16}\n"
    "  assert(r.text:find(word, 1, true), word .. ': ' .. r.text)\n"
    "  collectgarbage()\n"
    "end\n";

int main(void)
{
    nyx_engine *e = SIM_ENGINE_WITH("0", script, "=texts");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(run_to_done(e), NYX_OK);
    /* The first string read once for its ten calls; each of the twenty new ones once. */
    CHECK_INT(text_pool_reads(engine_text_pool(e)), 21);
    nyx_close(e);
    return check_failures;
}
