#define _POSIX_C_SOURCE 200809L
/* The JSON Schema subset of structured outputs (claude/schema.h): every rule refuses what the
 * API refuses, naming the place inside the schema and the problem, and lets through what the
 * API takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "claude/schema.h"

/* The check of a schema as text, its error left in *err; 0 when accepted. */
static int check_text(const char *json, size_t base, error_info *err)
{
    *err = cleared_error();
    return claude_schema_check_text(json, strlen(json), "output", base, err);
}

/* Each schema of good passes. */
static void expect_accepted(const char *const *good, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK_ROW("good[%zu]", i);
        error_info err;
        CHECK_INT(check_text(good[i], 0, &err), 0);
        if (err.message[0])
            fprintf(stderr, "  refused: %s\n", err.message);
    }
    CHECK_ROW_END();
}

/* A schema refused, with the whole message naming the place and the problem. */
typedef struct refusal {
    const char *schema;
    const char *message;
} refusal;

static void expect_refused(const refusal *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK_ROW("cases[%zu]", i);
        error_info err;
        CHECK_INT(check_text(cases[i].schema, 0, &err), -1);
        CHECK_STR(err.type, "invalid_argument");
        CHECK_STR(err.message, cases[i].message);
    }
    CHECK_ROW_END();
}

/* Accepted: what the structured-outputs page lists as supported. */
static void test_accepted(void)
{
    static const char *const good[] = {
        /* a root $ref leading to another: the root is the object at the chain's end */
        "{\"$ref\":\"#/$defs/a\",\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"type\":\"object\","
        "\"additionalProperties\":false}}}",
        "{\"type\":\"object\",\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"who\"},"
        "\"age\":{\"type\":[\"integer\",\"null\"]},\"tags\":{\"type\":\"array\",\"minItems\":1,"
        "\"items\":{\"type\":\"string\",\"enum\":[\"a\",\"b\",null,1,true]}}},"
        "\"required\":[\"name\"],\"additionalProperties\":false}",
        /* formats, pattern, const, default, title */
        "{\"type\":\"object\",\"title\":\"T\",\"properties\":{\"when\":{\"type\":\"string\",\"format\":"
        "\"date-time\"},\"id\":{\"type\":\"string\",\"format\":\"uuid\",\"pattern\":\"^[a-f0-9-]+$\"},"
        "\"k\":{\"const\":\"x\"},\"n\":{\"type\":\"number\",\"default\":3}},\"additionalProperties\":false}",
        /* anyOf, allOf, $defs and definitions with local references (not recursive) */
        "{\"type\":\"object\",\"$defs\":{\"pt\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
        "\"number\"}},\"additionalProperties\":false}},\"definitions\":{\"s\":{\"type\":\"string\"}},"
        "\"properties\":{\"a\":{\"$ref\":\"#/$defs/pt\"},\"b\":{\"anyOf\":[{\"$ref\":\"#/definitions/s\"},"
        "{\"type\":\"null\"}]},\"c\":{\"allOf\":[{\"type\":\"string\"}]},\"d\":{\"type\":\"array\","
        "\"items\":{\"$ref\":\"#/$defs/pt\"}}},\"additionalProperties\":false}",
        /* a root that is a reference to an object schema (what pydantic's RootModel writes) */
        "{\"$ref\":\"#/$defs/r\",\"$defs\":{\"r\":{\"type\":\"object\",\"additionalProperties\":false}}}",
        /* the same definition reached twice is no recursion */
        "{\"type\":\"object\",\"$defs\":{\"a\":{\"type\":\"string\"},\"b\":{\"anyOf\":[{\"$ref\":"
        "\"#/$defs/a\"},{\"$ref\":\"#/$defs/a\"}]}},\"properties\":{\"x\":{\"$ref\":\"#/$defs/b\"},"
        "\"y\":{\"$ref\":\"#/$defs/b\"}},\"additionalProperties\":false}",
        /* a character class may hold what outside one would be a backreference or boundary */
        ("{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"string\",\"pattern\":\"[\\\\b\\\\1]\\\\\\\\1\"}},"
         "\"additionalProperties\":false}"),
    };
    expect_accepted(good, sizeof good / sizeof *good);
}

/* Refused, each with the place and the problem named. */
static void test_refused(void)
{
    static const refusal cases[] = {
        {"[1]", "output must be a JSON Schema object ({\"type\": \"object\", ...})"},
        {"{\"type\":", "output must be a JSON Schema object ({\"type\": \"object\", ...})"},
        {"{\"type\":\"array\",\"items\":{\"type\":\"string\"}}",
         "output: the schema's root must be of type \"object\""},
        {"{\"anyOf\":[{\"type\":\"object\",\"additionalProperties\":false}]}",
         "output: the schema's root must be of type \"object\""},
        {"{\"type\":\"object\"}",
         "output: an object schema needs \"additionalProperties\": false (structured outputs refuse an "
         "object open to other properties)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{}}},"
         "\"additionalProperties\":false}",
         "output.properties.a: an object schema needs \"additionalProperties\": false (structured outputs "
         "refuse an object open to other properties)"},
        {"{\"type\":\"object\",\"additionalProperties\":true}",
         "output: additionalProperties must be false: structured outputs take no other value"},
        {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}",
         "output: additionalProperties must be false: structured outputs take no other value"},
        {"{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\",\"minimum\":0}},"
         "\"additionalProperties\":false}",
         "output.properties.age: minimum is not supported by structured outputs (no numerical constraints)"},
        {"{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"maxLength\":9}},"
         "\"additionalProperties\":false}",
         "output.properties.s: maxLength is not supported by structured outputs (no string constraints)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"maxItems\":3}},"
         "\"additionalProperties\":false}",
         "output.properties.a: maxItems is not supported by structured outputs (no array constraints "
         "beyond minItems 0 or 1)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"minItems\":2}},"
         "\"additionalProperties\":false}",
         "output.properties.a: minItems must be 0 or 1: structured outputs take no other array bound"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strng\"}},\"additionalProperties\":false}",
         "output.properties.a: type \"strng\" is not a JSON Schema type (object, array, string, integer, "
         "number, boolean or null)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"string\",7]}},\"additionalProperties\":false}",
         "output.properties.a: type must be a type name or an array of type names"},
        {"{\"type\":\"object\",\"requird\":[\"a\"],\"additionalProperties\":false}",
         "output: unknown keyword \"requird\" (did you mean \"required\"?)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"oneOf\":[{\"type\":\"string\"}]}},"
         "\"additionalProperties\":false}",
         "output.properties.a: oneOf is not supported by structured outputs (use anyOf)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"strin\"}]}},"
         "\"additionalProperties\":false}",
         "output.properties.a.anyOf[1]: type \"strin\" is not a JSON Schema type (object, array, string, "
         "integer, number, boolean or null)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[\"x\",{\"y\":1}]}},\"additionalProperties\":false}",
         "output.properties.a: enum[1] is an object: enum takes strings, numbers, booleans and null only"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"format\":\"ipv5\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: format \"ipv5\" is not supported (structured outputs take date-time, time, "
         "date, duration, email, hostname, uri, ipv4, ipv6 and uuid)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: pattern: backreferences (\\1, \\2, ...) are not supported by structured outputs"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^(?!x)\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: pattern: lookahead assertions ((?=...), (?!...)) are not supported by "
         "structured outputs"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"\\\\bword\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: pattern: word boundaries (\\b, \\B) are not supported by structured outputs"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}},"
         "\"additionalProperties\":false}",
         "output.properties.a: items must be one schema: tuples (an array of schemas) are not supported"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"https://example.org/s.json\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: $ref \"https://example.org/s.json\" is external: only references inside the "
         "schema (\"#/$defs/NAME\") are supported"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/none\"}},\"additionalProperties\":false}",
         "output.properties.a: $ref \"#/$defs/none\" names nothing in the schema"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/required\"}},\"required\":[\"a\"],"
         "\"additionalProperties\":false}",
         "output.properties.a: $ref \"#/required\" names a value that is not a schema (a JSON object)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/properties\"}},\"additionalProperties\":false}",
         "output.properties.a: $ref \"#/properties\" names a value that is not a schema (a JSON object)"},
        /* a default's object is no schema, whatever it holds: following it crashed the check */
        {"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":{\"type\":\"object\","
         "\"additionalProperties\":false,\"default\":{\"$ref\":5}},\"b\":{\"$ref\":\"#/properties/a/default\"}}}",
         "output.properties.b: $ref \"#/properties/a/default\" names a value that is not a schema (a JSON object)"},
        {"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":{\"type\":\"object\","
         "\"additionalProperties\":false,\"default\":{\"$ref\":\"#/nope\"}},\"b\":{\"$ref\":\"#/properties/a/default\"}}}",
         "output.properties.b: $ref \"#/properties/a/default\" names a value that is not a schema (a JSON object)"},
        /* a reference into a list that holds no schema */
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"$ref\":\"#/required/0\"}},"
         "\"required\":[\"a\"],\"additionalProperties\":false}",
         "output.properties.b: $ref \"#/required/0\" names a value that is not a schema (a JSON object)"},
        {"{\"type\":\"object\",\"$defs\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"a\":{\"allOf\":"
         "[{\"$ref\":\"#/$defs/s\"}]}},\"additionalProperties\":false}",
         "output.properties.a.allOf[0]: allOf with $ref is not supported by structured outputs"},
        {"{\"type\":\"object\",\"properties\":{\"a\":true},\"additionalProperties\":false}",
         "output.properties.a: must be a schema (a JSON object): the schemas true and false are not supported"},
        {"{\"type\":\"object\",\"properties\":{\"a b\":{\"type\":\"object\"}},\"additionalProperties\":false}",
         "output.properties[\"a b\"]: an object schema needs \"additionalProperties\": false (structured "
         "outputs refuse an object open to other properties)"},
        /* recursion: a definition that holds a reference to itself, directly or through others */
        {"{\"type\":\"object\",\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":"
         "\"#/$defs/node\"}},\"additionalProperties\":false}},\"properties\":{\"head\":{\"$ref\":\"#/$defs/node\"}},"
         "\"additionalProperties\":false}",
         "output.$defs.node.properties.next: $ref \"#/$defs/node\" leads back to a schema that holds it: "
         "recursive schemas are not supported by structured outputs"},
        {"{\"type\":\"object\",\"properties\":{\"child\":{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#\"}]}},"
         "\"additionalProperties\":false}",
         "output.properties.child.anyOf[1]: $ref \"#\" leads back to a schema that holds it: recursive "
         "schemas are not supported by structured outputs"},
        {"{\"type\":\"object\",\"$defs\":{\"a\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/b\"}},"
         "\"b\":{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"#/$defs/a\"}]}},\"additionalProperties\":false}",
         "output.$defs.b.anyOf[1]: $ref \"#/$defs/a\" leads back to a schema that holds it: "
         "recursive schemas are not supported by structured outputs"},
        /* a name twice: the check would read the first, the API's reader may keep the last */
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"type\":\"object\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: has the keyword \"type\" twice (JSON readers differ on which counts: write it once)"},
        {"{\"type\":\"object\",\"$defs\":{\"n\":{\"type\":\"string\"},\"n\":{\"type\":\"object\","
         "\"properties\":{\"x\":{\"$ref\":\"#/$defs/n\"}},\"additionalProperties\":false}},"
         "\"properties\":{\"x\":{\"$ref\":\"#/$defs/n\"}},\"additionalProperties\":false}",
         "output.$defs.n: is named twice in $defs (JSON readers differ on which counts: write it once)"},
        {"{\"type\":\"object\",\"additionalProperties\":false,\"additionalProperties\":true}",
         "output: has the keyword \"additionalProperties\" twice (JSON readers differ on which counts: write it once)"},
    };
    expect_refused(cases, sizeof cases / sizeof *cases);
}

/* A Lua script counts from 1: the place named counts as it does. */
static void test_index_base(void)
{
    error_info err;
    CHECK_INT(check_text("{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"x\"}]}},"
                         "\"additionalProperties\":false}",
                         1, &err),
              -1);
    CHECK_CONTAINS(err.message, "output.properties.a.anyOf[1]: type \"x\"");
}

/* The annotations schema writers emit constrain nothing and pass, each with the type of value
 * JSON Schema gives it; a misspelt keyword beside them is still refused. */
static void test_annotations(void)
{
    static const char *const good[] = {
        /* zod-to-json-schema's root */
        "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
        "\"additionalProperties\":false}",
        "{\"$id\":\"https://example.org/person\",\"type\":\"object\",\"additionalProperties\":false}",
        "{\"$comment\":\"made by hand\",\"type\":\"object\",\"additionalProperties\":false}",
        /* Pydantic's examples, of any values, on a property and at the root */
        "{\"type\":\"object\",\"examples\":[{\"age\":3}],\"properties\":{\"age\":{\"type\":\"integer\","
        "\"examples\":[1,2]}},\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"old\":{\"type\":\"string\",\"deprecated\":true}},"
        "\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"readOnly\":true}},"
        "\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"pw\":{\"type\":\"string\",\"writeOnly\":false}},"
        "\"additionalProperties\":false}",
    };
    expect_accepted(good, sizeof good / sizeof *good);
    static const refusal cases[] = {
        {"{\"$schema\":7,\"type\":\"object\",\"additionalProperties\":false}", "output: $schema must be a string"},
        {"{\"$id\":true,\"type\":\"object\",\"additionalProperties\":false}", "output: $id must be a string"},
        {"{\"$comment\":[],\"type\":\"object\",\"additionalProperties\":false}",
         "output: $comment must be a string"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"examples\":\"x\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: examples must be an array"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"deprecated\":\"yes\"}},"
         "\"additionalProperties\":false}",
         "output.properties.a: deprecated must be true or false"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"readOnly\":1}},"
         "\"additionalProperties\":false}",
         "output.properties.a: readOnly must be true or false"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"writeOnly\":null}},"
         "\"additionalProperties\":false}",
         "output.properties.a: writeOnly must be true or false"},
        /* beside the annotations, a misspelling and the documented refusals stand */
        {"{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\",\"requird\":[],"
         "\"examples\":[],\"additionalProperties\":false}",
         "output: unknown keyword \"requird\" (did you mean \"required\"?)"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"readonly\":true}},"
         "\"additionalProperties\":false}",
         "output.properties.a: unknown keyword \"readonly\" (did you mean \"readOnly\"?)"},
        /* a name like no keyword it takes: the list of those it takes */
        {"{\"type\":\"object\",\"x-order\":1,\"additionalProperties\":false}",
         "output: unknown keyword \"x-order\" (structured outputs take type, properties, required, "
         "additionalProperties, items, minItems, enum, const, anyOf, allOf, $ref, $defs, definitions, "
         "format, pattern, default, description and title, and the annotations $schema, $id, $comment, "
         "examples, deprecated, readOnly and writeOnly)"},
        {"{\"$comment\":\"x\",\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\","
         "\"examples\":[5],\"minimum\":0}},\"additionalProperties\":false}",
         "output.properties.n: minimum is not supported by structured outputs (no numerical constraints)"},
    };
    expect_refused(cases, sizeof cases / sizeof *cases);
}

/* The memo walks a schema (or a tools list) once, by its text: the same text again is found,
 * a changed one is walked, a refused one is never remembered, and the oldest of more than it
 * keeps is forgotten. */
static void test_memo(void)
{
    claude_schema_memo *m = claude_schema_memo_new();
    REQUIRE(m);
    claude_schema_memo_stats st;
    error_info err = cleared_error();
    const char *good = "{\"type\":\"object\",\"additionalProperties\":false}";
    for (int i = 0; i < 3; i++)
        CHECK_INT(claude_schema_memo_check(m, NULL, good, strlen(good), "output", 1, &err), 0);
    claude_schema_memo_get_stats(m, &st);
    CHECK_INT((int)st.walked, 1);
    CHECK_INT((int)st.found, 2);
    /* The same schema changed is another text: walked, and refused every time. */
    const char *bad = "{\"type\":\"object\",\"additionalProperties\":false,\"minProperties\":1}";
    for (int i = 0; i < 2; i++) {
        err = cleared_error();
        CHECK_INT(claude_schema_memo_check(m, NULL, bad, strlen(bad), "output", 1, &err), -1);
        CHECK_STR(err.message, "output: minProperties is not supported by structured outputs (objects take "
                               "properties, required and additionalProperties: false)");
    }
    /* A parsed tree is walked as given; its text is the key. */
    cJSON *tree = cJSON_Parse(bad);
    REQUIRE(tree);
    err = cleared_error();
    CHECK_INT(claude_schema_memo_check(m, tree, good, strlen(good), "output", 1, &err), 0); /* found: not walked */
    cJSON_Delete(tree);
    claude_schema_memo_get_stats(m, &st);
    CHECK_INT((int)st.walked, 3);
    CHECK_INT((int)st.found, 3);

    /* A tools list: its strict tools' schemas, named by the field given, counted from 1. */
    const char *tools = "[{\"name\":\"a\",\"input_schema\":{\"type\":\"object\"}},"
                        "{\"name\":\"b\",\"strict\":true,\"input_schema\":{\"type\":\"object\","
                        "\"additionalProperties\":false}}]";
    const char *bad_tools = "[{\"name\":\"a\",\"input_schema\":{\"type\":\"object\"}},"
                            "{\"name\":\"b\",\"strict\":true,\"input_schema\":{\"type\":\"object\"}}]";
    for (int i = 0; i < 3; i++) {
        err = cleared_error();
        CHECK_INT(claude_tools_memo_check(m, NULL, tools, strlen(tools), "input_schema", 1, &err), 0);
    }
    err = cleared_error();
    CHECK_INT(claude_tools_memo_check(m, NULL, bad_tools, strlen(bad_tools), "input", 1, &err), -1);
    CHECK_CONTAINS(err.message, "tools[2].input: an object schema needs \"additionalProperties\": false");
    claude_schema_memo_get_stats(m, &st);
    CHECK_INT((int)st.walked, 5);
    CHECK_INT((int)st.found, 5);

    /* Seventeen others found good push the first out: it is walked again. */
    char text[128];
    for (int i = 0; i < 17; i++) {
        snprintf(text, sizeof text, "{\"type\":\"object\",\"title\":\"t%d\",\"additionalProperties\":false}", i);
        CHECK_INT(claude_schema_memo_check(m, NULL, text, strlen(text), "output", 1, &err), 0);
    }
    CHECK_INT(claude_schema_memo_check(m, NULL, good, strlen(good), "output", 1, &err), 0);
    snprintf(text, sizeof text, "{\"type\":\"object\",\"title\":\"t%d\",\"additionalProperties\":false}", 16);
    CHECK_INT(claude_schema_memo_check(m, NULL, text, strlen(text), "output", 1, &err), 0);
    claude_schema_memo_get_stats(m, &st);
    CHECK_INT((int)st.walked, 5 + 17 + 1);
    CHECK_INT((int)st.found, 5 + 1);
    claude_schema_memo_free(m);

    /* Without a memo every schema is walked. */
    err = cleared_error();
    CHECK_INT(claude_schema_memo_check(NULL, NULL, bad, strlen(bad), "output", 1, &err), -1);
    CHECK_INT(claude_schema_memo_check(NULL, NULL, good, strlen(good), "output", 1, &err), 0);
    err = cleared_error();
    CHECK_INT(claude_tools_memo_check(NULL, NULL, bad_tools, strlen(bad_tools), "input_schema", 0, &err), -1);
    CHECK_CONTAINS(err.message, "tools[1].input_schema: an object schema needs");
}

/* Nesting past the bound is refused, not walked down the C stack. */
static void test_depth(void)
{
    char *deep = malloc(40 * 200 + 200);
    REQUIRE(deep);
    size_t n = 0;
    n += (size_t)sprintf(deep + n, "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(deep + n, "{\"type\":\"array\",\"items\":");
    n += (size_t)sprintf(deep + n, "{\"type\":\"string\"}");
    for (int i = 0; i < 100; i++)
        deep[n++] = '}';
    n += (size_t)sprintf(deep + n, "}}");
    error_info err;
    CHECK_INT(check_text(deep, 0, &err), -1);
    CHECK_CONTAINS(err.message, "schemas nested deeper than 64 levels");
    free(deep);
}

/* A schema of many definitions, each named by a reference, is checked in time in its size: each
 * step of a reference and each target is found at once, where a search through the members and
 * the targets took 20,000 of them 10 s. The recursion check still finds the one cycle, at the
 * end. A list index is read as the number it is written as: 4294967297 is no item 1. */
static void test_many_references(void)
{
    enum { MANY = 20000 };
    char *s = malloc((size_t)MANY * 80 + 400);
    REQUIRE(s);
    size_t n = (size_t)sprintf(s, "{\"type\":\"object\",\"$defs\":{");
    for (int i = 0; i < MANY; i++)
        n += (size_t)sprintf(s + n, "%s\"d%d\":{\"type\":\"string\"}", i ? "," : "", i);
    size_t defs_end = n;
    n += (size_t)sprintf(s + n, "},\"properties\":{");
    for (int i = 0; i < MANY; i++)
        n += (size_t)sprintf(s + n, "%s\"p%d\":{\"$ref\":\"#/$defs/d%d\"}", i ? "," : "", i, i);
    sprintf(s + n, "},\"additionalProperties\":false}");
    error_info err;
    CHECK_INT(check_text(s, 0, &err), 0);
    CHECK_STR(err.message, "");

    /* a last definition that holds a reference to itself */
    char *cyclic = malloc(strlen(s) + 200);
    REQUIRE(cyclic);
    memcpy(cyclic, s, defs_end);
    sprintf(cyclic + defs_end, ",\"loop\":{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/$defs/loop\"}]}%s", s + defs_end);
    CHECK_INT(check_text(cyclic, 0, &err), -1);
    CHECK_STR(err.message, "output.$defs.loop.anyOf[1]: $ref \"#/$defs/loop\" leads back to a schema that holds "
                           "it: recursive schemas are not supported by structured outputs");
    free(cyclic);
    free(s);

    CHECK_INT(check_text("{\"type\":\"object\",\"properties\":{\"u\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":"
                         "\"number\"}]},\"w\":{\"$ref\":\"#/properties/u/anyOf/4294967297\"}},"
                         "\"additionalProperties\":false}",
                         0, &err),
              -1);
    CHECK_STR(err.message, "output.properties.w: $ref \"#/properties/u/anyOf/4294967297\" names nothing in the schema");
    CHECK_INT(check_text("{\"type\":\"object\",\"properties\":{\"u\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":"
                         "\"number\"}]},\"w\":{\"$ref\":\"#/properties/u/anyOf/1\"}},\"additionalProperties\":false}",
                         0, &err),
              0);
}

int main(void)
{
    test_accepted();
    test_refused();
    test_index_base();
    test_depth();
    test_many_references();
    test_annotations();
    test_memo();
    return check_failures;
}
