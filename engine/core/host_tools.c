#define _POSIX_C_SOURCE 200809L
/* Tools implemented by the host (nyx_tool_register, nyx_tool_result). A script's tool loop
 * starts a call here and waits; the host's function runs at the loop's next turn, with no Lua
 * on the stack, so it may answer at once or keep the call and answer in a later frame (a game
 * that walks a character somewhere answers when it arrives). */
#include "host_tools.h"
#include "base/array.h"
#include "base/json_parse.h"
#include "base/json_print.h"
#include "base/text.h"
#include "base/utf8.h"
#include "engine.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct host_tool {
    char *name;
    char *description; /* the schema's own top-level "description", or NULL */
    char *schema;      /* the input schema as JSON text, without that description */
    nyx_tool_fn fn;
    void *ud;
} host_tool;

typedef struct host_call {
    long long id;
    size_t tool;    /* index into the registry: it only grows */
    char *input;
    host_tool_done done;
    void *ud;
    int started;    /* the host's function ran */
    struct host_call *next;
} host_call;

struct host_tools {
    host_tool *tools;
    size_t n, cap;
    host_call *calls; /* waiting for an answer, oldest first */
    long long last_id;
    int kick_queued;  /* a turn will run the functions of the calls not started */
};

static struct host_tools *registry(nyx_engine *e, int create)
{
    if (!e->host_tools && create)
        e->host_tools = calloc(1, sizeof *e->host_tools);
    return e->host_tools;
}

static host_tool *find(struct host_tools *h, const char *name)
{
    for (size_t i = 0; h && i < h->n; i++)
        if (strcmp(h->tools[i].name, name) == 0)
            return &h->tools[i];
    return NULL;
}

/* The schema as stored: parsed, checked to describe an object, its description taken out. */
static int read_schema(nyx_engine *e, const char *name, const char *schema_json, char **schema, char **description)
{
    *schema = *description = NULL;
    /* Every call that lists the tool sends it: bytes that are not UTF-8 would have each refused. */
    long bad = schema_json ? utf8_bad(schema_json, strlen(schema_json)) : -1;
    if (bad >= 0) {
        engine_set_error(e, "nyx_tool_register: schema_json of tool %s is not valid UTF-8 (its byte %ld is 0x%02X)",
                         name, bad + 1, (unsigned char)schema_json[bad]);
        return NYX_EINVAL;
    }
    /* The whole text: cJSON_Parse alone reads the first value and ignores what follows it, so
     * a schema with a stray brace or a second object would be taken as its first part. */
    const char *text = schema_json ? schema_json : "{\"type\":\"object\",\"properties\":{}}";
    error_info perr;
    error_clear(&perr);
    cJSON *root = json_parse_whole(text, strlen(text), &perr);
    if (!root) {
        engine_set_error(e, "nyx_tool_register: schema_json of tool %s is %s", name, perr.message);
        return NYX_EINVAL;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsObject(root) || !cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0) {
        cJSON_Delete(root);
        engine_set_error(e, "nyx_tool_register: schema_json of tool %s must be a JSON Schema object with "
                            "\"type\": \"object\"", name);
        return NYX_EINVAL;
    }
    cJSON *desc = cJSON_DetachItemFromObjectCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        cJSON_Delete(desc);
        cJSON_Delete(root);
        engine_set_error(e, "nyx_tool_register: the description in schema_json of tool %s must be a string", name);
        return NYX_EINVAL;
    }
    char *printed = json_print(root);
    *schema = printed ? strdup(printed) : NULL;
    cJSON_free(printed);
    if (desc)
        *description = strdup(desc->valuestring);
    int oom = !*schema || (desc && !*description);
    cJSON_Delete(desc);
    cJSON_Delete(root);
    if (oom) {
        free(*schema);
        free(*description);
        engine_set_error(e, "nyx_tool_register: out of memory");
        return NYX_ENOMEM;
    }
    return NYX_OK;
}

int host_tools_register(nyx_engine *e, const char *name, const char *schema_json, nyx_tool_fn fn, void *ud)
{
    if (!e)
        return NYX_EINVAL;
    if (!name) {
        engine_set_error(e, "nyx_tool_register: name is NULL");
        return NYX_EINVAL;
    }
    if (!text_is_word(name, 64)) { /* refused here, where the host sees it, not by the API */
        engine_set_error(e, "nyx_tool_register: name must match ^[a-zA-Z0-9_-]{1,64}$, got \"%.80s\"", name);
        return NYX_EINVAL;
    }
    if (!fn) {
        engine_set_error(e, "nyx_tool_register: fn of tool %s is NULL", name);
        return NYX_EINVAL;
    }
    struct host_tools *h = registry(e, 1);
    if (!h) {
        engine_set_error(e, "nyx_tool_register: out of memory");
        return NYX_ENOMEM;
    }
    if (find(h, name)) {
        engine_set_error(e, "nyx_tool_register: name: a tool named %s is already registered", name);
        return NYX_EINVAL;
    }
    host_tool t = {.fn = fn, .ud = ud};
    int rc = read_schema(e, name, schema_json, &t.schema, &t.description);
    if (rc != NYX_OK)
        return rc;
    host_tool *tools = array_room(h->tools, h->n, &h->cap, sizeof *tools, 8);
    if (!tools)
        goto oom;
    h->tools = tools;
    if (!(t.name = strdup(name)))
        goto oom;
    h->tools[h->n++] = t;
    return NYX_OK;
oom:
    free(t.schema);
    free(t.description);
    engine_set_error(e, "nyx_tool_register: out of memory");
    return NYX_ENOMEM;
}

int host_tool_find(nyx_engine *e, const char *name, const char **description, const char **schema)
{
    const host_tool *t = find(e->host_tools, name);
    if (!t)
        return -1;
    *description = t->description;
    *schema = t->schema;
    return 0;
}

static host_call *unlink_call(struct host_tools *h, long long id)
{
    for (host_call **p = h ? &h->calls : NULL; p && *p; p = &(*p)->next)
        if ((*p)->id == id) {
            host_call *c = *p;
            *p = c->next;
            return c;
        }
    return NULL;
}

static void free_call(host_call *c)
{
    if (c)
        free(c->input);
    free(c);
}

/* Runs the host's function of every call not started yet. A function may answer (and so
 * remove its call) or register tools while it runs: each round looks the list up again. */
static void kick(void *ud)
{
    nyx_engine *e = ud;
    struct host_tools *h = e->host_tools;
    if (!h)
        return;
    h->kick_queued = 0;
    for (;;) {
        host_call *c = h->calls;
        while (c && c->started)
            c = c->next;
        if (!c)
            return;
        c->started = 1;
        nyx_tool_fn fn = h->tools[c->tool].fn;
        engine_host_fn_enter(e);
        fn(h->tools[c->tool].ud, e, c->id, c->input);
        engine_host_fn_leave(e);
    }
}

int host_tool_start(nyx_engine *e, const char *name, const char *input, host_tool_done done, void *ud,
                    long long *id, error_info *err)
{
    struct host_tools *h = e->host_tools;
    const host_tool *t = find(h, name);
    if (!t) {
        error_set(err, "invalid_argument", 0, "no tool named %s is registered by the host", name);
        return -1;
    }
    host_call *c = calloc(1, sizeof *c);
    if (!c || !(c->input = strdup(input)) || (!h->kick_queued && loop_defer(e->loop, kick, e) != 0)) {
        free_call(c);
        error_set(err, "out_of_memory", 0, "out of memory");
        return -1;
    }
    h->kick_queued = 1;
    c->id = ++h->last_id;
    c->tool = (size_t)(t - h->tools);
    c->done = done;
    c->ud = ud;
    host_call **p = &h->calls;
    while (*p)
        p = &(*p)->next;
    *p = c;
    *id = c->id;
    return 0;
}

int host_tools_result(nyx_engine *e, long long call, const char *content, int is_error)
{
    if (!e)
        return NYX_EINVAL;
    host_call *c = unlink_call(e->host_tools, call);
    if (!c) {
        engine_set_error(e, "nyx_tool_result: call %lld waits for no result (answered already, cancelled, "
                            "or never made)", call);
        return NYX_EINVAL;
    }
    c->done(c->ud, content ? content : "", is_error != 0);
    free_call(c);
    return NYX_OK;
}

void host_tool_abandon(nyx_engine *e, long long id) { free_call(unlink_call(e->host_tools, id)); }

int host_tools_pending(const nyx_engine *e)
{
    int n = 0;
    for (const host_call *c = e->host_tools ? e->host_tools->calls : NULL; c; c = c->next)
        n++;
    return n;
}

void host_tools_free(nyx_engine *e)
{
    struct host_tools *h = e->host_tools;
    if (!h)
        return;
    while (h->calls) {
        host_call *c = h->calls;
        h->calls = c->next;
        free_call(c);
    }
    for (size_t i = 0; i < h->n; i++) {
        free(h->tools[i].name);
        free(h->tools[i].description);
        free(h->tools[i].schema);
    }
    free(h->tools);
    free(h);
    e->host_tools = NULL;
}
