/* The C half of nyx.batch (lua/nyx/batch.lua): a batch handle whose requests are nyx.call
 * tables carrying it (batch = handle, batch_id = custom id), its status and cancel. */
#include "lnyx.h"

#include "core/batch.h"
#include "core/host_api.h"

#include <stdlib.h>
#include <string.h>

#define HANDLE "nyx.batchhandle"

static batch_job **check_handle(lua_State *L, int arg) { return luaL_checkudata(L, arg, HANDLE); }

batch_job *lnyx_batch_of(lua_State *L, int idx)
{
    batch_job **h = luaL_testudata(L, idx, HANDLE);
    return h ? *h : NULL;
}

static int handle_gc(lua_State *L)
{
    batch_job **h = check_handle(L, 1);
    batch_unref(*h);
    *h = NULL;
    return 0;
}

/* core.batch_open(name|nil, n, partial, max_bytes|nil, first_part|nil) -> handle */
static int l_open(lua_State *L)
{
    const char *name = luaL_optstring(L, 1, NULL);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 1 || n > BATCH_MAX_REQUESTS)
        return lnyx_argerror(L, 2, "requests must hold 1 to %d requests, got %lld", BATCH_MAX_REQUESTS, (long long)n);
    lua_Integer max_bytes = luaL_optinteger(L, 4, (lua_Integer)BATCH_MAX_BYTES);
    if (max_bytes < 1)
        return lnyx_argerror(L, 4, "max_bytes must be a positive number of bytes");
    batch_job **h = lua_newuserdatauv(L, sizeof *h, 0);
    *h = NULL;
    luaL_setmetatable(L, HANDLE);
    if (!(*h = batch_new(lnyx_engine(L), name, (size_t)n)))
        return lnyx_fail(L, "out_of_memory", "out of memory");
    batch_set_partial(*h, lua_toboolean(L, 3));
    batch_set_max_bytes(*h, (size_t)max_bytes);
    if (!lua_isnoneornil(L, 5) && batch_set_leader(*h, *check_handle(L, 5)) != 0)
        return lnyx_argerror(L, 5, "the first part must be a batch's first handle, not yet sent");
    return 1;
}

/* handle:status() -> {processing_status, id, processing, succeeded, errored, canceled, expired, error} */
static int l_status(lua_State *L)
{
    batch_status st;
    batch_get_status(*check_handle(L, 1), &st);
    lua_createtable(L, 0, 8);
    lnyx_set_str(L, "processing_status", st.processing_status);
    if (st.id[0])
        lnyx_set_str(L, "id", st.id);
    lnyx_set_str(L, "batch_id", st.local_id);
    static const char *const names[5] = {"processing", "succeeded", "errored", "canceled", "expired"};
    for (int i = 0; i < 5; i++)
        lnyx_set_int(L, names[i], st.counts[i]);
    lnyx_set_str(L, "error", st.error);
    return 1;
}

/* handle:cancel() -> true, or false when the batch has ended */
static int l_cancel(lua_State *L)
{
    lua_pushboolean(L, batch_cancel(*check_handle(L, 1)) == 0);
    return 1;
}

/* handle:abandon(err, custom_id): a request that failed before it became a call refuses the
 * batch; the refusal the other requests see names it. */
static int l_abandon(lua_State *L)
{
    batch_job *b = *check_handle(L, 1);
    error_info err;
    error_clear(&err);
    const char *type = "invalid_argument", *msg = NULL;
    const char *id = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : "?";
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "type");
        if (lua_isstring(L, -1))
            type = lua_tostring(L, -1);
        lua_getfield(L, 2, "message");
        if (lua_isstring(L, -1))
            msg = lua_tostring(L, -1);
    } else if (lua_isstring(L, 2)) {
        msg = lua_tostring(L, 2);
    }
    error_set(&err, type, 0, "request %.64s: %s", id, msg ? msg : "it could not start");
    batch_member_finished(b, NULL, &err);
    return 0;
}

/* ---- picking a batch up: core.batch_requests(id), core.batch_record(row, line) ---- */

/* core.batch_requests(id) -> {{batch_id, name, part, provider_id, custom_id, session, agent,
 * template, template_version, model, reservation_id, reserved_usd, write_1h, logged,
 * interaction_id (its result's, once logged), created_at}, ...} */
static int l_requests(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    nyx_engine *e = lnyx_engine(L);
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    batch_row *rows = NULL;
    size_t n = 0;
    error_info err;
    error_clear(&err);
    if (batch_rows_load(e, id, &rows, &n, &err) != 0)
        return lnyx_raise(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const batch_row *r = &rows[i];
        lua_createtable(L, 0, 16);
        lnyx_set_str(L, "batch_id", r->batch_id);
        lnyx_set_str(L, "name", r->name);
        lnyx_set_str(L, "provider_id", r->provider_id);
        lnyx_set_str(L, "custom_id", r->custom_id);
        lnyx_set_str(L, "session", r->session);
        lnyx_set_str(L, "agent", r->agent);
        lnyx_set_str(L, "template", r->template_name);
        lnyx_set_str(L, "model", r->model);
        lnyx_set_str(L, "reservation_id", r->reservation_id);
        lnyx_set_str(L, "interaction_id", r->interaction_id);
        lnyx_set_int(L, "part", r->part);
        lnyx_set_int(L, "template_version", r->template_version);
        lnyx_set_int(L, "write_1h", r->write_1h);
        lnyx_set_num(L, "reserved_usd", r->reserved_usd);
        lnyx_set_num(L, "created_at", r->created_at);
        lua_pushboolean(L, r->logged);
        lua_setfield(L, -2, "logged");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    batch_rows_free(rows, n);
    return 1;
}

static char *field_str(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* the row table keeps the string alive */
    return (char *)v;
}

/* core.batch_record(row, line) -> result, true | error, false: the line logged (once) as the
 * row's interaction. */
static int l_record(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t len;
    const char *line = luaL_checklstring(L, 2, &len);
    batch_row row;
    memset(&row, 0, sizeof row);
    row.batch_id = field_str(L, 1, "batch_id");
    row.custom_id = field_str(L, 1, "custom_id");
    row.session = field_str(L, 1, "session");
    row.agent = field_str(L, 1, "agent");
    row.template_name = field_str(L, 1, "template");
    row.model = field_str(L, 1, "model");
    row.reservation_id = field_str(L, 1, "reservation_id");
    lua_getfield(L, 1, "template_version");
    row.template_version = (int)lua_tointeger(L, -1);
    lua_getfield(L, 1, "write_1h");
    row.write_1h = lua_tointeger(L, -1) != 0;
    lua_getfield(L, 1, "created_at");
    row.created_at = lua_tonumber(L, -1);
    lua_pop(L, 3);
    if (!row.batch_id || !row.custom_id)
        return lnyx_argerror(L, 1, "a row of core.batch_requests is expected");
    nyx_engine *e = lnyx_engine(L);
    call_outcome r;
    error_info rerr, err;
    error_clear(&err);
    if (batch_record_result(e, &row, line, len, &r, &rerr, &err) != 0) {
        response_free(&r.resp);
        return lnyx_raise(L, &err);
    }
    int ok = r.status == NYX_STATUS_OK;
    if (ok) {
        lnyx_push_result(L, &r);
    } else {
        lnyx_push_error(L, &rerr);
        lnyx_set_str(L, "interaction_id", r.interaction_id);
    }
    response_free(&r.resp);
    lua_pushboolean(L, ok);
    return 2;
}

/* core.batch_settle(batch_id): the batch's reservations whose results are all logged, settled. */
static int l_settle(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    error_info err;
    error_clear(&err);
    if (batch_settle_logged(lnyx_engine(L), id, &err) != 0)
        return lnyx_raise(L, &err);
    return 0;
}

/* ---- core.batch_api(method, path): one request to the batch endpoints ---- */

typedef struct api_op {
    lnyx_op op;
    batch_job *req;
    int ok;
    char *body;
    size_t len;
    error_info err;
} api_op;

static void api_done(void *ud, int ok, long status, const char *body, size_t len, const error_info *err)
{
    (void)status;
    api_op *op = ud;
    op->req = NULL;
    op->ok = ok;
    if (err)
        op->err = *err;
    if (ok && (op->body = malloc(len + 1))) {
        memcpy(op->body, body, len);
        op->body[len] = '\0';
        op->len = len;
    } else if (ok) {
        op->ok = 0;
        error_set(&op->err, "out_of_memory", 0, "out of memory");
    }
    lnyx_complete(&op->op);
}

static void api_cancel(lnyx_op *base)
{
    api_op *op = (api_op *)base;
    batch_api_cancel(op->req);
    op->req = NULL;
    error_set(&op->err, "cancelled", 0, "cancelled");
    lnyx_complete(base);
}

static int api_gc(lua_State *L)
{
    api_op *op = lua_touserdata(L, 1);
    batch_api_cancel(op->req);
    op->req = NULL;
    free(op->body);
    op->body = NULL;
    return 0;
}

static int api_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    api_op *op = (api_op *)ctx;
    if (!op->ok)
        return lnyx_raise(L, &op->err);
    lua_pushlstring(L, op->body, op->len);
    return 1;
}

static int l_api(lua_State *L)
{
    const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "DELETE") != 0)
        return lnyx_argerror(L, 1, "method must be GET, POST or DELETE");
    for (const char *p = path; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_-/?=&", *p)))
            return lnyx_argerror(L, 2, "path must be \"\" or /ID[/results|/cancel] of letters, digits, '_' and '-'");
    if (*path && *path != '/' && *path != '?')
        return lnyx_argerror(L, 2, "path must start with / or ?");
    api_op *op = lnyx_new_udata(L, sizeof *op, 0, "nyx.batchapi", api_gc);
    op->op.cancel = api_cancel;
    error_clear(&op->err);
    nyx_engine *e = lnyx_engine(L);
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    if (!(op->req = batch_api(e, method, path, api_done, op)))
        return lnyx_fail(L, "network_error", "cannot start the HTTP transfer");
    return lnyx_wait(L, &op->op, (lua_KContext)op, api_k);
}

int lnyx_open_batch(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"status", l_status}, {"cancel", l_cancel}, {"abandon", l_abandon}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {
        {"batch_open", l_open},     {"batch_api", l_api},       {"batch_requests", l_requests},
        {"batch_record", l_record}, {"batch_settle", l_settle}, {NULL, NULL}};
    lnyx_new_class(L, HANDLE, methods, handle_gc);
    luaL_setfuncs(L, funcs, 0);
    /* How long a batch's polls go on from its creation (its life and the margin, batch.h): the
     * pickup's bound, so that both waits end at the same point. */
    lua_pushnumber(L, BATCH_LIFETIME_S + BATCH_EXPIRY_MARGIN_S);
    lua_setfield(L, -2, "batch_polls_for_s");
    return 0;
}
