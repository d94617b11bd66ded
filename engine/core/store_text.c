/* The engine's filter for what reaches the database (store_set_text_filter): outside storage
 * mode "full", free text and names are redacted as prompts are, by the same scanner, so no
 * record, label, error message, session name or template body keeps the e-mail addresses,
 * card numbers or keys that passed through it. Names keep a tag per finding, so sessions
 * that differed stay apart (and their budgets too). */
#include "engine.h"

#include "guard/scan.h"
#include "store/store.h"

#include <string.h>

/* Whether text is one of the short texts found clean lately. What the scanner finds depends on
 * the bytes alone: a model's, an agent's or a session's name, stored with every record, is
 * scanned once, not for every record (900 instructions for a model's name). */
static int known_clean(const nyx_engine *e, const char *text, size_t len)
{
    for (size_t i = 0; i < e->nclean_texts; i++)
        if (e->clean_texts[i].len == len && memcmp(e->clean_texts[i].text, text, len) == 0)
            return 1;
    return 0;
}

static void remember_clean(nyx_engine *e, const char *text, size_t len)
{
    if (len >= ENGINE_CLEAN_TEXT_MAX)
        return;
    if (e->nclean_texts == ENGINE_CLEAN_TEXTS) { /* the oldest goes */
        memmove(&e->clean_texts[0], &e->clean_texts[1], (ENGINE_CLEAN_TEXTS - 1) * sizeof e->clean_texts[0]);
        e->nclean_texts--;
    }
    memcpy(e->clean_texts[e->nclean_texts].text, text, len);
    e->clean_texts[e->nclean_texts++].len = len;
}

int engine_store_text_filter(void *ud, const char *text, int name, char **copy)
{
    nyx_engine *e = ud;
    *copy = NULL;
    if (e->cfg.storage_mode && strcmp(e->cfg.storage_mode, "full") == 0)
        return 0;
    size_t len = strlen(text);
    if (len < ENGINE_CLEAN_TEXT_MAX && known_clean(e, text, len))
        return 0;
    if (guard_scan(text, len, NULL, NULL) == 0) {
        remember_clean(e, text, len);
        return 0;
    }
    *copy = name ? guard_redact_tagged(text, len, NULL) : guard_redact(text, len, NULL);
    return *copy ? 0 : -1;
}

void engine_filter_store_text(nyx_engine *e)
{
    store_set_text_filter(e->storage.db, engine_store_text_filter, e);
}
