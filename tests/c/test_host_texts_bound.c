/* A script that cycles through many long prompts holds only a bounded number of their shared
 * copies (claude/types.h), however long its collector waits: the binding's memo of strings by
 * address lets go of its old entries' texts when it starts again, rather than leaving them to
 * userdata the collector sees as a few bytes each. Here the collector never runs. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "claude/types.h"
#include "nyx.h"
#include "sim_engine.h"

static const char *script =
    "collectgarbage('stop')\n"
    "local nyx = require 'nyx'\n"
    "local prompts = {}\n"
    "for i = 1, 40 do prompts[i] = 'prompt ' .. i .. ' ' .. string.rep('refunds take five days. ', 100) end\n"
    "for round = 1, 2 do\n"
    "  for i = 1, 40 do\n"
    "    local r = nyx.call{system = prompts[i], prompt = 'q' .. i, max_tokens = 16}\n"
    "    assert(r.text:find('prompt ' .. i, 1, true), r.text)\n"
    "  end\n"
    "end\n";

int main(void)
{
    nyx_engine *e = SIM_ENGINE_WITH("0", script, "=texts");
    REQUIRE_OR(e != NULL, 1);
    CHECK_INT(run_to_done(e), NYX_OK);
    /* The pool's 16 slots and the memo's 8 entries at most (they hold the newest, so mostly the
     * same texts); the 80 calls' worth, or the 40 prompts', when dead entries kept theirs. */
    unsigned long alive = shared_texts_alive();
    if (alive > 24)
        fprintf(stderr, "shared texts alive: %lu\n", alive);
    CHECK(alive <= 24);
    nyx_close(e);
    CHECK_INT(shared_texts_alive(), 0);
    return check_failures;
}
