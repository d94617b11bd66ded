#define _POSIX_C_SOURCE 200809L
/* nyx.call: a Lua table becomes a call spec, the task waits while the request is in flight,
 * and the result becomes a table (or an error table is raised). */
#include "lnyx.h"

#include "base/json_print.h"
#include "base/text.h"
#include "base/utf8.h"
#include "claude/media.h"
#include "claude/reply.h"
#include "claude/schema.h"
#include "core/batch.h"
#include "core/call.h"
#include "core/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct call_op {
    lnyx_op op;
    nyx_engine *e;
    api_call *call;
    lua_State *L;      /* for stream callbacks */
    int stream_ref, start_ref, thinking_ref;
    char *callback_error;
    int callback_error_ref; /* registry: the value the callback raised, the error's cause */
    call_spec spec; /* read here, so a raised argument error frees it with the op */
    int conversation; /* the result carries tool_calls, thinking and messages (nyx.call's) */
} call_op;

/* ---- table -> spec ---- */

static int set_string(lua_State *L, int arg, const char *field, char **out)
{
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (!s || lua_type(L, -1) != LUA_TSTRING)
        return lnyx_argerror(L, arg, "%s must be a string, got %s", field, luaL_typename(L, -1));
    if (strlen(s) != len) /* C would cut it there: another name than the script's */
        return lnyx_argerror(L, arg, "%s must not contain NUL bytes", field);
    long bad = utf8_bad(s, len); /* JSON, and so the API, takes UTF-8 only */
    if (bad >= 0)
        return lnyx_argerror(L, arg, "%s is not valid UTF-8 (its byte %ld is 0x%02X)", field, bad + 1,
                             (unsigned char)s[bad]);
    if (!(*out = strdup(s)))
        return lnyx_fail(L, "out_of_memory", "out of memory");
    return 0;
}

static int cache_mark_of(lua_State *L, int arg, const char *field)
{
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
        return NYX_MARK_NONE;
    if (lua_isboolean(L, -1))
        return NYX_MARK_5M;
    const char *s = lua_tostring(L, -1);
    if (s && strcmp(s, "5m") == 0)
        return NYX_MARK_5M;
    if (s && strcmp(s, "1h") == 0)
        return NYX_MARK_1H;
    return lnyx_argerror(L, arg, "%s.cache must be true, false, \"5m\" or \"1h\"", field);
}

/* {type = "image" | "document", path = FILE | data = BYTES, media_type = ...} on top: pushes
 * the block's JSON text and returns 1; returns 0 (nothing pushed) for other tables. */
static int media_from_file_or_bytes(lua_State *L)
{
    int t = lua_gettop(L);
    lua_getfield(L, t, "type");
    lua_getfield(L, t, "path");
    lua_getfield(L, t, "data");
    lua_getfield(L, t, "media_type");
    const char *type = lua_tostring(L, t + 1);
    int path = lua_type(L, t + 2) == LUA_TSTRING, data = lua_type(L, t + 3) == LUA_TSTRING;
    if (!type || (strcmp(type, "image") && strcmp(type, "document")) || (!path && !data)) {
        lua_settop(L, t);
        return 0;
    }
    if (!lua_isnil(L, t + 4) && lua_type(L, t + 4) != LUA_TSTRING)
        lnyx_argerror(L, 1, "media_type must be a string");
    size_t len = 0;
    const char *bytes = data ? lua_tolstring(L, t + 3, &len) : NULL;
    error_info err;
    error_clear(&err);
    char *json = claude_media_block(type, path ? lua_tostring(L, t + 2) : NULL,
                                    (const unsigned char *)bytes, len, lua_tostring(L, t + 4), &err);
    if (!json)
        lnyx_raise(L, &err);
    lua_settop(L, t);
    lua_pushstring(L, json);
    cJSON_free(json);
    return 1;
}

/* ---- long texts by identity ----
 * A script passes the same system prompt or context string on every call. The pool (types.h)
 * finds a long text's shared copy by content, which means hashing and comparing all its bytes
 * each time; here a string seen before is found by its address. The memo keeps each string it
 * names alive (as the uservalue of the entry holding the shared text), so while an entry
 * exists no other string can have that address. Bounded: a few entries of a few hundred KB at
 * most; when full it starts again. The old entries let go of their shared texts at once: the
 * collector sees only a small userdata for each, not the text and its JSON behind it, so left
 * to it a script cycling through many long prompts held hundreds of MB of dead copies. */
#define TEXT_MEMO_MIN 1024 /* shorter texts are copied, not pooled (types.h) */
#define TEXT_MEMO_ENTRIES 8
#define TEXT_MEMO_MAX ((size_t)256 << 10)
static const char TEXT_MEMO = 'm'; /* its registry key: a table, address -> entry, and its count */

static int text_memo_gc(lua_State *L)
{
    block_free(lua_touserdata(L, 1));
    return 0;
}

/* Empties the entries of the memo table on top of the stack (their userdata stay, holding
 * nothing, until collected). */
static void release_text_memo(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -1) == LUA_TUSERDATA)
            block_free(lua_touserdata(L, -1));
        lua_pop(L, 1);
    }
}

/* Pushes the memo table (fresh: a new one, the old one's entries released). */
static void push_text_memo(lua_State *L, int fresh)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TEXT_MEMO) == LUA_TTABLE) {
        if (!fresh)
            return;
        release_text_memo(L);
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, TEXT_MEMO_ENTRIES + 1);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &TEXT_MEMO);
}

/* block_set_pooled of the string at idx (text, len its bytes). */
static int set_text(lua_State *L, text_pool *pool, int idx, claude_block *b, const char *text, size_t len,
                    int mark)
{
    if (!pool || len < TEXT_MEMO_MIN || len > TEXT_MEMO_MAX)
        return block_set_pooled(b, pool, text, len, mark);
    idx = lua_absindex(L, idx);
    push_text_memo(L, 0);
    if (lua_rawgetp(L, -1, text) == LUA_TUSERDATA) {
        const claude_block *kept = lua_touserdata(L, -1);
        if (kept->len == len && block_set_like(b, kept, mark) == 0) {
            lua_pop(L, 2);
            return 0;
        }
    }
    lua_pop(L, 1);
    if (block_set_pooled(b, pool, text, len, mark) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    if (b->shared) {
        lua_rawgetp(L, -1, &TEXT_MEMO);
        lua_Integer n = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (n >= TEXT_MEMO_ENTRIES) {
            lua_pop(L, 1);
            push_text_memo(L, 1);
            n = 0;
        }
        claude_block *kept = lnyx_new_udata(L, sizeof *kept, 1, "nyx.textmemo", text_memo_gc);
        block_set_like(kept, b, NYX_MARK_NONE);
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, -2, 1); /* the string lives as long as the entry */
        lua_rawsetp(L, -2, text);
        lua_pushinteger(L, n + 1);
        lua_rawsetp(L, -2, &TEXT_MEMO);
    }
    lua_pop(L, 1);
    return 0;
}

/* A string, or an array of blocks: strings, {text=, cache=} / {type="text", ...} tables,
 * and (when json_ok) any other API block as a table {type=, ..., cache=}, kept as JSON. */
static void read_blocks(lua_State *L, text_pool *pool, int arg, const char *field, claude_block **out,
                        size_t *n, int json_ok)
{
    int idx = lua_gettop(L);
    size_t count = lua_type(L, idx) == LUA_TSTRING ? 1 : lua_type(L, idx) == LUA_TTABLE ? lua_rawlen(L, idx) : 0;
    if (count == 0) {
        lnyx_argerror(L, arg, "%s must be a non-empty string or array of content blocks", field);
        return;
    }
    claude_block *blocks = calloc(count, sizeof *blocks);
    if (!blocks) {
        lnyx_fail(L, "out_of_memory", "out of memory");
        return;
    }
    *out = blocks; /* owned by the spec from here, so an error below frees it */
    for (size_t i = 0; i < count; i++) {
        const char *text;
        size_t len;
        int mark = NYX_MARK_NONE;
        int is_json = 0, no_mark = 0;
        if (lua_type(L, idx) == LUA_TSTRING) {
            text = lua_tolstring(L, idx, &len);
            lua_pushnil(L);
        } else {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            if (lua_type(L, -1) == LUA_TTABLE) {
                lua_getfield(L, -1, "cache");
                mark = cache_mark_of(L, arg, field);
                lua_pop(L, 1);
                lua_getfield(L, -1, "type");
                const char *type = lua_tostring(L, -1);
                int is_text = lua_isnil(L, -1) || (type && strcmp(type, "text") == 0);
                no_mark = type && (!strcmp(type, "thinking") || !strcmp(type, "redacted_thinking"));
                lua_pop(L, 1);
                if (!is_text && !json_ok) {
                    lnyx_argerror(L, arg, "%s[%d] must be a text block", field, (int)i + 1);
                    return;
                }
                if (!is_text && media_from_file_or_bytes(L)) {
                    is_json = 1;
                } else if (!is_text) {
                    char where[64];
                    snprintf(where, sizeof where, "%s[%d]", field, (int)i + 1);
                    char *json = lnyx_to_json_text(L, -1, where, "cache");
                    lua_pushstring(L, json);
                    free(json);
                    is_json = 1; /* the text on the stack is the block */
                } else {
                    lua_getfield(L, -1, "text");
                }
                lua_replace(L, -2);
            }
            if (lua_type(L, -1) != LUA_TSTRING) {
                lnyx_argerror(L, arg, "%s[%d] must be a string or a table with text", field, (int)i + 1);
                return;
            }
            text = lua_tolstring(L, -1, &len);
        }
        /* A string of the script's own is found again by identity; a block made here is new. */
        int rc = is_json ? block_set_pooled(&blocks[i], pool, text, len, mark)
                         : set_text(L, pool, lua_type(L, idx) == LUA_TSTRING ? idx : -1, &blocks[i], text,
                                    len, mark);
        if (rc != 0) {
            lnyx_fail(L, "out_of_memory", "out of memory");
            return;
        }
        blocks[i].kind = is_json ? NYX_BLOCK_JSON : NYX_BLOCK_TEXT;
        blocks[i].no_mark = no_mark;
        *n = i + 1;
        lua_pop(L, 1);
    }
}

/* A tool's name or description (the string on top), as the API can read it: UTF-8. */
static void tool_text(lua_State *L, int i, const char *field)
{
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    long bad = utf8_bad(s, len);
    if (bad >= 0)
        lnyx_argerror(L, 1, "tools[%d].%s is not valid UTF-8 (its byte %ld is 0x%02X)", i, field, bad + 1,
                      (unsigned char)s[bad]);
}

/* A schema refused: invalid_argument in the wording of the other arguments' errors. */
static void raise_schema_error(lua_State *L, const error_info *bad)
{
    if (strcmp(bad->type, "invalid_argument") == 0)
        lnyx_argerror(L, 1, "%s", bad->message);
    lnyx_raise(L, bad);
}

/* The JSON Schema table on top as JSON text, refused (invalid_argument naming the place in
 * it, counted from 1) when structured outputs would not take it (claude/schema.h): the API
 * would refuse the call, and every call of a batch, only once sent. The engine's memo checks a
 * schema sent again once. */
static char *checked_schema(lua_State *L, const char *where)
{
    cJSON *schema = lnyx_to_json(L, -1, where, NULL);
    char *text = json_print(schema);
    error_info bad;
    error_clear(&bad);
    int rc = text ? claude_schema_memo_check(engine_schema_memo(lnyx_engine(L)), schema, text, strlen(text), where, 1,
                                             &bad)
                  : 0;
    cJSON_Delete(schema);
    if (rc != 0) {
        free(text);
        raise_schema_error(L, &bad);
    }
    if (!text)
        lnyx_fail(L, "out_of_memory", "out of memory converting %s to JSON", where);
    return text;
}

/* tools: a JSON array as text, or an array of tool tables {name, description, input (the
 * JSON Schema as a table), strict, cache}, written name, description, input_schema in that
 * order so the same list is the same bytes. */
static void read_tools(lua_State *L, claude_request *req)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        error_info bad;
        error_clear(&bad);
        if (claude_tools_memo_check(engine_schema_memo(lnyx_engine(L)), NULL, text, len, "input_schema", 1, &bad) != 0)
            raise_schema_error(L, &bad);
        set_string(L, 1, "tools", &req->tools_json);
        return;
    }
    if (!lua_istable(L, -1)) {
        lnyx_argerror(L, 1, "tools must be an array of tools (nyx.tool) or a JSON array");
        return;
    }
    int idx = lua_gettop(L);
    size_t n = lua_rawlen(L, idx);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        lnyx_fail(L, "out_of_memory", "out of memory");
        return;
    }
    /* The array lives in a to-be-closed slot: an error below frees it. */
    cJSON **slot = lnyx_new_udata(L, sizeof *slot, 0, "nyx.jsonslot", lnyx_json_slot_gc);
    *slot = arr;
    int strict = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        if (!lua_istable(L, -1)) {
            lnyx_argerror(L, 1, "tools[%d] must be a tool (nyx.tool{...})", (int)i);
            return;
        }
        cJSON *t = cJSON_CreateObject();
        if (!t || !cJSON_AddItemToArray(arr, t)) {
            cJSON_Delete(t);
            lnyx_fail(L, "out_of_memory", "out of memory");
            return;
        }
        lua_getfield(L, -1, "name");
        if (lua_type(L, -1) != LUA_TSTRING) {
            lnyx_argerror(L, 1, "tools[%d].name must be a string", (int)i);
            return;
        }
        tool_text(L, (int)i, "name");
        cJSON_AddStringToObject(t, "name", lua_tostring(L, -1));
        lua_pop(L, 1);
        if (lua_getfield(L, -1, "description") == LUA_TSTRING) {
            tool_text(L, (int)i, "description");
            cJSON_AddStringToObject(t, "description", lua_tostring(L, -1));
        } else if (!lua_isnil(L, -1))
            lnyx_argerror(L, 1, "tools[%d].description must be a string", (int)i);
        lua_pop(L, 1);
        char where[48];
        snprintf(where, sizeof where, "tools[%d].input", (int)i);
        cJSON *schema = NULL;
        /* A host's tool (nyx_tool_register) brings its schema as the JSON text it registered. */
        if (lua_getfield(L, -1, "input_json") == LUA_TSTRING) {
            if (!(schema = cJSON_Parse(lua_tostring(L, -1)))) {
                lnyx_argerror(L, 1, "tools[%d].input_json must be JSON", (int)i);
                return;
            }
        } else {
            lua_pop(L, 1);
            if (lua_getfield(L, -1, "input") != LUA_TTABLE) {
                lnyx_argerror(L, 1, "%s must be a JSON Schema table ({type = \"object\", ...})", where);
                return;
            }
            schema = lnyx_to_json(L, -1, where, NULL);
        }
        if (!cJSON_AddItemToObject(t, "input_schema", schema)) {
            cJSON_Delete(schema);
            lnyx_fail(L, "out_of_memory", "out of memory");
            return;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, -1, "strict") == LUA_TBOOLEAN) {
            cJSON_AddBoolToObject(t, "strict", lua_toboolean(L, -1));
            strict |= lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
        lua_getfield(L, -1, "cache");
        int mark = cache_mark_of(L, 1, "tools[]");
        lua_pop(L, 1);
        if (mark != NYX_MARK_NONE) {
            cJSON *cc = cJSON_AddObjectToObject(t, "cache_control");
            if (!cc || !cJSON_AddStringToObject(cc, "type", "ephemeral") ||
                (mark == NYX_MARK_1H && !cJSON_AddStringToObject(cc, "ttl", "1h"))) {
                lnyx_fail(L, "out_of_memory", "out of memory");
                return;
            }
        }
        lua_pop(L, 1);
    }
    req->tools_json = json_print(arr);
    /* A strict tool's schema is held to the subset of structured outputs; the list as sent is
     * the memo's key, so a loop sending the same tools walks their schemas once. */
    error_info bad;
    error_clear(&bad);
    int rc = strict && req->tools_json ? claude_tools_memo_check(engine_schema_memo(lnyx_engine(L)), arr, req->tools_json,
                                                                 strlen(req->tools_json), "input", 1, &bad)
                                       : 0;
    cJSON_Delete(arr);
    *slot = NULL;
    lua_pop(L, 1);
    if (rc != 0)
        raise_schema_error(L, &bad);
    if (!req->tools_json)
        lnyx_fail(L, "out_of_memory", "out of memory");
}

/* tool_choice "auto" | "any" | "none" | {type=, name=, disable_parallel_tool_use=}. */
static void read_tool_choice(lua_State *L, claude_request *req)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        /* A word is one of the API's three (a table may carry what a newer API takes): any
         * other was sent, to come back as a 400 naming tool_choice.type. */
        const char *w = lua_tostring(L, -1);
        if (strcmp(w, "auto") != 0 && strcmp(w, "any") != 0 && strcmp(w, "none") != 0) {
            lnyx_argerror(L, 1, "tool_choice must be \"auto\", \"any\", \"none\" or a table such as "
                                "{type = \"tool\", name = ...}, got \"%.40s\"", w);
            return;
        }
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "type");
    } else if (lua_istable(L, -1)) {
        lua_pushvalue(L, -1);
    } else {
        lnyx_argerror(L, 1, "tool_choice must be \"auto\", \"any\", \"none\" or a table");
        return;
    }
    req->tool_choice_json = lnyx_to_json_text(L, -1, "tool_choice", NULL);
    lua_pop(L, 1);
}

/* thinking "adaptive" | budget tokens | false; whether the model takes that form is checked
 * by the engine against its model table. */
static void read_thinking(lua_State *L, claude_request *req)
{
    int isint = 0;
    lua_Integer n = lua_tointegerx(L, -1, &isint);
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "adaptive") == 0)
        req->thinking = NYX_THINKING_ADAPTIVE;
    else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
        req->thinking = NYX_THINKING_DISABLED;
    else if (lua_type(L, -1) == LUA_TNUMBER && isint && n > 0 && n <= 1000000) {
        req->thinking = NYX_THINKING_BUDGET;
        req->thinking_budget = (int)n;
    } else
        lnyx_argerror(L, 1, "thinking must be \"adaptive\", a budget of tokens or false");
}

/* ---- the options ----
 * A call's table holds a few of the options nyx.call reads, so instead of looking each name up
 * (most are absent) the table is walked once and a copy of each option present is left on the
 * stack; read_spec then reads them in its own order, so its checks and their errors are the
 * same as by name. Any other key is refused, named (a misspelt option would be read as absent),
 * but those the Lua library reads itself (LUA_LAYER_OPTIONS). A table with a metatable is read
 * by name (lua_getfield), so an __index still supplies options. */
enum {
    O_AGENT, O_BATCH, O_BATCH_ID, O_CACHE, O_CACHE_RESPONSE, O_EFFORT, O_FALLBACK, O_HEADERS,
    O_ITERATION, O_MAX_TOKENS, O_MESSAGES, O_MODEL, O_ON_START, O_ON_THINKING, O_OUTPUT, O_PROMPT,
    O_SESSION, O_STOP_SEQUENCES, O_STREAM, O_SYSTEM, O_TEMPERATURE, O_TEMPLATE, O_THINKING,
    O_THOUGHT, O_TIMEOUT, O_TOOL_CHOICE, O_TOOLS, O_USER_ID, O_COUNT
};
/* index = the O_ value */
static const char *const option_names[O_COUNT] = {
    "agent", "batch", "batch_id", "cache", "cache_response", "effort", "fallback", "headers",
    "iteration", "max_tokens", "messages", "model", "on_start", "on_thinking", "output", "prompt",
    "session", "stop_sequences", "stream", "system", "temperature", "template", "thinking",
    "thought", "timeout", "tool_choice", "tools", "user_id"};

/* Options of nyx.call that lua/nyx/tools.lua reads and passes on: nyx.call accepts them. */
static const char *const lua_layer_options[] = {"max_iterations", "_on_tool"};
enum { O_LUA_LAYER = O_COUNT + 1 }; /* their id in UV_OPTION_IDS */

typedef struct options {
    int by_name;       /* read with lua_getfield: the table has a metatable */
    int at[O_COUNT];   /* stack index of each option present, 0 when absent */
} options;

/* nyx.call's upvalues, made once when the module opens: tables it uses on every call, found
 * there without a lookup. */
enum { UV_OPTION_IDS = 1, UV_RESULT_KEYS };

/* Raises the error for the key at index key of the options table (index 1). */
static int unknown_option(lua_State *L, int key)
{
    const char *names[O_COUNT + sizeof lua_layer_options / sizeof *lua_layer_options];
    size_t n = 0;
    for (size_t i = 0; i < O_COUNT; i++)
        names[n++] = option_names[i];
    for (size_t i = 0; i < sizeof lua_layer_options / sizeof *lua_layer_options; i++)
        names[n++] = lua_layer_options[i];
    return lnyx_unknown_option(L, 1, key, names, n);
}

/* Walks the table at index 1, leaving a copy of each option's value on the stack. A key is
 * looked up as the Lua string it already is in the table of option names (name -> O_ value
 * + 1, UV_OPTION_IDS): no strcmp, and "model\0x" is another string. */
static void options_collect(lua_State *L, options *o)
{
    memset(o, 0, sizeof *o);
    if (lua_getmetatable(L, 1)) {
        lua_pop(L, 1);
        o->by_name = 1;
        return;
    }
    int ids = lua_upvalueindex(UV_OPTION_IDS);
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
        lua_pushvalue(L, -2);
        lua_Integer id = lua_rawget(L, ids) == LUA_TNUMBER ? lua_tointeger(L, -1) : 0;
        lua_pop(L, 1);
        if (id == O_LUA_LAYER)
            continue;
        if (id < 1 || id > O_COUNT)
            unknown_option(L, lua_gettop(L) - 1);
        if (!lua_checkstack(L, 2))
            lnyx_fail(L, "out_of_memory", "out of memory");
        lua_pushvalue(L, -1);
        lua_rotate(L, -3, 1); /* value copy, key, value: the walk goes on from key */
        o->at[id - 1] = lua_gettop(L) - 2;
    }
    /* What reads the options may push as much as a C function may without asking. */
    if (!lua_checkstack(L, LUA_MINSTACK))
        lnyx_fail(L, "out_of_memory", "out of memory");
}

/* Pushes option id (nil when absent) and returns its type, as lua_getfield(L, 1, name). */
static int opt_get(lua_State *L, const options *o, int id)
{
    if (o->by_name)
        return lua_getfield(L, 1, option_names[id]);
    if (!o->at[id]) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    lua_pushvalue(L, o->at[id]);
    return lua_type(L, -1);
}

/* Option id, when set, a function (else msg) kept in *ref: stream, on_thinking, on_start.
 * Each makes the request stream: what they see (even a response's start) is only in a stream. */
static void read_stream_fn(lua_State *L, const options *o, int id, const char *msg, int *ref,
                           claude_request *req)
{
    if (opt_get(L, o, id) != LUA_TNIL) {
        if (!lua_isfunction(L, -1))
            lnyx_argerror(L, 1, msg);
        lua_pushvalue(L, -1);
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
        req->stream = 1;
    }
    lua_pop(L, 1);
}

/* effort "low" | "medium" | "high" | "max"; output: a JSON Schema table. */
static void read_output_config(lua_State *L, const options *o, claude_request *req)
{
    if (opt_get(L, o, O_EFFORT) != LUA_TNIL) {
        const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (strcmp(e, "low") && strcmp(e, "medium") && strcmp(e, "high") && strcmp(e, "max"))
            lnyx_argerror(L, 1, "effort must be \"low\", \"medium\", \"high\" or \"max\"");
        set_string(L, 1, "effort", &req->effort);
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_OUTPUT) != LUA_TNIL) {
        if (!lua_istable(L, -1))
            lnyx_argerror(L, 1, "output must be a JSON Schema table ({type = \"object\", ...})");
        req->output_schema_json = checked_schema(L, "output");
    }
    lua_pop(L, 1);
}

static void read_messages(lua_State *L, text_pool *pool, claude_request *req)
{
    int idx = lua_gettop(L);
    size_t count = lua_type(L, idx) == LUA_TTABLE ? lua_rawlen(L, idx) : 0;
    if (count == 0) {
        lnyx_argerror(L, 1, "messages must be a non-empty array of {role=, content=}");
        return;
    }
    if (!(req->messages = calloc(count, sizeof *req->messages))) {
        lnyx_fail(L, "out_of_memory", "out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (!lua_istable(L, -1)) {
            lnyx_argerror(L, 1, "messages[%d] must be a table with role and content", (int)i + 1);
            return;
        }
        lua_getfield(L, -1, "role");
        const char *role = lua_tostring(L, -1);
        claude_message *m = &req->messages[i];
        if (role && strcmp(role, "user") == 0)
            m->role = NYX_ROLE_USER;
        else if (role && strcmp(role, "assistant") == 0)
            m->role = NYX_ROLE_ASSISTANT;
        else {
            lnyx_argerror(L, 1, "messages[%d].role must be \"user\" or \"assistant\"", (int)i + 1);
            return;
        }
        lua_pop(L, 1);
        lua_getfield(L, -1, "content");
        req->nmessages = i + 1;
        char field[40];
        snprintf(field, sizeof field, "messages[%d].content", (int)i + 1);
        read_blocks(L, pool, 1, field, &m->blocks, &m->nblocks, 1);
        lua_pop(L, 2);
    }
}

static void read_prompt(lua_State *L, text_pool *pool, claude_request *req)
{
    if (!(req->messages = calloc(1, sizeof *req->messages))) {
        lnyx_fail(L, "out_of_memory", "out of memory");
        return;
    }
    req->nmessages = 1;
    req->single_prompt = 1;
    req->messages[0].role = NYX_ROLE_USER;
    read_blocks(L, pool, 1, "prompt", &req->messages[0].blocks, &req->messages[0].nblocks, 1);
}

static int read_cache_mode(lua_State *L)
{
    if (lua_isnil(L, -1))
        return NYX_CACHE_AUTO;
    if (lua_isboolean(L, -1))
        return lua_toboolean(L, -1) ? NYX_CACHE_ON : NYX_CACHE_OFF;
    const char *s = lua_tostring(L, -1);
    if (s && strcmp(s, "auto") == 0)
        return NYX_CACHE_AUTO;
    if (s && strcmp(s, "1h") == 0)
        return NYX_CACHE_1H;
    if (s && strcmp(s, "api") == 0)
        return NYX_CACHE_API;
    return lnyx_argerror(L, 1, "cache must be \"auto\", true, false, \"1h\" or \"api\"");
}

/* headers = {["x-gateway-route"] = "claude", ...}: the call's own request headers. */
static void read_headers(lua_State *L, call_spec *spec)
{
    if (!lua_istable(L, -1))
        lnyx_argerror(L, 1, "headers must be a table of header names and string values");
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
        n++;
    if (n > 0 && !(spec->headers = calloc(n, sizeof *spec->headers)))
        lnyx_fail(L, "out_of_memory", "out of memory");
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            lnyx_argerror(L, 1, "headers must map header names to strings");
        size_t nlen = 0, vlen = 0;
        const char *name = lua_tolstring(L, -2, &nlen), *value = lua_tolstring(L, -1, &vlen);
        if (strlen(name) != nlen || strlen(value) != vlen)
            lnyx_argerror(L, 1, "headers: %s must not contain NUL bytes", strlen(name) != nlen ? "a name" : "a value");
        error_info err;
        error_clear(&err);
        if (net_check_header("headers", name, value, &err) != 0)
            lnyx_argerror(L, 1, "%s", err.message);
        size_t len = strlen(name) + strlen(value) + 3;
        if (spec->nheaders >= n || !(spec->headers[spec->nheaders] = malloc(len)))
            lnyx_fail(L, "out_of_memory", "out of memory");
        snprintf(spec->headers[spec->nheaders++], len, "%s: %s", name, value);
    }
}

static void read_stop(lua_State *L, claude_request *req)
{
    size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    if (!lua_istable(L, -1)) {
        lnyx_argerror(L, 1, "stop_sequences must be an array of strings");
        return;
    }
    if (n == 0)
        return;
    if (!(req->stop_sequences = calloc(n, sizeof *req->stop_sequences))) {
        lnyx_fail(L, "out_of_memory", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        char field[40];
        snprintf(field, sizeof field, "stop_sequences[%d]", (int)i + 1);
        set_string(L, 1, field, &req->stop_sequences[i]);
        req->nstop = i + 1;
        lua_pop(L, 1);
    }
}

static int integer_field(lua_State *L, const char *field, lua_Integer min, lua_Integer max)
{
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < min || v > max)
        return lnyx_argerror(L, 1, "%s must be an integer from %lld to %lld", field, (long long)min,
                             (long long)max);
    return (int)v;
}

/* Fills spec from the table at index 1. Raises on bad input; spec owns what was read. */
static void read_spec(lua_State *L, call_spec *spec, call_op *op)
{
    options opts, *o = &opts;
    options_collect(L, o);
    text_pool *pool = engine_text_pool(op->e);
    claude_request *req = &spec->req;
    req->index_base = 1; /* the engine's errors name list items as the script counts them */
    if (opt_get(L, o, O_MODEL) != LUA_TNIL && set_string(L, 1, "model", &req->model) == 0 && !*req->model)
        lnyx_argerror(L, 1, "model must not be empty");
    lua_pop(L, 1);
    if (opt_get(L, o, O_SYSTEM) != LUA_TNIL)
        read_blocks(L, pool, 1, "system", &req->system, &req->nsystem, 0);
    lua_pop(L, 1);
    int has_prompt = opt_get(L, o, O_PROMPT) != LUA_TNIL;
    int has_messages = opt_get(L, o, O_MESSAGES) != LUA_TNIL;
    if (has_prompt == has_messages)
        lnyx_argerror(L, 1, "give either prompt or messages");
    if (has_messages)
        read_messages(L, pool, req);
    lua_pop(L, 1);
    if (has_prompt)
        read_prompt(L, pool, req);
    lua_pop(L, 1);
    if (opt_get(L, o, O_MAX_TOKENS) != LUA_TNIL)
        req->max_tokens = integer_field(L, "max_tokens", 1, 1000000);
    lua_pop(L, 1);
    if (opt_get(L, o, O_TEMPERATURE) != LUA_TNIL) {
        if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) >= 0 && lua_tonumber(L, -1) <= 1))
            lnyx_argerror(L, 1, "temperature must be a number from 0 to 1");
        req->temperature = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_STOP_SEQUENCES) != LUA_TNIL)
        read_stop(L, req);
    lua_pop(L, 1);
    if (opt_get(L, o, O_USER_ID) != LUA_TNIL)
        set_string(L, 1, "user_id", &req->user_id);
    lua_pop(L, 1);
    if (opt_get(L, o, O_TOOLS) != LUA_TNIL)
        read_tools(L, req);
    lua_pop(L, 1);
    if (opt_get(L, o, O_TOOL_CHOICE) != LUA_TNIL)
        read_tool_choice(L, req);
    lua_pop(L, 1);
    if (opt_get(L, o, O_THINKING) != LUA_TNIL)
        read_thinking(L, req);
    lua_pop(L, 1);
    read_output_config(L, o, req);
    opt_get(L, o, O_CACHE);
    req->cache_mode = read_cache_mode(L);
    lua_pop(L, 1);
    if (opt_get(L, o, O_SESSION) != LUA_TNIL) {
        if (luaL_testudata(L, -1, NYX_SESSION_MT)) {
            lua_getfield(L, -1, "name");
            lua_replace(L, -2);
        }
        set_string(L, 1, "session (a session or its name)", &spec->session);
        if (!*spec->session)
            lnyx_argerror(L, 1, "session must not be empty");
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_AGENT) != LUA_TNIL && set_string(L, 1, "agent", &spec->agent) == 0 && !*spec->agent)
        lnyx_argerror(L, 1, "agent must not be empty");
    lua_pop(L, 1);
    if (opt_get(L, o, O_TEMPLATE) != LUA_TNIL)
        set_string(L, 1, "template", &spec->template_name);
    lua_pop(L, 1);
    if (opt_get(L, o, O_THOUGHT) != LUA_TNIL) {
        int isint = 0;
        spec->thought = lua_tointegerx(L, -1, &isint);
        if (!isint || spec->thought <= 0)
            lnyx_argerror(L, 1, "thought must be a node id from nyx.thought");
    }
    lua_pop(L, 1);
    /* Set by the tool loop (lua/nyx/tools.lua) on each of its calls. */
    if (opt_get(L, o, O_ITERATION) != LUA_TNIL) {
        int isint = 0;
        lua_Integer n = lua_tointegerx(L, -1, &isint);
        if (!isint || n < 1 || n > 1000000)
            lnyx_argerror(L, 1, "iteration must be an integer >= 1 (the tool loop's)");
        spec->iteration = (int)n;
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_TIMEOUT) == LUA_TSTRING) {
        set_string(L, 1, "timeout", &spec->timeout_profile);
    } else if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1) || !call_timeout_valid(lua_tonumber(L, -1)))
            lnyx_argerror(L, 1, "timeout must be seconds > 0 and at most %g, math.huge for none, or a "
                                "timeout profile's name", NYX_TIMEOUT_MAX_S);
        spec->timeout_s = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_CACHE_RESPONSE) != LUA_TNIL) {
        const char *v = lua_tostring(L, -1);
        if (lua_isboolean(L, -1))
            spec->cache_response = lua_toboolean(L, -1);
        else if (v && strcmp(v, "always") == 0)
            spec->cache_response = 2;
        else
            lnyx_argerror(L, 1, "cache_response must be true, false or \"always\"");
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_FALLBACK) != LUA_TNIL) {
        size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            n = 1;
        else if (!lua_istable(L, -1))
            lnyx_argerror(L, 1, "fallback must be a model name or an array of them");
        if (n > 0 && !(spec->fallback = calloc(n, sizeof *spec->fallback)))
            lnyx_fail(L, "out_of_memory", "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (lua_istable(L, -1))
                lua_rawgeti(L, -1, (lua_Integer)i + 1);
            else
                lua_pushvalue(L, -1);
            set_string(L, 1, "fallback[]", &spec->fallback[i]);
            spec->nfallback = i + 1;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (opt_get(L, o, O_HEADERS) != LUA_TNIL)
        read_headers(L, spec);
    lua_pop(L, 1);
    read_stream_fn(L, o, O_STREAM, "stream must be a function(text)", &op->stream_ref, req);
    if (opt_get(L, o, O_BATCH) != LUA_TNIL) {
        batch_job *b = lnyx_batch_of(L, -1);
        if (!b)
            lnyx_argerror(L, 1, "batch must be a batch handle (use nyx.batch)");
        batch_ref(b);
        spec->batch = b;
        spec->cache_response = 0; /* each request is part of the batch's bill */
        opt_get(L, o, O_BATCH_ID);
        if (!lua_isstring(L, -1) || !text_is_word(lua_tostring(L, -1), 64))
            lnyx_argerror(L, 1, "id must be 1 to 64 letters, digits, '_' or '-'");
        set_string(L, 1, "id", &spec->batch_custom_id);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    read_stream_fn(L, o, O_ON_THINKING, "on_thinking must be a function(text)", &op->thinking_ref, req);
    read_stream_fn(L, o, O_ON_START, "on_start must be a function()", &op->start_ref, req);
    if (spec->batch && (req->stream || spec->nfallback))
        lnyx_argerror(L, 1, "a batch request cannot stream or have a fallback");
}

/* ---- result -> table ---- */

/* Every key a result (and its usage) may have; the names are made Lua strings once. */
enum {
    K_TEXT, K_MODEL, K_ID, K_STOP_REASON, K_STOP_SEQUENCE, K_REQUEST_ID, K_CONTENT, K_CACHE_HIT,
    K_INTERACTION_ID, K_ATTEMPTS, K_LATENCY_MS, K_TTFB_MS, K_MODEL_REQUESTED, K_ROUTE, K_FROM_CACHE,
    K_FALLBACK_USED, K_TRACE_ID, K_SPAN_ID, K_USAGE, K_INPUT_TOKENS, K_OUTPUT_TOKENS,
    K_CACHE_CREATION_INPUT_TOKENS, K_CACHE_READ_INPUT_TOKENS, K_CACHE_CREATION, K_EPHEMERAL_5M,
    K_EPHEMERAL_1H, K_COST_USD, K_COST_WITHOUT_CACHE_USD, K_SAVED_USD, K_PARTIAL_TEXT, K_WHERE,
    K_TOOL_CALLS, K_THINKING, K_MESSAGES, K_PROMPT, K_ROLE, K_USER, K_ASSISTANT, K_TYPE, K_NAME, K_INPUT,
    K_COUNT
};
static const char *const result_key_names[K_COUNT] = {
    "text", "model", "id", "stop_reason", "stop_sequence", "request_id", "content", "cache_hit",
    "interaction_id", "attempts", "latency_ms", "ttfb_ms", "model_requested", "route", "from_cache",
    "fallback_used", "trace_id", "span_id", "usage", "input_tokens", "output_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation",
    "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens", "cost_usd", "cost_without_cache_usd",
    "saved_usd", "partial_text", "where", "tool_calls", "thinking", "messages", "prompt", "role", "user",
    "assistant", "type", "name", "input"};
static const lnyx_keys result_keys = {result_key_names, K_COUNT};

static void push_usage(lua_State *L, int keys, const call_outcome *r)
{
    const claude_usage *u = &r->resp.usage;
    lua_createtable(L, 0, 8);
    lnyx_key_int(L, keys, K_INPUT_TOKENS, u->input_tokens);
    lnyx_key_int(L, keys, K_OUTPUT_TOKENS, u->output_tokens);
    lnyx_key_int(L, keys, K_CACHE_CREATION_INPUT_TOKENS, u->cache_creation_input_tokens);
    lnyx_key_int(L, keys, K_CACHE_READ_INPUT_TOKENS, u->cache_read_input_tokens);
    lua_createtable(L, 0, 2);
    lnyx_key_int(L, keys, K_EPHEMERAL_5M, u->cache_creation_5m);
    lnyx_key_int(L, keys, K_EPHEMERAL_1H, u->cache_creation_1h);
    lnyx_key_set(L, keys, K_CACHE_CREATION);
    if (r->has_cost) { /* unknown price: nil, never 0 */
        lnyx_key_num(L, keys, K_COST_USD, r->cost.cost_usd);
        lnyx_key_num(L, keys, K_COST_WITHOUT_CACHE_USD, r->cost.cost_without_cache_usd);
        lnyx_key_num(L, keys, K_SAVED_USD, r->cost.saved_usd);
    }
}

static void push_common(lua_State *L, int keys, const call_outcome *r)
{
    /* none for a batch request no longer waited for: its batch's pickup logs it */
    lnyx_key_str(L, keys, K_INTERACTION_ID, r->interaction_id[0] ? r->interaction_id : NULL);
    lnyx_key_int(L, keys, K_ATTEMPTS, r->attempts);
    lnyx_key_num(L, keys, K_LATENCY_MS, r->latency_ms);
    lnyx_key_num(L, keys, K_TTFB_MS, r->ttfb_ms);
    lnyx_key_str(L, keys, K_MODEL_REQUESTED, r->model_requested);
    lnyx_key_int(L, keys, K_ROUTE, r->route);
    lnyx_key_bool(L, keys, K_FROM_CACHE, r->from_cache);
    lnyx_key_bool(L, keys, K_FALLBACK_USED, r->route > 0);
    if (r->span_id[0]) { /* exported: tools it asks for become its children */
        lnyx_key_str(L, keys, K_TRACE_ID, r->trace_id);
        lnyx_key_str(L, keys, K_SPAN_ID, r->span_id);
    }
}

/* Sets t[key k] to the value on top (popped); t an absolute index. */
static void set_at(lua_State *L, int keys, int t, int k)
{
    lua_rawgeti(L, keys, k + 1);
    lua_insert(L, -2);
    lua_rawset(L, t);
}

/* The entry of r.tool_calls for the tool_use block on top: {id, name, input}, input {} when
 * the block has none. The block stays on top. */
static void push_tool_call(lua_State *L, int keys)
{
    int block = lua_gettop(L);
    lua_createtable(L, 0, 3);
    int call = block + 1;
    lua_rawgeti(L, keys, K_ID + 1);
    lua_rawget(L, block);
    set_at(L, keys, call, K_ID);
    lua_rawgeti(L, keys, K_NAME + 1);
    lua_rawget(L, block);
    set_at(L, keys, call, K_NAME);
    lua_rawgeti(L, keys, K_INPUT + 1);
    lua_rawget(L, block);
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 0);
    }
    set_at(L, keys, call, K_INPUT);
}

/* nyx.call's fields of the result at index result, for the call whose table is at index spec:
 * tool_calls, thinking (when the reply thought), and messages, the conversation the call sent
 * (a new list of the caller's own message tables, or the prompt as the user's turn) with the
 * reply's blocks appended as the assistant's turn (the very tables of r.content; none when
 * nothing is left to send back), so `messages = r.messages` continues it. Which block goes
 * where is claude/reply.h's. */
static void push_conversation(lua_State *L, int keys, int spec, int result, const call_outcome *r)
{
    const cJSON *content = r->resp.content;
    if (!lua_checkstack(L, 12)) /* the most this pushes at once, with a tool call's fields */
        lnyx_fail(L, "out_of_memory", "out of memory");
    lua_rawgeti(L, keys, K_MESSAGES + 1);
    if (lua_gettable(L, spec) != LUA_TNIL) { /* as ipairs reads it */
        int sent = lua_gettop(L);
        lua_createtable(L, (int)lua_rawlen(L, sent) + 1, 0);
        lua_Integer n = 0;
        while (lua_geti(L, sent, n + 1) != LUA_TNIL)
            lua_rawseti(L, sent + 1, ++n);
        lua_pop(L, 1);
        lua_remove(L, sent);
    } else {
        lua_pop(L, 1);
        lua_createtable(L, 2, 0); /* room for the answer too */
        lua_createtable(L, 0, 2);
        lua_rawgeti(L, keys, K_USER + 1);
        set_at(L, keys, lua_gettop(L) - 1, K_ROLE);
        lua_rawgeti(L, keys, K_PROMPT + 1);
        lua_gettable(L, spec);
        set_at(L, keys, lua_gettop(L) - 1, K_CONTENT);
        lua_rawseti(L, -2, 1);
    }
    int messages = lua_gettop(L);
    lua_createtable(L, r->resp.content_known ? r->resp.content_tool_uses : 0, 0);
    int calls = messages + 1;
    lua_createtable(L, content ? cJSON_GetArraySize(content) : 1, 0);
    int reply = calls + 1;
    lua_Integer nreply = 0, ncalls = 0, i = 0;
    int thought = 0;
    if (content) {
        lua_rawgeti(L, keys, K_CONTENT + 1);
        lua_rawget(L, result);
        int blocks = lua_gettop(L);
        for (const cJSON *b = content->child; b; b = b->next) {
            i++;
            claude_block_part part = claude_block_part_of(b);
            if (part == CLAUDE_BLOCK_DROPPED)
                continue;
            lua_rawgeti(L, blocks, i);
            if (part == CLAUDE_BLOCK_TOOL_USE) {
                push_tool_call(L, keys);
                lua_rawseti(L, calls, ++ncalls);
            }
            thought |= part == CLAUDE_BLOCK_THINKING;
            lua_rawseti(L, reply, ++nreply);
        }
        lua_pop(L, 1);
    } else if (r->resp.text_len > 0) { /* no blocks known (an old response cache entry): the text */
        lua_createtable(L, 0, 2);
        lua_rawgeti(L, keys, K_TEXT + 1);
        set_at(L, keys, reply + 1, K_TYPE);
        lua_rawgeti(L, keys, K_TEXT + 1);
        lua_rawget(L, result);
        set_at(L, keys, reply + 1, K_TEXT);
        lua_rawseti(L, reply, ++nreply);
    }
    if (thought) {
        textbuf joined = {0};
        int n = claude_reply_thinking(content, &joined);
        if (n > 0)
            lua_pushlstring(L, joined.s ? joined.s : "", joined.len);
        free(joined.s);
        if (n < 0)
            lnyx_fail(L, "out_of_memory", "out of memory");
        if (n > 0)
            set_at(L, keys, result, K_THINKING);
    }
    if (nreply > 0) {
        lua_createtable(L, 0, 2);
        lua_rawgeti(L, keys, K_ASSISTANT + 1);
        set_at(L, keys, reply + 1, K_ROLE);
        lua_pushvalue(L, reply);
        set_at(L, keys, reply + 1, K_CONTENT);
        lua_rawseti(L, messages, (lua_Integer)lua_rawlen(L, messages) + 1);
    }
    lua_pop(L, 1); /* reply */
    set_at(L, keys, result, K_TOOL_CALLS);
    set_at(L, keys, result, K_MESSAGES);
}

/* The result with the key strings at index keys (replaced by the result); with spec (the
 * index of the call's table, 0: none) nyx.call's fields too (push_conversation). */
static void push_result(lua_State *L, int keys, const call_outcome *r, int spec)
{
    lua_pushlstring(L, r->resp.text ? r->resp.text : "", r->resp.text_len);
    int text = lua_gettop(L); /* kept below the table for content's text block, the same string */
    /* Room for its up to 20 fields and those nyx.call adds (tool_calls, messages, thinking):
     * made once, never grown (rehashed) on the way. */
    lua_createtable(L, 0, 24);
    lua_rawgeti(L, keys, K_TEXT + 1);
    lua_pushvalue(L, text);
    lua_rawset(L, -3);
    lnyx_key_str(L, keys, K_MODEL, r->resp.model);
    lnyx_key_str(L, keys, K_ID, r->resp.id);
    lnyx_key_str(L, keys, K_STOP_REASON, r->resp.stop_reason);
    lnyx_key_str(L, keys, K_STOP_SEQUENCE, r->resp.stop_sequence);
    lnyx_key_str(L, keys, K_REQUEST_ID, r->resp.request_id);
    if (r->resp.content) { /* the reply's blocks as parsed */
        lua_rawgeti(L, keys, K_CONTENT + 1);
        lnyx_push_json_sharing(L, r->resp.content, r->resp.text, text);
        lua_rawset(L, -3);
    }
    lnyx_key_bool(L, keys, K_CACHE_HIT, r->cache_hit);
    push_common(L, keys, r);
    lua_rawgeti(L, keys, K_USAGE + 1);
    push_usage(L, keys, r);
    lua_rawset(L, -3);
    if (spec)
        push_conversation(L, keys, spec, lua_gettop(L), r);
    lua_replace(L, keys); /* the table where the keys were, the text above it dropped */
    lua_settop(L, keys);
}

void lnyx_push_result(lua_State *L, const call_outcome *r) { push_result(L, lnyx_push_keys(L, &result_keys), r, 0); }

/* ---- the operation ---- */

/* A stream callback that raises or returns false stops its stream: the transfer is aborted
 * at once and the call ends cancelled (logged so), the script seeing the callback's error. */
static void after_callback(call_op *op, int rc)
{
    lua_State *L = op->L;
    const char *why = NULL;
    if (rc != LUA_OK) {
        lnyx_push_error_text(L, -1);
        op->callback_error = strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        op->callback_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        why = "a stream callback raised an error";
    } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        why = "the stream callback returned false";
    }
    lua_pop(L, 1);
    if (why)
        call_cancel(op->call, why);
}

static int stopped(const call_op *op) { return op->callback_error || !op->call || call_stopping(op->call); }

static void stream_text(void *ud, const char *text, size_t len)
{
    call_op *op = ud;
    if (op->stream_ref == LUA_NOREF || stopped(op))
        return;
    lua_pushlstring(op->L, text, len);
    after_callback(op, lnyx_callback_value(op->L, op->stream_ref, 1));
}

static void stream_thinking(void *ud, const char *text, size_t len)
{
    call_op *op = ud;
    if (op->thinking_ref == LUA_NOREF || stopped(op))
        return;
    lua_pushlstring(op->L, text, len);
    after_callback(op, lnyx_callback_value(op->L, op->thinking_ref, 1));
}

static void stream_start(void *ud)
{
    call_op *op = ud;
    if (op->start_ref == LUA_NOREF || stopped(op))
        return;
    after_callback(op, lnyx_callback_value(op->L, op->start_ref, 0));
}

static void call_done(api_call *call, void *ud)
{
    (void)call;
    lnyx_complete(ud);
}

static void op_cancel(lnyx_op *base)
{
    call_op *op = (call_op *)base;
    call_cancel(op->call, "its task was cancelled");
}

/* Frees what the op holds; an abandoned call is cancelled and logged. */
static void op_release(lua_State *L, call_op *op)
{
    api_call *c = op->call;
    op->call = NULL;
    call_free(c);
    luaL_unref(L, LUA_REGISTRYINDEX, op->stream_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, op->start_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, op->thinking_ref);
    op->stream_ref = op->start_ref = op->thinking_ref = LUA_NOREF;
    free(op->callback_error);
    op->callback_error = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, op->callback_error_ref);
    op->callback_error_ref = LUA_NOREF;
    call_spec_free(&op->spec);
}

static int op_gc(lua_State *L)
{
    op_release(L, lua_touserdata(L, 1));
    return 0;
}

/* The script holds the result now: the call (its request body, its copy of the prompt, its
 * reply) goes at once, not when the collector gets to the op, which may be thousands of calls
 * later since Lua does not see the memory behind it. With nothing left to free, the op loses
 * its metatable: the collector still sets it aside for one more cycle (Lua 5.4 marks an object
 * for finalization when its metatable is set), but calls nothing for it. */
static void release_op(lua_State *L, call_op *op)
{
    op_release(L, op);
    if (lua_touserdata(L, 2) == op) { /* where l_call put it */
        lua_pushnil(L);
        lua_setmetatable(L, 2);
    }
}

static int call_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    call_op *op = (call_op *)ctx;
    const call_outcome *r = call_result(op->call);
    if (op->callback_error) {
        error_info err;
        error_clear(&err);
        error_set(&err, "callback_error", 0, "a stream callback failed: %s", op->callback_error);
        lnyx_push_error(L, &err);
        lua_rawgeti(L, LUA_REGISTRYINDEX, op->callback_error_ref);
        lua_setfield(L, -2, "cause");
        luaL_where(L, 1);
        lua_setfield(L, -2, "where");
        return lua_error(L);
    }
    if (r->status != NYX_STATUS_OK) {
        lua_pushvalue(L, lua_upvalueindex(UV_RESULT_KEYS)); /* a continuation has its function's upvalues */
        int keys = lua_gettop(L);
        lnyx_push_error(L, call_outcome_error(r));
        push_common(L, keys, r);
        if (r->resp.text_len > 0) {
            lua_pushlstring(L, r->resp.text, r->resp.text_len);
            lnyx_key_set(L, keys, K_PARTIAL_TEXT);
        }
        /* A call that failed after its response began (a stream cut, a stop) is billed for
         * what it used, and its record says so; without the usage here a script's sums (a
         * council's totals) came out lower than the records. */
        const claude_usage *u = &r->resp.usage;
        if (u->input_tokens || u->output_tokens || u->cache_creation_input_tokens || u->cache_read_input_tokens) {
            push_usage(L, keys, r);
            lnyx_key_set(L, keys, K_USAGE);
        }
        luaL_where(L, 1);
        lnyx_key_set(L, keys, K_WHERE);
        release_op(L, op);
        return lua_error(L);
    }
    lua_pushvalue(L, lua_upvalueindex(UV_RESULT_KEYS));
    push_result(L, lua_gettop(L), r, op->conversation ? 1 : 0); /* the call's table is at 1 */
    release_op(L, op);
    return 1;
}

/* core.call(spec [, conversation]): with conversation true (nyx.call's calls) the result also
 * carries tool_calls, thinking and messages (push_conversation). */
static int l_call(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    int conversation = lua_toboolean(L, 2);
    lua_settop(L, 1);
    nyx_engine *e = lnyx_engine(L);
    /* A call waits; a callback runs inside the loop's turn and cannot (nothing is sent). */
    if (engine_in_callback(e))
        return lnyx_fail(L, "invalid_state", "nyx.call cannot run inside a callback (stream or event "
                                             "handler); start a task with nyx.spawn instead");
    /* index 2, kept until the call ends */
    call_op *op = lnyx_new_udata(L, sizeof *op, 0, "nyx.callop", op_gc);
    op->e = e;
    op->stream_ref = op->start_ref = op->thinking_ref = op->callback_error_ref = LUA_NOREF;
    op->op.cancel = op_cancel;
    op->conversation = conversation;
    call_spec *spec = &op->spec;
    call_spec_init(spec);
    read_spec(L, spec, op);
    spec->on_text = stream_text;
    spec->on_start = stream_start;
    spec->on_thinking = stream_thinking;
    spec->stream_ud = op;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    op->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    error_info err;
    error_clear(&err);
    op->call = call_start(e, spec, call_done, op, &err);
    call_spec_free(spec);
    if (!op->call)
        return lnyx_raise(L, &err);
    return lnyx_wait(L, &op->op, (lua_KContext)op, call_k);
}

/* core.estimate(spec [, "batch"]): what nyx.call(spec) would send and may cost, from the
 * request the engine builds for it (call_estimate), sending nothing: {model, bytes,
 * input_tokens, input_tokens_max, max_tokens, worst_case_usd}; worst_case_usd, what a budget
 * reserves for the call (in a Message Batch with "batch"), is absent when the model has no
 * price. The Lua library's (a council's estimate), not nyx's. */
static int l_estimate(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TTABLE);
    const char *tier = lnyx_optstring(L, 2, "standard");
    if (strcmp(tier, "standard") != 0 && strcmp(tier, "batch") != 0)
        return lnyx_argerror(L, 2, "\"standard\" or \"batch\" expected, got \"%s\"", tier);
    int batch = tier[0] == 'b';
    lua_settop(L, 1);
    nyx_engine *e = lnyx_engine(L);
    call_op *op = lnyx_new_udata(L, sizeof *op, 0, "nyx.callop", op_gc); /* index 2, as for l_call */
    op->e = e;
    op->stream_ref = op->start_ref = op->thinking_ref = op->callback_error_ref = LUA_NOREF;
    call_spec_init(&op->spec);
    read_spec(L, &op->spec, op);
    error_info err;
    error_clear(&err);
    call_bound b;
    int rc = call_estimate(e, &op->spec, batch, &b, &err);
    release_op(L, op);
    if (rc != 0)
        return lnyx_raise(L, &err);
    lua_createtable(L, 0, 6);
    lnyx_set_str(L, "model", b.model);
    lnyx_set_int(L, "bytes", (long long)b.body_bytes);
    lnyx_set_int(L, "input_tokens", b.input_tokens);
    lnyx_set_int(L, "input_tokens_max", b.input_tokens_max);
    lnyx_set_int(L, "max_tokens", b.max_tokens);
    if (b.priced)
        lnyx_set_num(L, "worst_case_usd", b.worst_case_usd);
    return 1;
}

int lnyx_open_call(lua_State *L)
{
    lua_createtable(L, 0, O_COUNT + 2); /* UV_OPTION_IDS */
    for (int i = 0; i < O_COUNT; i++) {
        lua_pushinteger(L, i + 1);
        lua_setfield(L, -2, option_names[i]);
    }
    for (size_t i = 0; i < sizeof lua_layer_options / sizeof *lua_layer_options; i++) {
        lua_pushinteger(L, O_LUA_LAYER);
        lua_setfield(L, -2, lua_layer_options[i]);
    }
    lnyx_push_keys(L, &result_keys); /* UV_RESULT_KEYS */
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, l_call, 2);
    lua_setfield(L, -4, "call");
    lua_pushcclosure(L, l_estimate, 2); /* read_spec reads the option names' upvalue */
    lua_setfield(L, -2, "estimate");
    return 0;
}
