/* The JSON Schema subset structured outputs take: output_config.format.schema and the
 * input_schema of a tool marked strict. A schema outside it is refused by the API with a 400,
 * after the request was sent (and by every request of a batch); checked here instead, once,
 * where the schema enters nyx (a template's front matter, nyx.call's output, a strict tool); a
 * schema sent again and again is checked once (claude_schema_memo, one an engine). */
#ifndef NYX_CLAUDE_SCHEMA_H
#define NYX_CLAUDE_SCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Deepest nesting of schemas the check walks; deeper is refused. */
#define CLAUDE_SCHEMA_MAX_DEPTH 64

/* Whether schema is one structured outputs accept. where names it in messages ("output",
 * "tools[2].input"); index_base counts the members of anyOf, allOf and enum from 0 or 1 (a
 * Lua script's lists). Returns 0, or -1 with err an invalid_argument naming the place inside
 * the schema and the problem: "output.properties.age: minimum is not supported by structured
 * outputs (no numerical constraints)". */
int claude_schema_check(const cJSON *schema, const char *where, size_t index_base, error_info *err);

/* The same for a schema as JSON text (len bytes); text that is not JSON is refused too. */
int claude_schema_check_text(const char *json, size_t len, const char *where, size_t index_base,
                             error_info *err);

/* The schemas (and tool lists) found good lately, by a hash of their JSON text and its length:
 * a loop or a batch sends one schema with every call, which is checked once. A fixed number of
 * entries, the oldest forgotten first; nothing refused is remembered, so a changed schema is a
 * new text and checked afresh. One memo belongs to one thread (an engine's). */
typedef struct claude_schema_memo claude_schema_memo;

/* A new, empty memo; NULL when out of memory. */
claude_schema_memo *claude_schema_memo_new(void);
void claude_schema_memo_free(claude_schema_memo *m);

/* claude_schema_check(schema, where, index_base, err), unless text (len bytes: the schema as
 * the request sends it) was found good before. schema NULL: parsed from text when it must be
 * walked (text that is not JSON is refused, as claude_schema_check_text does). m NULL: no memo,
 * every schema is walked. */
int claude_schema_memo_check(claude_schema_memo *m, const cJSON *schema, const char *text, size_t len,
                             const char *where, size_t index_base, error_info *err);

/* The schema of each tool marked "strict": true in a tools array, unless the array's text (len
 * bytes, as the request sends it) was found good before. tools NULL: parsed from text when it
 * must be walked; text that is not a JSON array, and tools that are not objects, are left to
 * the request's own checks (request.h): this returns 0 for them. field is the member of a
 * tool the schema is named by in messages: "tools[2].input_schema", or "input" for a script's
 * tool tables ("tools[2].input"). m NULL: no memo. */
int claude_tools_memo_check(claude_schema_memo *m, const cJSON *tools, const char *text, size_t len,
                            const char *field, size_t index_base, error_info *err);

/* What the memo did: schemas or lists walked (not found in it) and found in it (not walked). */
typedef struct claude_schema_memo_stats {
    uint64_t walked, found;
} claude_schema_memo_stats;
void claude_schema_memo_get_stats(const claude_schema_memo *m, claude_schema_memo_stats *out);

#endif
