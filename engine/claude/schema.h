/* The JSON Schema subset structured outputs take: output_config.format.schema and the
 * input_schema of a tool marked strict. A schema outside it is refused by the API with a 400,
 * after the request was sent (and by every request of a batch); checked here instead, once,
 * where the schema enters nyx (a template's front matter, nyx.call's output, a strict tool). */
#ifndef NYX_CLAUDE_SCHEMA_H
#define NYX_CLAUDE_SCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>

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

/* The schema of each tool marked "strict": true in a JSON tools array (len bytes), named
 * "tools[i].input_schema". Text that is not a JSON array, or tools that are not objects, are
 * left to the request's own checks (request.h): this returns 0 for them. */
int claude_tools_check_strict(const char *tools_json, size_t len, size_t index_base, error_info *err);

#endif
