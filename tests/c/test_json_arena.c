/* engine/base/json_arena: a tree of the arena's nodes prints as the same tree of cJSON's own;
 * the room is kept from tree to tree (the same slots again, no allocation) up to
 * JSON_ARENA_KEEP nodes, and none under AddressSanitizer (base/pooling.h); a node's own text is
 * copied and bounded; a tree cJSON made joins as it is and is deleted at reset (the valgrind
 * twin sees a leak otherwise). */
#include "check.h"

#include "base/json_arena.h"
#include "base/pooling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* {"model":"m","n":12,"t":0.7,"list":["a",raw],"on":true} from a; the same from cJSON. */
static cJSON *arena_tree(json_arena *a, const char *raw)
{
    cJSON *o = json_arena_node(a, cJSON_Object, NULL), *l = json_arena_node(a, cJSON_Array, NULL);
    char digits[] = "12xx";
    if (!o || !l || !cJSON_AddItemToObjectCS(o, "model", json_arena_node(a, cJSON_String, "m")) ||
        !cJSON_AddItemToObjectCS(o, "n", json_arena_text(a, cJSON_Raw, digits, 2)) ||
        !cJSON_AddItemToObjectCS(o, "t", json_arena_number(a, 0.7)) ||
        !cJSON_AddItemToObjectCS(o, "list", l) ||
        !cJSON_AddItemToArray(l, json_arena_node(a, cJSON_String, "a")) ||
        !cJSON_AddItemToArray(l, json_arena_node(a, cJSON_Raw, raw)) ||
        !cJSON_AddItemToObjectCS(o, "on", json_arena_node(a, cJSON_True, NULL)))
        return NULL;
    digits[0] = '9'; /* the node holds its own copy */
    return o;
}

static void prints_as_cjson(void)
{
    json_arena a = {0};
    cJSON *t = arena_tree(&a, "{\"x\":[1,2]}");
    REQUIRE(t != NULL);
    char *got = cJSON_PrintUnformatted(t);
    cJSON *w = cJSON_CreateObject(), *l = cJSON_CreateArray();
    REQUIRE(w && l);
    cJSON_AddStringToObject(w, "model", "m");
    cJSON_AddNumberToObject(w, "n", 12);
    cJSON_AddNumberToObject(w, "t", 0.7);
    cJSON_AddItemToObject(w, "list", l);
    cJSON_AddItemToArray(l, cJSON_CreateString("a"));
    cJSON_AddItemToArray(l, cJSON_CreateRaw("{\"x\":[1,2]}"));
    cJSON_AddTrueToObject(w, "on");
    char *want = cJSON_PrintUnformatted(w);
    CHECK_STR(got, want);
    CHECK_STR(json_arena_number(&a, 3e9)->valuestring, "3000000000");
    CHECK_STR(json_arena_number(&a, 0.1 + 0.2)->valuestring, "0.30000000000000004"); /* cJSON: 0.3 */
    CHECK(json_arena_number(&a, NAN) == NULL);
    free(got);
    free(want);
    cJSON_Delete(w);
    json_arena_free(&a);
}

static void room_kept(void)
{
    json_arena a = {0};
    cJSON *first = arena_tree(&a, "1");
    REQUIRE(first != NULL);
    size_t slots = a.slots;
    CHECK(slots > 0);
    json_arena_reset(&a);
    if (!NYX_POOLING) { /* let go at every reset, so a node used after it is reported */
        CHECK_INT(a.slots, 0);
        CHECK(a.first == NULL);
        json_arena_free(&a);
        return;
    }
    CHECK(arena_tree(&a, "1") == first); /* the same slots, nothing allocated */
    CHECK_INT(a.slots, slots);

    /* Many nodes: chunks added, earlier nodes unmoved, all kept while within the bound. */
    json_arena_reset(&a);
    cJSON *arr = json_arena_node(&a, cJSON_Array, NULL);
    REQUIRE(arr != NULL);
    for (int i = 0; i < 200; i++)
        REQUIRE(cJSON_AddItemToArray(arr, json_arena_node(&a, cJSON_String, "s")));
    CHECK_INT(cJSON_GetArraySize(arr), 200);
    char *text = cJSON_PrintUnformatted(arr);
    CHECK(text && strlen(text) == 2 + 200 * 3 + 199);
    free(text);
    size_t grown = a.slots;
    CHECK(grown >= 201);
    json_arena_reset(&a);
    CHECK_INT(a.slots, grown);

    /* Past JSON_ARENA_KEEP: let go at reset. */
    for (int i = 0; i < JSON_ARENA_KEEP + 1; i++)
        REQUIRE(json_arena_node(&a, cJSON_String, "s") != NULL);
    json_arena_reset(&a);
    CHECK_INT(a.slots, 0);
    CHECK(a.first == NULL);
    json_arena_free(&a);
}

static void text_bounded(void)
{
    json_arena a = {0};
    char long_text[JSON_ARENA_TEXT + 1];
    memset(long_text, '7', sizeof long_text);
    CHECK(json_arena_text(&a, cJSON_Raw, long_text, JSON_ARENA_TEXT) == NULL);
    cJSON *n = json_arena_text(&a, cJSON_Raw, long_text, JSON_ARENA_TEXT - 1);
    REQUIRE(n != NULL);
    CHECK_INT(strlen(n->valuestring), JSON_ARENA_TEXT - 1);
    json_arena_free(&a);
}

/* A parsed tree inside the arena's: printed in place; deleted at reset, its siblings not. */
static void owned_trees(void)
{
    json_arena a = {0};
    cJSON *o = json_arena_node(&a, cJSON_Object, NULL);
    cJSON *p = json_arena_own(&a, cJSON_Parse("{\"k\":[1,\"v\"]}"));
    REQUIRE(o && p);
    CHECK_INT(a.nowned, 1);
    REQUIRE(cJSON_AddItemToObjectCS(o, "a", json_arena_node(&a, cJSON_String, "x")));
    REQUIRE(cJSON_AddItemToObjectCS(o, "p", p));
    REQUIRE(cJSON_AddItemToObjectCS(o, "z", json_arena_node(&a, cJSON_String, "y")));
    char *text = cJSON_PrintUnformatted(o);
    CHECK_STR(text, "{\"a\":\"x\",\"p\":{\"k\":[1,\"v\"]},\"z\":\"y\"}");
    free(text);
    json_arena_reset(&a);
    CHECK_INT(a.nowned, 0);
    CHECK(json_arena_own(&a, NULL) == NULL);
    json_arena_free(&a);
}

int main(void)
{
    prints_as_cjson();
    room_kept();
    text_bounded();
    owned_trees();
    return check_failures;
}
