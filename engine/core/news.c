#include "news.h"

#include "engine.h"
#include "settings.h"

#include <stdint.h>
#include <stdlib.h>

struct news_read {
    nyx_engine *e;    /* NULL once abandoned */
    uint64_t changes; /* e->local_changes when the read was sent */
    int pending;      /* answers still to come */
    settings_rows *rows;
    int rows_ok;
    char *stop; /* the stop flag's reason; NULL when none is set */
    int stop_ok;
};

static void answered(struct news_read *n)
{
    if (--n->pending > 0)
        return;
    nyx_engine *e = n->e;
    if (e) {
        e->news = NULL;
        /* A stop, resume or setting of this process's own after the read was sent would be
         * undone by its answer: drop it and read again (as after a failed read). */
        int fresh = n->changes == e->local_changes;
        if (!fresh || !n->rows_ok || !n->stop_ok)
            e->news_again = 1;
        if (fresh && n->rows_ok) {
            settings_rows_apply(n->rows);
            n->rows = NULL;
        }
        if (fresh && n->stop_ok && n->stop && !e->gov.stopped)
            engine_stop(e, n->stop, 0);
        else if (fresh && n->stop_ok && !n->stop && e->gov.stopped)
            e->gov.stopped = 0; /* the stop was cleared: calls may go again */
    }
    settings_rows_free(n->rows);
    free(n->stop);
    free(n);
}

static void rows_read(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused, (void)err; /* a failed read keeps the settings in force */
    struct news_read *n = ud;
    n->rows_ok = rc == 0;
    answered(n);
}

static void stop_read(void *ud, int rc, char *text, const error_info *err)
{
    (void)err; /* read again at the next news */
    struct news_read *n = ud;
    n->stop = text;
    n->stop_ok = rc == 0;
    answered(n);
}

void news_read(nyx_engine *e)
{
    if (e->news || !e->storage.db)
        return;
    struct news_read *n = calloc(1, sizeof *n);
    if (!n || !(n->rows = settings_rows_new(e))) {
        free(n);
        return;
    }
    n->e = e;
    n->changes = e->local_changes;
    n->pending = 2;
    e->news = n;
    e->news_again = 0;
    error_info err;
    error_clear(&err);
    if (store_config_list_async(e->storage.db, settings_rows_add, n->rows, rows_read, n, &err) != 0)
        rows_read(n, -1, -1, &err);
    error_clear(&err);
    if (store_control_get_async(e->storage.db, "stop", stop_read, n, &err) != 0)
        stop_read(n, -1, NULL, &err);
}

void news_abandon(nyx_engine *e)
{
    if (e->news)
        e->news->e = NULL;
    e->news = NULL;
}
