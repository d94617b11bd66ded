/* fuzz-link: engine/template/template.c engine/template/render.c engine/template/frontmatter.c engine/template/tvalue.c engine/claude/ engine/base/ */
/* The template parser and renderer: any text either fails to parse with an error, or renders
 * (with variables and a partial that is the template itself) to an error or an output. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    error_info err;
    error_clear(&err);
    template_def *t = template_parse((const char *)data, size, "fuzz.md", &err);
    if (!t)
        return 0;
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
