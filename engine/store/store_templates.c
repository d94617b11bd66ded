/* Prompt template versions and their usage statistics: argument checks, then the backend
 * (store_sqlite_templates.c). Rendering and hashing are engine/template's. */
#include "store_backend.h"

#include <math.h>
#include <stdlib.h>

static int check_name(const store_db *s, const char *name, const char *what, error_info *err)
{
    if (!s || !name || !*name)
        return store_invalid(err, "cannot %s: no store or no template name", what);
    return 0;
}

int store_template_put(store_db *s, const char *name, const char *content,
                       const char *variables_json, const char *hash_hex, int *version,
                       error_info *err)
{
    if (check_name(s, name, "store a template", err) != 0)
        return -1;
    if (!content || !hash_hex || !*hash_hex || !version)
        return store_invalid(err, "cannot store template %s: no content, no hash or no place "
                                  "for the version",
                             name);
    if (!s->ops->template_put)
        return store_unsupported(s, "store a template", err);
    /* The hash stays the original's: the same body is recognised as the same version. */
    store_scrubbed sc = {0};
    content = store_scrub(s, &sc, content, 0);
    if (store_scrub_failed(&sc, err) != 0)
        return -1;
    int rc = s->ops->template_put(s, name, content, variables_json, hash_hex, version, err);
    store_scrub_free(&sc);
    return rc;
}

int store_template_get(store_db *s, const char *name, int version, char **content,
                       int *version_out, error_info *err)
{
    if (content)
        *content = NULL;
    if (check_name(s, name, "read a template", err) != 0)
        return -1;
    if (!content)
        return store_invalid(err, "cannot read template %s: no place for the content", name);
    if (version < 0)
        return store_invalid(err, "cannot read template %s: version %d (give 0 for the latest)",
                             name, version);
    if (!s->ops->template_get)
        return store_unsupported(s, "read a template", err);
    int v = 0;
    if (s->ops->template_get(s, name, version, content, &v, err) != 0)
        return -1;
    if (version_out)
        *version_out = v;
    return 0;
}

int store_template_list(store_db *s, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !fn)
        return store_invalid(err, "cannot list templates: no store or no row callback");
    if (!s->ops->template_list)
        return store_unsupported(s, "list templates", err);
    return s->ops->template_list(s, fn, ud, err);
}

int store_template_history(store_db *s, const char *name, store_row_fn fn, void *ud,
                           error_info *err)
{
    if (check_name(s, name, "read a template's history", err) != 0)
        return -1;
    if (!fn)
        return store_invalid(err, "cannot read the history of template %s: no row callback",
                             name);
    if (!s->ops->template_history)
        return store_unsupported(s, "read a template's history", err);
    return s->ops->template_history(s, name, fn, ud, err);
}

int store_template_usage(store_db *s, const char *name, int version, int success,
                         int64_t input_tokens, int64_t output_tokens, double cost_usd,
                         double latency_ms, int cache_hit, error_info *err)
{
    if (check_name(s, name, "record a template's use", err) != 0)
        return -1;
    if (version < 1)
        return store_invalid(err, "cannot record a use of template %s: version %d (>= 1)",
                             name, version);
    if (success < -1 || success > 1)
        return store_invalid(err, "cannot record a use of template %s@%d: success %d (give 1, "
                                  "0 or -1 for unknown)",
                             name, version, success);
    if (input_tokens < 0 || output_tokens < 0)
        return store_invalid(err, "cannot record a use of template %s@%d: negative tokens",
                             name, version);
    if (!(cost_usd >= 0) || isinf(cost_usd) || !(latency_ms >= 0) || isinf(latency_ms))
        return store_invalid(err, "cannot record a use of template %s@%d: cost %g and latency "
                                  "%g must be finite and >= 0",
                             name, version, cost_usd, latency_ms);
    if (!s->ops->template_usage)
        return store_unsupported(s, "record a template's use", err);
    store_template_use u = {name,         version,  success,        1, success == 1, success == 0,
                            input_tokens, output_tokens, cost_usd,       latency_ms, cache_hit != 0};
    return s->ops->template_usage(s, &u, err);
}

int store_template_judge(store_db *s, const char *name, int version, int from, int to, error_info *err)
{
    if (check_name(s, name, "judge a template's use", err) != 0)
        return -1;
    if (version < 1 || from < -1 || from > 1 || to < -1 || to > 1)
        return store_invalid(err, "cannot judge a use of template %s@%d: outcomes %d -> %d (give 1, 0 or -1)",
                             name, version, from, to);
    if (!s->ops->template_usage)
        return store_unsupported(s, "judge a template's use", err);
    store_template_use u = {name, version, to, 0, (to == 1) - (from == 1), (to == 0) - (from == 0), 0, 0, 0, 0, 0};
    return s->ops->template_usage(s, &u, err);
}

int store_template_stats(store_db *s, const char *name, store_row_fn fn, void *ud,
                         error_info *err)
{
    if (check_name(s, name, "read a template's statistics", err) != 0)
        return -1;
    if (!fn)
        return store_invalid(err, "cannot read the statistics of template %s: no row callback",
                             name);
    if (!s->ops->template_stats)
        return store_unsupported(s, "read a template's statistics", err);
    return s->ops->template_stats(s, name, fn, ud, err);
}
