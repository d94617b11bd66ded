/* Request bodies as the engine writes them (cJSON, unformatted), for the tests of requests
 * stored in parts on either backend (tests/c/test_store_content.c, tests/pg/test_store_pg.c). */
#ifndef NYX_TEST_REQUEST_BODY_H
#define NYX_TEST_REQUEST_BODY_H
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static inline char *repeat(const char *unit, int n)
{
    size_t len = strlen(unit);
    char *s = malloc(len * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(s + len * (size_t)i, unit, len);
    s[len * (size_t)n] = '\0';
    return s;
}

/* A request body as the engine writes it (cJSON, unformatted): a marked system prompt, the
 * messages given, and tools when any. */
static inline char *body(const char *system, const char *const *msgs, int nmsgs, int mark_last,
                  const char *tools_json)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", "claude-haiku-5-5");
    cJSON_AddNumberToObject(root, "max_tokens", 16);
    if (system) {
        cJSON *sys = cJSON_AddArrayToObject(root, "system");
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", system);
        cJSON_AddItemToObject(cJSON_AddObjectToObject(b, "cache_control"), "type",
                              cJSON_CreateString("ephemeral"));
        cJSON_AddItemToArray(sys, b);
    }
    cJSON *m = cJSON_AddArrayToObject(root, "messages");
    for (int i = 0; i < nmsgs; i++) {
        cJSON *msg = cJSON_CreateObject();
        cJSON_AddStringToObject(msg, "role", i % 2 ? "assistant" : "user");
        cJSON *content = cJSON_AddArrayToObject(msg, "content");
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", msgs[i]);
        if (mark_last && i == nmsgs - 1) /* the mark moves on as the conversation grows */
            cJSON_AddItemToObject(cJSON_AddObjectToObject(b, "cache_control"), "type",
                                  cJSON_CreateString("ephemeral"));
        cJSON_AddItemToArray(content, b);
        cJSON_AddItemToArray(m, msg);
    }
    if (tools_json)
        cJSON_AddItemToObject(root, "tools", cJSON_Parse(tools_json));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

#endif
