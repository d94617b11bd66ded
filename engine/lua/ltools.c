/* Tools the host registered in C (core/host_tools.h), as the tool loop of lua/nyx/tools.lua
 * sees them: core.host_tool(name) gives {description=, input_json=} or nil, and
 * core.host_tool_call(name, input) waits for the host's answer and returns content, is_error. */
#define _POSIX_C_SOURCE 200809L
#include "lnyx.h"

#include "core/host_tools.h"

#include <stdlib.h>
#include <string.h>

static int l_host_tool(lua_State *L)
{
    const char *name = lnyx_checkstring(L, 1);
    const char *description, *schema;
    if (host_tool_find(lnyx_engine(L), name, &description, &schema) != 0)
        return 0;
    lua_createtable(L, 0, 2);
    lnyx_set_str(L, "description", description);
    lnyx_set_str(L, "input_json", schema);
    return 1;
}

/* One call waiting for the host; a userdata on the waiting task's stack. */
typedef struct host_wait {
    lnyx_op op;
    nyx_engine *e;
    long long id;
    int waiting; /* the host still holds the call */
    char *content;
    int is_error;
} host_wait;

static void answered(void *ud, const char *content, int is_error)
{
    host_wait *w = ud;
    w->waiting = 0;
    w->content = strdup(content);
    w->is_error = is_error || !w->content;
    lnyx_complete(&w->op);
}

static void forget(host_wait *w)
{
    if (w->waiting)
        host_tool_abandon(w->e, w->id);
    w->waiting = 0;
}

static void wait_cancel(lnyx_op *op)
{
    forget((host_wait *)op);
    lnyx_complete(op);
}

static int wait_gc(lua_State *L)
{
    host_wait *w = lua_touserdata(L, 1);
    forget(w);
    free(w->content);
    w->content = NULL;
    return 0;
}

static int call_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    host_wait *w = (host_wait *)ctx;
    if (w->op.cancelled)
        return lnyx_raise_cancelled(L);
    lua_pushstring(L, w->content ? w->content : "out of memory");
    lua_pushboolean(L, w->is_error);
    return 2;
}

static int l_host_tool_call(lua_State *L)
{
    const char *name = lnyx_checkstring(L, 1);
    lnyx_checktype(L, 2, LUA_TTABLE);
    char *input = lnyx_to_json_text(L, 2, "input", NULL);
    nyx_engine *e = lnyx_engine(L);
    host_wait *w = lnyx_new_udata(L, sizeof *w, 0, "nyx.host_wait", wait_gc);
    w->e = e;
    w->op.cancel = wait_cancel;
    error_info err;
    error_clear(&err);
    int rc = input ? host_tool_start(e, name, input, answered, w, &w->id, &err) : -1;
    free(input);
    if (!input)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    if (rc != 0)
        return lnyx_raise(L, &err);
    w->waiting = 1;
    return lnyx_wait(L, &w->op, (lua_KContext)w, call_k);
}

int lnyx_open_tools(lua_State *L)
{
    lua_pushcfunction(L, l_host_tool);
    lua_setfield(L, -2, "host_tool");
    lua_pushcfunction(L, l_host_tool_call);
    lua_setfield(L, -2, "host_tool_call");
    return 0;
}
