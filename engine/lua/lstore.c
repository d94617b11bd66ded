/* Tasks waiting on the database: the shared answer of lnyx_store_wait (lnyx.h). */
#include "lnyx.h"

#include <stdlib.h>

static void let_go(lnyx_store_wait *w)
{
    if (--w->holders > 0)
        return;
    rowset_free(&w->rows);
    free(w);
}

static void wait_cancel(lnyx_op *op) { lnyx_complete(op); } /* the answer is dropped */

static int box_gc(lua_State *L)
{
    lnyx_store_wait **box = lua_touserdata(L, 1);
    if (*box)
        let_go(*box);
    *box = NULL;
    return 0;
}

lnyx_store_wait *lnyx_store_wait_new(lua_State *L)
{
    lnyx_store_wait **box = lnyx_new_udata(L, sizeof *box, 0, "nyx.storewait", box_gc);
    lnyx_store_wait *w = calloc(1, sizeof *w);
    if (!w)
        lnyx_fail(L, "out_of_memory", "out of memory");
    w->holders = 2; /* the Lua side, and the store call made next */
    w->op.cancel = wait_cancel;
    error_clear(&w->err);
    *box = w;
    return w;
}

void lnyx_store_not_started(lnyx_store_wait *w) { let_go(w); }

static void answered(lnyx_store_wait *w, int rc, const error_info *err)
{
    w->rc = rc;
    if (rc != 0 && err)
        w->err = *err;
    else if (rc != 0)
        error_set(&w->err, "store_error", 0, "the database failed without saying why");
    if (w->holders == 1) { /* nobody waits any more */
        let_go(w);
        return;
    }
    w->holders--;
    lnyx_complete(&w->op);
}

void lnyx_store_done(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    answered(ud, rc, err);
}

void lnyx_store_got_id(void *ud, int rc, int64_t id, const error_info *err)
{
    lnyx_store_wait *w = ud;
    w->id = id;
    answered(w, rc, err);
}

int lnyx_store_check(lua_State *L, lnyx_store_wait *w)
{
    if (w->op.cancelled)
        return lnyx_raise_cancelled(L);
    if (w->rc != 0)
        return lnyx_raise(L, &w->err);
    if (w->rows.out_of_memory)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    return 0;
}
