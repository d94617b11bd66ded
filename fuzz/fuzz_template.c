/* fuzz-link: engine/template/template.c engine/template/render.c engine/template/frontmatter.c engine/template/tvalue.c engine/claude/ engine/base/ */
/* The template parser and renderer: any text either fails to parse with an error, or renders
 * (with variables and a partial that is the template itself) to an error or an output. What
 * its front matter declares (engine/template/frontmatter.c) is what a call may use: an output
 * schema the schema check passes, tool names the API takes, variables named once. */
#include "base/json_parse.h"
#include "claude/schema.h"
#include "template/template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const template_def *self_partial(void *ud, const char *name)
{
    (void)name;
    return ud; /* every partial is the template itself: the depth limit must hold */
}

static tvalue *vars(void)
{
    tvalue *root = tvalue_map(), *list = tvalue_list(), *item = tvalue_map();
    tvalue_map_set(item, "name", tvalue_string("{{name}}", 8));
    tvalue_list_push(list, item);
    tvalue_list_push(list, tvalue_string("plain", 5));
    tvalue_map_set(root, "items", list);
    tvalue_map_set(root, "name", tvalue_string("CFO", 3));
    tvalue_map_set(root, "flag", tvalue_bool(1));
    return root;
}

static void check_front_matter(const template_def *t)
{
    const char *schema = template_output_schema(t), *tools = template_tools(t);
    if (schema) {
        error_info err;
        error_clear(&err);
        cJSON *o = json_parse_whole(schema, strlen(schema), &err);
        if (!cJSON_IsObject(o) || claude_schema_check(o, "output", 0, &err) != 0)
            abort();
        cJSON_Delete(o);
    }
    for (const char *p = tools; p && *p;) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
        if (n == 0 || n > 64 || (p[n] && p[n] != ','))
            abort();
        p += n + (p[n] == ',');
    }
    size_t n = template_nvars(t);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!template_var_name(t, i) || strcmp(template_var_name(t, i), template_var_name(t, j)) == 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    error_info err;
    error_clear(&err);
    template_def *t = template_parse((const char *)data, size, "fuzz.md", &err);
    if (!t)
        return 0;
    check_front_matter(t);
    tvalue *v = vars();
    char *out = NULL;
    size_t len = 0;
    if (template_render(t, v, self_partial, t, NULL, NULL, &out, &len, &err) == 0) {
        if (!out || out[len] != '\0')
            abort(); /* the output is NUL-terminated at the length reported */
    }
    free(out);
    tvalue_free(v);
    template_free(t);
    return 0;
}
