/* The engine's filter for what reaches the database (store_set_text_filter): outside storage
 * mode "full", free text and names are redacted as prompts are, by the same scanner, so no
 * record, label, error message, session name or template body keeps the e-mail addresses,
 * card numbers or keys that passed through it. Names keep a tag per finding, so sessions
 * that differed stay apart (and their budgets too). */
#include "engine.h"

#include "guard/scan.h"
#include "store/store.h"

#include <string.h>

static int filter(void *ud, const char *text, int name, char **copy)
{
    const nyx_engine *e = ud;
    *copy = NULL;
    if (e->cfg.storage_mode && strcmp(e->cfg.storage_mode, "full") == 0)
        return 0;
    size_t len = strlen(text);
    if (guard_scan(text, len, NULL, NULL) == 0)
        return 0;
    *copy = name ? guard_redact_tagged(text, len, NULL) : guard_redact(text, len, NULL);
    return *copy ? 0 : -1;
}

void engine_filter_store_text(nyx_engine *e)
{
    store_set_text_filter(e->storage.db, filter, e);
}
