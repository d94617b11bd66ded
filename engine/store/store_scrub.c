/* What reaches the database passes through the store's text filter first (store.h,
 * store_set_text_filter): the free text of a record and the names it is filed under. Done
 * here, under every write, so no writer can forget it. */
#include "store_backend.h"

#include <stdio.h>
#include <stdlib.h>

void store_set_text_filter(store_db *s, store_text_filter fn, void *ud)
{
    if (!s)
        return;
    s->filter = fn;
    s->filter_ud = ud;
}

static const char *scrub_with(store_text_filter fn, void *ud, store_scrubbed *sc, const char *text, int name)
{
    if (!text || !fn || sc->oom)
        return text;
    char *copy = NULL;
    if (sc->n == STORE_SCRUB_MAX || fn(ud, text, name, &copy) != 0) {
        sc->oom = 1; /* a programming error (too many), or out of memory: never the raw text */
        return text;
    }
    if (!copy)
        return text;
    sc->owned[sc->n++] = copy;
    return copy;
}

const char *store_scrub(const store_db *s, store_scrubbed *sc, const char *text, int name)
{
    return s ? scrub_with(s->filter, s->filter_ud, sc, text, name) : text;
}

void store_name_as_stored(const store_db *s, const char *name, char *out, size_t size)
{
    if (!out || size == 0)
        return;
    store_scrubbed sc = {0};
    const char *stored = store_scrub(s, &sc, name ? name : "", 1);
    snprintf(out, size, "%s", stored);
    store_scrub_free(&sc);
}

int store_scrub_failed(store_scrubbed *sc, error_info *err)
{
    if (!sc->oom)
        return 0;
    store_scrub_free(sc);
    store_fail(err, "store: cannot prepare text for the database: out of memory");
    return -1;
}

void store_scrub_free(store_scrubbed *sc)
{
    for (int i = 0; i < sc->n; i++)
        free(sc->owned[i]);
    sc->n = 0;
}

int store_interaction_filtered(store_text_filter fn, void *ud, store_scrubbed *sc, const interaction_rec *in,
                               interaction_rec *out, error_info *err)
{
    *out = *in;
    if (!fn)
        return 0;
    /* Prompt and response text follow the storage mode already (the engine redacts them). */
    out->session = scrub_with(fn, ud, sc, in->session, 1);
    out->agent = scrub_with(fn, ud, sc, in->agent, 1);
    out->model_requested = scrub_with(fn, ud, sc, in->model_requested, 0);
    out->attempts_json = scrub_with(fn, ud, sc, in->attempts_json, 0);
    out->error_message = scrub_with(fn, ud, sc, in->error_message, 0);
    return store_scrub_failed(sc, err);
}

int store_scrub_filter(const store_db *s, store_scrubbed *sc, const store_filter *in,
                       store_filter *out, error_info *err)
{
    if (!in)
        return 0;
    *out = *in;
    out->session = store_scrub(s, sc, in->session, 1);
    return store_scrub_failed(sc, err);
}
