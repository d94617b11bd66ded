#define _POSIX_C_SOURCE 200809L
/* The JSON Schema subset of structured outputs (schema.h).
 *
 * Sources of the rules, each quoted where it is applied below:
 *   [ref]  the API reference kept beside the project, shared/reference/anthropic-api.md:
 *          section 9 "Structured outputs" (objects need additionalProperties: false; no
 *          recursive schemas; strict tools the same) and section 7 "Tool use" (input_schema is
 *          a JSON Schema of type object);
 *   [docs] the page section 9 cites, platform.claude.com/docs/en/build-with-claude/
 *          structured-outputs, "JSON Schema limitations": its lists "Supported features",
 *          "Not supported" and "Pattern support (regex)", which both JSON outputs and strict
 *          tool use share ("If you use an unsupported feature, you'll receive a 400 error").
 * A keyword in neither supported list is refused, known or not: the API refuses those [docs]
 * names under "Not supported", and a misspelt one ("requird") would otherwise drop a constraint
 * without a word. Annotations are the exception (KEYWORDS below): keywords that constrain
 * nothing, which the tools that write schemas emit ("$schema" at the root from
 * zod-to-json-schema, "examples" from Pydantic) and [docs] names in neither list. Refusing
 * them would hold a request the API may well take; their values are checked where JSON Schema
 * gives them a type, so a misuse is still named. */
#include "schema.h"
#include "response.h"
#include "base/closest.h"
#include "base/quick_hash.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A member of an object by its name, an item of an array by its place, or a node by its
 * address, found at once in an open-addressed table. resolve looked each step of a $ref up
 * member by member, and the targets were a list searched for every node the recursion check
 * passed: a schema of N definitions, each named by a reference, took time in N * N (10 s for
 * 20,000 of them, a 1.2 MB schema). Keyed by quick_hash, whose seed no text can be made for. */
typedef struct slot {
    const cJSON *parent; /* NULL: the slot is free; in the targets' table, the target */
    const cJSON *child;
    size_t pos;          /* the item's place in an array; in the targets' table, the target's */
} slot;

typedef struct table {
    slot *slots;
    size_t mask; /* mask + 1 slots, a power of two, at most half of them held; no slots: none */
} table;

typedef struct walk {
    char path[512];     /* where the node being checked is: "output.properties.age" */
    size_t where_len;   /* of the caller's name for the schema, which path starts with */
    size_t base;        /* index_base */
    error_info *err;
    const cJSON *root;
    table members;      /* every member and item of the tree, made at the first $ref */
    int indexed;        /* 1: members is made; -1: it could not be (out of memory), resolve looks
                           members up one by one */
    table target_at;    /* each target's place in targets */
    const cJSON **targets; /* each node a $ref resolves to, once */
    unsigned char *color;  /* per target, in the recursion check: 0 new, 1 on the way, 2 done */
    size_t ntargets, cap;
    int oom;
} walk;

/* The slot of the member name (an object's) or the item pos (an array's, name NULL) of
 * parent: the one holding it, or the free one it would go to. */
static slot *member_slot(const table *t, const cJSON *parent, const char *name, size_t pos)
{
    struct {
        const cJSON *parent;
        size_t pos;
    } key = {parent, name ? 0 : pos};
    uint64_t h = quick_hash_of(&key, sizeof key).lo;
    if (name)
        h ^= quick_hash_of(name, strlen(name)).lo;
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        slot *sl = &t->slots[i];
        if (!sl->parent ||
            (sl->parent == parent && (name ? strcmp(sl->child->string, name) == 0 : sl->pos == pos)))
            return sl;
    }
}

static size_t count_nodes(const cJSON *node)
{
    size_t n = 1;
    for (const cJSON *c = node->child; c; c = c->next)
        n += count_nodes(c);
    return n;
}

/* Puts every member and item under node in t; the first of two members of one name is the
 * one kept, as cJSON_GetObjectItemCaseSensitive finds it. */
static void index_members(table *t, const cJSON *node)
{
    int object = cJSON_IsObject(node);
    size_t pos = 0;
    for (const cJSON *c = node->child; c; c = c->next, pos++) {
        if (object && !c->string)
            continue;
        slot *sl = member_slot(t, node, object ? c->string : NULL, pos);
        if (!sl->parent)
            *sl = (slot){node, c, pos};
        index_members(t, c);
    }
}

/* Makes w->members, once; on failure resolve looks members up as cJSON does. */
static void index_tree(walk *w)
{
    if (w->indexed)
        return;
    size_t cap = 16, n = count_nodes(w->root);
    while (cap < 2 * n)
        cap *= 2;
    w->members.slots = calloc(cap, sizeof *w->members.slots);
    if (!w->members.slots) {
        w->indexed = -1;
        return;
    }
    w->members.mask = cap - 1;
    index_members(&w->members, w->root);
    w->indexed = 1;
}

/* The member seg of an object, the item seg of an array (its place in decimal), or NULL. */
static const cJSON *member(const walk *w, const cJSON *at, const char *seg, size_t n)
{
    if (cJSON_IsObject(at)) {
        if (w->indexed != 1)
            return cJSON_GetObjectItemCaseSensitive(at, seg);
        const slot *sl = member_slot(&w->members, at, seg, 0);
        return sl->parent ? sl->child : NULL;
    }
    if (!cJSON_IsArray(at))
        return NULL;
    char *end;
    long i = strtol(seg, &end, 10);
    if (!n || *end || i < 0)
        return NULL;
    if (w->indexed != 1)
        return i <= INT_MAX ? cJSON_GetArrayItem(at, (int)i) : NULL;
    const slot *sl = member_slot(&w->members, at, NULL, (size_t)i);
    return sl->parent ? sl->child : NULL;
}

/* The slot of target node in w->target_at (one with parent NULL when it is none). */
static slot *target_slot(const walk *w, const cJSON *node)
{
    const table *t = &w->target_at;
    for (size_t i = (size_t)quick_hash_of(&node, sizeof node).lo & t->mask;; i = (i + 1) & t->mask)
        if (!t->slots[i].parent || t->slots[i].parent == node)
            return &t->slots[i];
}

static int bad(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(walk *w, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_fail(w->err, "invalid_argument", 0, "%s: %s", w->path, msg);
}

/* Appends a step to the path; returns the length to cut back to. */
static size_t step(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t step(walk *w, const char *fmt, ...)
{
    size_t len = strlen(w->path);
    va_list ap;
    va_start(ap, fmt);
    if (len < sizeof w->path)
        vsnprintf(w->path + len, sizeof w->path - len, fmt, ap);
    va_end(ap);
    return len;
}

/* ".name", or ["name"] for a name a dot could not be read after. */
static size_t step_name(walk *w, const char *keyword, const char *name)
{
    int plain = (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_';
    for (const char *c = name; plain && *c; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '_' || *c == '-';
    return plain ? step(w, ".%s.%s", keyword, name) : step(w, ".%s[\"%s\"]", keyword, name);
}

static void cut(walk *w, size_t len) { w->path[len] = '\0'; }

/* [docs] "All basic types: object, array, string, integer, number, boolean, null". */
static const char *const TYPES[] = {"object", "array", "string", "integer", "number", "boolean", "null"};
enum { T_OBJECT = 1 };

static int type_bit(const char *name)
{
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
        if (strcmp(name, TYPES[i]) == 0)
            return 1 << i;
    return 0;
}

/* [docs] "String formats: date-time, time, date, duration, email, hostname, uri, ipv4, ipv6,
 * uuid". */
static const char *const FORMATS[] = {"date-time", "time", "date", "duration", "email",
                                      "hostname",  "uri",  "ipv4", "ipv6",     "uuid"};

/* JSON Schema keywords the API refuses, with what [docs] says of them. */
static const struct {
    const char *name;
    const char *why;
} UNSUPPORTED[] = {
    /* "Numerical constraints (minimum, maximum, multipleOf, etc.)" */
    {"minimum", "no numerical constraints"},
    {"maximum", "no numerical constraints"},
    {"exclusiveMinimum", "no numerical constraints"},
    {"exclusiveMaximum", "no numerical constraints"},
    {"multipleOf", "no numerical constraints"},
    /* "String constraints (minLength, maxLength)" */
    {"minLength", "no string constraints"},
    {"maxLength", "no string constraints"},
    /* "Array constraints beyond minItems of 0 or 1" */
    {"maxItems", "no array constraints beyond minItems 0 or 1"},
    {"uniqueItems", "no array constraints beyond minItems 0 or 1"},
    {"prefixItems", "no array constraints beyond minItems 0 or 1"},
    {"additionalItems", "no array constraints beyond minItems 0 or 1"},
    {"contains", "no array constraints beyond minItems 0 or 1"},
    {"minContains", "no array constraints beyond minItems 0 or 1"},
    {"maxContains", "no array constraints beyond minItems 0 or 1"},
    {"unevaluatedItems", "no array constraints beyond minItems 0 or 1"},
    /* Not in "Supported features", which names anyOf and allOf only. */
    {"oneOf", "use anyOf"},
    {"not", "of the combinations only anyOf and allOf are"},
    {"if", "no conditional schemas"},
    {"then", "no conditional schemas"},
    {"else", "no conditional schemas"},
    {"dependentRequired", "no conditional schemas"},
    {"dependentSchemas", "no conditional schemas"},
    {"dependencies", "no conditional schemas"},
    /* Objects: "required and additionalProperties (must be set to false for objects)". */
    {"patternProperties", "objects take properties, required and additionalProperties: false"},
    {"propertyNames", "objects take properties, required and additionalProperties: false"},
    {"minProperties", "objects take properties, required and additionalProperties: false"},
    {"maxProperties", "objects take properties, required and additionalProperties: false"},
    {"unevaluatedProperties", "objects take properties, required and additionalProperties: false"},
};

/* The keywords taken, each with the kind of its check, in the order the message naming them
 * gives: the one list the check, the closest name to a misspelt keyword and that message read.
 * Annotations (JSON Schema 2020-12, core and meta-data vocabularies) describe the schema or its
 * values and constrain nothing; their check is of the type of value JSON Schema gives them. */
enum kind { K_TYPE, K_MAP, K_LIST, K_REQUIRED, K_ADDITIONAL, K_ITEMS, K_MIN_ITEMS, K_ENUM, K_ANY, K_REF,
            K_FORMAT, K_PATTERN, K_STRING, K_ARRAY, K_BOOLEAN };
static const struct keyword {
    const char *name;
    enum kind kind;
    int annotation;
} KEYWORDS[] = {
    {"type", K_TYPE, 0},          {"properties", K_MAP, 0},  {"required", K_REQUIRED, 0},
    {"additionalProperties", K_ADDITIONAL, 0},               {"items", K_ITEMS, 0},
    {"minItems", K_MIN_ITEMS, 0}, {"enum", K_ENUM, 0},       {"const", K_ANY, 0},
    {"anyOf", K_LIST, 0},         {"allOf", K_LIST, 0},      {"$ref", K_REF, 0},
    {"$defs", K_MAP, 0},          {"definitions", K_MAP, 0}, {"format", K_FORMAT, 0},
    {"pattern", K_PATTERN, 0},    {"default", K_ANY, 0},     {"description", K_STRING, 0},
    {"title", K_STRING, 0},       {"$schema", K_STRING, 1},  {"$id", K_STRING, 1},
    {"$comment", K_STRING, 1},    {"examples", K_ARRAY, 1},  {"deprecated", K_BOOLEAN, 1},
    {"readOnly", K_BOOLEAN, 1},   {"writeOnly", K_BOOLEAN, 1},
};
enum { NKEYWORDS = sizeof KEYWORDS / sizeof *KEYWORDS };

static const struct keyword *keyword_named(const char *k)
{
    for (size_t i = 0; k && i < NKEYWORDS; i++)
        if (strcmp(k, KEYWORDS[i].name) == 0)
            return &KEYWORDS[i];
    return NULL;
}

static int check_node(walk *w, const cJSON *node, int depth);

/* fn (check_node or find_cycle) on each schema v holds, v a keyword of kind K_MAP, K_LIST or
 * K_ITEMS, with the path stepped to it; level is fn's depth. */
static int each_schema(walk *w, const cJSON *v, enum kind kind, int (*fn)(walk *, const cJSON *, int),
                       int level)
{
    if (kind == K_ITEMS) {
        size_t len = step(w, ".items");
        if (fn(w, v, level))
            return -1;
        cut(w, len);
        return 0;
    }
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        size_t len = kind == K_MAP ? step_name(w, v->string, e->string ? e->string : "")
                                   : step(w, ".%s[%zu]", v->string, i + w->base);
        if (fn == check_node && kind == K_MAP && e->string && member(w, v, e->string, 0) != e)
            return bad(w, "is named twice in %s (JSON readers differ on which counts: write it once)",
                       v->string);
        /* [docs] "anyOf and allOf (with limitations - allOf with $ref not supported)" */
        if (fn == check_node && kind == K_LIST && strcmp(v->string, "allOf") == 0 && cJSON_IsObject(e) &&
            cJSON_GetObjectItemCaseSensitive(e, "$ref"))
            return bad(w, "allOf with $ref is not supported by structured outputs");
        if (fn(w, e, level))
            return -1;
        cut(w, len);
    }
    return 0;
}

/* The node a local $ref names (a JSON Pointer after '#': "#/$defs/item"), or NULL. *schema:
 * whether the way to it goes only through keywords that hold schemas, so that the node is one
 * (and one the check walks): "#/required" names a list, "#/properties" a map of schemas,
 * "#/properties/a/default" a value. schema may be NULL where the caller knows already. */
static const cJSON *resolve(walk *w, const char *ref, int *schema)
{
    enum { AT_SCHEMA, AT_MAP, AT_LIST, AT_VALUE } state = AT_SCHEMA;
    if (schema)
        *schema = 0;
    if (ref[0] != '#')
        return NULL;
    index_tree(w);
    const cJSON *at = w->root;
    const char *p = ref + 1;
    if (*p && *p != '/')
        return NULL; /* "#anchor": anchors are not supported, and none resolves */
    while (at && *p == '/') {
        p++;
        char seg[256];
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char c = *p;
            if (c == '~' && (p[1] == '0' || p[1] == '1'))
                c = *++p == '0' ? '~' : '/';
            if (n + 1 >= sizeof seg)
                return NULL;
            seg[n++] = c;
        }
        seg[n] = '\0';
        if (state == AT_SCHEMA) {
            const struct keyword *kw = keyword_named(seg);
            enum kind kind = kw ? kw->kind : K_ANY;
            state = kind == K_MAP ? AT_MAP : kind == K_LIST ? AT_LIST : kind == K_ITEMS ? AT_SCHEMA : AT_VALUE;
        } else if (state != AT_VALUE) {
            state = AT_SCHEMA; /* a name in a map of schemas, an index in a list of them */
        }
        at = member(w, at, seg, n);
    }
    if (schema)
        *schema = at && state == AT_SCHEMA && cJSON_IsObject(at);
    return at;
}

static int add_target(walk *w, const cJSON *t)
{
    if (w->target_at.slots && target_slot(w, t)->parent)
        return 0;
    if (2 * (w->ntargets + 1) > w->target_at.mask + 1 || !w->target_at.slots) {
        /* the table at most half full: a new one twice the size, the targets put in again */
        size_t cap = w->target_at.slots ? 2 * (w->target_at.mask + 1) : 16;
        table bigger = {calloc(cap, sizeof(slot)), cap - 1};
        if (!bigger.slots)
            return -1;
        free(w->target_at.slots);
        w->target_at = bigger;
        for (size_t i = 0; i < w->ntargets; i++)
            *target_slot(w, w->targets[i]) = (slot){w->targets[i], NULL, i};
    }
    if (w->ntargets == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        const cJSON **nt = realloc(w->targets, cap * sizeof *nt);
        if (!nt)
            return -1;
        w->targets = nt;
        w->cap = cap;
    }
    *target_slot(w, t) = (slot){t, NULL, w->ntargets};
    w->targets[w->ntargets++] = t;
    return 0;
}

/* [docs] "Pattern support (regex)", NOT supported: "Backreferences to groups (e.g., \1, \2)",
 * "Lookahead/lookbehind assertions (e.g., (?=...), (?!...))", "Word boundaries: \b, \B".
 * Inside a character class none of these exist ([\b] is a backspace). */
static const char *pattern_problem(const char *p)
{
    int in_class = 0;
    for (size_t i = 0; p[i]; i++) {
        char c = p[i];
        if (c == '\\') {
            char n = p[i + 1];
            if (!n)
                break;
            if (!in_class && n >= '1' && n <= '9')
                return "backreferences (\\1, \\2, ...) are not supported";
            if (!in_class && n == 'k' && p[i + 2] == '<')
                return "backreferences (\\k<name>) are not supported";
            if (!in_class && (n == 'b' || n == 'B'))
                return "word boundaries (\\b, \\B) are not supported";
            i++;
        } else if (in_class) {
            if (c == ']')
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
            if (p[i + 1] == '^')
                i++;
            if (p[i + 1] == ']')
                i++; /* a ']' first in a class is the character itself */
        } else if (c == '(' && p[i + 1] == '?') {
            if (p[i + 2] == '=' || p[i + 2] == '!')
                return "lookahead assertions ((?=...), (?!...)) are not supported";
            if (p[i + 2] == '<' && (p[i + 3] == '=' || p[i + 3] == '!'))
                return "lookbehind assertions ((?<=...), (?<!...)) are not supported";
        }
    }
    return NULL;
}

/* A keyword not taken: refused with why, and a slip of one taken ("requird", "readonly")
 * named with the keyword. */
static int unknown_keyword(walk *w, const char *k)
{
    for (size_t i = 0; i < sizeof UNSUPPORTED / sizeof *UNSUPPORTED; i++)
        if (strcmp(k, UNSUPPORTED[i].name) == 0)
            return bad(w, "%s is not supported by structured outputs (%s)", k, UNSUPPORTED[i].why);
    const char *names[NKEYWORDS];
    for (size_t i = 0; i < NKEYWORDS; i++)
        names[i] = KEYWORDS[i].name;
    const char *meant = closest_name(k, names, NKEYWORDS);
    if (meant)
        return bad(w, "unknown keyword \"%.60s\" (did you mean \"%s\"?)", k, meant);
    char list[400]; /* "type, ..., description and title, and the annotations $schema, ... and writeOnly" */
    size_t n = 0;
    for (size_t i = 0; i < NKEYWORDS && n < sizeof list; i++) {
        int first = i == 0 || KEYWORDS[i].annotation != KEYWORDS[i - 1].annotation;
        int last = i + 1 == NKEYWORDS || KEYWORDS[i + 1].annotation != KEYWORDS[i].annotation;
        const char *sep = i == 0 ? "" : first ? ", and the annotations " : last ? " and " : ", ";
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", sep, KEYWORDS[i].name);
    }
    return bad(w, "unknown keyword \"%.60s\" (structured outputs take %s)", k, list);
}

/* One keyword of a schema; *types collects the type names it allows. */
static int check_keyword(walk *w, const cJSON *v, int depth, int *types)
{
    const char *k = v->string ? v->string : "";
    const struct keyword *kw = keyword_named(k);
    if (!kw)
        return unknown_keyword(w, k);
    switch (kw->kind) {
    case K_TYPE: {
        const cJSON *one = cJSON_IsArray(v) ? v->child : v;
        if (cJSON_IsArray(v) && !one)
            return bad(w, "type must name at least one type");
        for (; one; one = cJSON_IsArray(v) ? one->next : NULL) {
            int bit = cJSON_IsString(one) ? type_bit(one->valuestring) : 0;
            if (!bit && cJSON_IsString(one))
                return bad(w, "type \"%.60s\" is not a JSON Schema type (object, array, string, "
                              "integer, number, boolean or null)", one->valuestring);
            if (!bit)
                return bad(w, "type must be a type name or an array of type names");
            *types |= bit;
        }
        return 0;
    }
    case K_MAP:
        if (!cJSON_IsObject(v))
            return bad(w, "%s must be an object of schemas", k);
        return each_schema(w, v, K_MAP, check_node, depth + 1);
    case K_LIST:
        if (!cJSON_IsArray(v) || !v->child)
            return bad(w, "%s must be a non-empty array of schemas", k);
        return each_schema(w, v, K_LIST, check_node, depth + 1);
    case K_REQUIRED: {
        int ok = cJSON_IsArray(v);
        for (const cJSON *e = ok ? v->child : NULL; e && ok; e = e->next)
            ok = cJSON_IsString(e);
        return ok ? 0 : bad(w, "required must be an array of property names");
    }
    case K_ADDITIONAL:
        /* [docs] "additionalProperties set to anything other than false" is not supported. */
        return cJSON_IsFalse(v) ? 0
                                : bad(w, "additionalProperties must be false: structured outputs take "
                                         "no other value");
    case K_ITEMS:
        if (cJSON_IsArray(v))
            return bad(w, "items must be one schema: tuples (an array of schemas) are not supported");
        return each_schema(w, v, K_ITEMS, check_node, depth + 1);
    case K_MIN_ITEMS:
        /* [docs] "Array minItems (only values 0 and 1 supported)" */
        if (!cJSON_IsNumber(v) || (v->valuedouble != 0 && v->valuedouble != 1))
            return bad(w, "minItems must be 0 or 1: structured outputs take no other array bound");
        return 0;
    case K_ENUM: {
        /* [docs] "enum (strings, numbers, bools, or nulls only - no complex types)" */
        if (!cJSON_IsArray(v) || !v->child)
            return bad(w, "enum must be a non-empty array");
        size_t i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++)
            if (cJSON_IsObject(e) || cJSON_IsArray(e))
                return bad(w, "enum[%zu] is %s: enum takes strings, numbers, booleans and null only",
                           i + w->base, cJSON_IsObject(e) ? "an object" : "an array");
        return 0;
    }
    case K_ANY: /* [docs] "const", "default property for all supported types": any value. */
        return 0;
    case K_REF: {
        /* [docs] "$ref, $def, and definitions (external $ref not supported)" */
        if (!cJSON_IsString(v))
            return bad(w, "$ref must be a string");
        if (v->valuestring[0] != '#')
            return bad(w, "$ref \"%.100s\" is external: only references inside the schema "
                          "(\"#/$defs/NAME\") are supported", v->valuestring);
        int schema;
        const cJSON *t = resolve(w, v->valuestring, &schema);
        if (!t)
            return bad(w, "$ref \"%.100s\" names nothing in the schema", v->valuestring);
        if (!schema)
            return bad(w, "$ref \"%.100s\" names a value that is not a schema (a JSON object)",
                       v->valuestring);
        if (add_target(w, t)) {
            w->oom = 1;
            return error_fail(w->err, "out_of_memory", 0, "out of memory");
        }
        return 0;
    }
    case K_FORMAT:
        for (size_t i = 0; cJSON_IsString(v) && i < sizeof FORMATS / sizeof *FORMATS; i++)
            if (strcmp(v->valuestring, FORMATS[i]) == 0)
                return 0;
        return bad(w, "format %s%.60s%s is not supported (structured outputs take date-time, time, "
                      "date, duration, email, hostname, uri, ipv4, ipv6 and uuid)",
                   cJSON_IsString(v) ? "\"" : "", cJSON_IsString(v) ? v->valuestring : "that is not a string",
                   cJSON_IsString(v) ? "\"" : "");
    case K_PATTERN: {
        if (!cJSON_IsString(v))
            return bad(w, "pattern must be a string");
        const char *why = pattern_problem(v->valuestring);
        return why ? bad(w, "pattern: %s by structured outputs", why) : 0;
    }
    case K_STRING:
        return cJSON_IsString(v) ? 0 : bad(w, "%s must be a string", k);
    case K_ARRAY:
        return cJSON_IsArray(v) ? 0 : bad(w, "%s must be an array", k);
    case K_BOOLEAN:
        return cJSON_IsBool(v) ? 0 : bad(w, "%s must be true or false", k);
    }
    return 0;
}

static int check_node(walk *w, const cJSON *node, int depth)
{
    if (depth > CLAUDE_SCHEMA_MAX_DEPTH)
        return bad(w, "schemas nested deeper than %d levels", CLAUDE_SCHEMA_MAX_DEPTH);
    if (!cJSON_IsObject(node))
        return bad(w, "must be a schema (a JSON object)%s",
                   cJSON_IsBool(node) ? ": the schemas true and false are not supported" : "");
    int types = 0;
    for (const cJSON *v = node->child; v; v = v->next) {
        /* The check reads a keyword's first copy, the API's JSON reader may keep the last. */
        if (v->string && member(w, node, v->string, 0) != v)
            return bad(w, "has the keyword \"%.64s\" twice (JSON readers differ on which counts: "
                          "write it once)", v->string);
        if (check_keyword(w, v, depth, &types))
            return -1;
    }
    /* [ref] section 9: "objects need additionalProperties: false"; [docs] "required and
     * additionalProperties (must be set to false for objects)". */
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(node, "additionalProperties");
    if (((types & T_OBJECT) || cJSON_GetObjectItemCaseSensitive(node, "properties")) && !cJSON_IsFalse(ap))
        return bad(w, "an object schema needs \"additionalProperties\": false (structured outputs refuse "
                      "an object open to other properties)");
    return 0;
}

static int target_index(const walk *w, const cJSON *node)
{
    const slot *sl = w->target_at.slots ? target_slot(w, node) : NULL;
    return sl && sl->parent ? (int)sl->pos : -1;
}

/* [ref] section 9, [docs] "Not supported: Recursive schemas": no $ref leads back to a schema
 * that holds it. A depth-first walk along the schemas and the references: a reference to a
 * node still on the way is a cycle. Only reference targets can close one, so only they are
 * coloured; each is walked once. */
static int find_cycle(walk *w, const cJSON *node, int hops)
{
    if (hops > 4 * CLAUDE_SCHEMA_MAX_DEPTH)
        return bad(w, "schemas nested deeper than %d levels through $ref", 4 * CLAUDE_SCHEMA_MAX_DEPTH);
    int t = target_index(w, node);
    if (t >= 0) {
        if (w->color[t] == 2)
            return 0;
        w->color[t] = 1;
    }
    for (const cJSON *v = node->child; v; v = v->next) {
        const char *k = v->string;
        /* A $ref may lead to a value no check walked (a default's): a member may be no keyword. */
        const struct keyword *kw = keyword_named(k);
        enum kind kind = kw ? kw->kind : K_ANY;
        if (kind == K_MAP || kind == K_LIST || kind == K_ITEMS) {
            if (each_schema(w, v, kind, find_cycle, hops + 1))
                return -1;
        } else if (kind == K_REF) {
            int schema = 0;
            const cJSON *to = cJSON_IsString(v) ? resolve(w, v->valuestring, &schema) : NULL;
            if (!schema)
                continue; /* the check refused it, unless no check walked it (a default's) */
            int ti = target_index(w, to);
            if (ti >= 0 && w->color[ti] == 1)
                return bad(w, "$ref \"%.100s\" leads back to a schema that holds it: recursive schemas "
                              "are not supported by structured outputs", v->valuestring);
            /* The place named from here on is the target's own: where + the pointer. */
            char *back = strdup(w->path);
            if (!back)
                return error_fail(w->err, "out_of_memory", 0, "out of memory");
            cut(w, w->where_len);
            for (const char *p = v->valuestring + 1; *p; p++)
                step(w, "%c", *p == '/' ? '.' : *p);
            int rc = find_cycle(w, to, hops + 1);
            if (rc == 0)
                snprintf(w->path, sizeof w->path, "%s", back);
            free(back);
            if (rc)
                return -1;
        }
    }
    if (t >= 0)
        w->color[t] = 2;
    return 0;
}

int claude_schema_check(const cJSON *schema, const char *where, size_t index_base, error_info *err)
{
    walk w = {.base = index_base, .err = err, .root = schema};
    snprintf(w.path, sizeof w.path, "%s", where ? where : "schema");
    w.where_len = strlen(w.path);
    if (!cJSON_IsObject(schema))
        return error_fail(err, "invalid_argument", 0, "%s must be a JSON Schema object ({\"type\": "
                          "\"object\", ...})", w.path);
    index_tree(&w); /* at once: the check looks up each member it walks, to find a name twice */
    int rc = check_node(&w, schema, 0);
    if (rc == 0) {
        /* [ref] section 7: a tool's input_schema is "JSON Schema, type object"; the answer of
         * JSON outputs is an object as well. A root that is a $ref is its target's (one
         * check_node found to be a schema), followed as far as schemas may nest. */
        const cJSON *root = schema;
        for (int hops = 0; root && hops <= CLAUDE_SCHEMA_MAX_DEPTH; hops++) {
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(root, "$ref");
            if (!cJSON_IsString(ref))
                break;
            root = resolve(&w, ref->valuestring, NULL);
        }
        const cJSON *type = root ? cJSON_GetObjectItemCaseSensitive(root, "type") : NULL;
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0)
            rc = bad(&w, "the schema's root must be of type \"object\"");
    }
    if (rc == 0 && w.ntargets) {
        if (!(w.color = calloc(w.ntargets, 1)))
            rc = error_fail(err, "out_of_memory", 0, "out of memory");
        else
            rc = find_cycle(&w, schema, 0);
    }
    free(w.targets);
    free(w.color);
    free(w.members.slots);
    free(w.target_at.slots);
    return rc;
}

int claude_schema_check_text(const char *json, size_t len, const char *where, size_t index_base,
                             error_info *err)
{
    cJSON *schema = json ? claude_json_parse(json, len) : NULL;
    if (!schema)
        return error_fail(err, "invalid_argument", 0, "%s must be a JSON Schema object ({\"type\": "
                          "\"object\", ...})", where ? where : "schema");
    int rc = claude_schema_check(schema, where, index_base, err);
    cJSON_Delete(schema);
    return rc;
}

/* The strict tools' schemas of a parsed tools array, each named "tools[i].FIELD". */
static int check_strict_tools(const cJSON *tools, const char *field, size_t index_base, error_info *err)
{
    int rc = 0;
    size_t i = 0;
    for (const cJSON *t = cJSON_IsArray(tools) ? tools->child : NULL; t && rc == 0; t = t->next, i++) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "strict")))
            continue;
        char where[64];
        snprintf(where, sizeof where, "tools[%zu].%s", i + index_base, field);
        rc = claude_schema_check(cJSON_GetObjectItemCaseSensitive(t, "input_schema"), where, index_base, err);
    }
    return rc;
}

/* ---- the memo ---- */

enum { MEMO_KEPT = 16 };

struct claude_schema_memo {
    quick_hash hash[MEMO_KEPT]; /* seeded per process: no text can be made to pass for another */
    size_t len[MEMO_KEPT];
    unsigned n, next;
    claude_schema_memo_stats stats;
};

claude_schema_memo *claude_schema_memo_new(void) { return calloc(1, sizeof(claude_schema_memo)); }

void claude_schema_memo_free(claude_schema_memo *m) { free(m); }

void claude_schema_memo_get_stats(const claude_schema_memo *m, claude_schema_memo_stats *out)
{
    if (m)
        *out = m->stats;
    else
        memset(out, 0, sizeof *out);
}

/* Whether text was found good before; *h its hash, for memo_keep. */
static int memo_has(claude_schema_memo *m, const char *text, size_t len, quick_hash *h)
{
    if (!m || !text)
        return 0;
    *h = quick_hash_of(text, len);
    for (unsigned i = 0; i < m->n; i++)
        if (m->len[i] == len && m->hash[i].lo == h->lo && m->hash[i].hi == h->hi) {
            m->stats.found++;
            return 1;
        }
    m->stats.walked++;
    return 0;
}

static void memo_keep(claude_schema_memo *m, const char *text, size_t len, quick_hash h)
{
    if (!m || !text)
        return;
    m->hash[m->next] = h;
    m->len[m->next] = len;
    m->next = (m->next + 1) % MEMO_KEPT;
    if (m->n < MEMO_KEPT)
        m->n++;
}

int claude_schema_memo_check(claude_schema_memo *m, const cJSON *schema, const char *text, size_t len,
                             const char *where, size_t index_base, error_info *err)
{
    quick_hash h = {0, 0};
    if (memo_has(m, text, len, &h))
        return 0;
    int rc = schema ? claude_schema_check(schema, where, index_base, err)
                    : claude_schema_check_text(text, len, where, index_base, err);
    if (rc == 0)
        memo_keep(m, text, len, h);
    return rc;
}

int claude_tools_memo_check(claude_schema_memo *m, const cJSON *tools, const char *text, size_t len,
                            const char *field, size_t index_base, error_info *err)
{
    quick_hash h = {0, 0};
    if (memo_has(m, text, len, &h))
        return 0;
    cJSON *parsed = NULL;
    if (!tools && text)
        tools = parsed = claude_json_parse(text, len);
    int rc = check_strict_tools(tools, field, index_base, err);
    cJSON_Delete(parsed);
    if (rc == 0)
        memo_keep(m, text, len, h);
    return rc;
}
