/* The engine's template library: created on first use with what it may ask of the engine
 * (the database, the log), and the public template functions of nyx.h behind result codes
 * and nyx_errmsg. */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"

#include "template/library.h"

#include <stdlib.h>
#include <string.h>

static store_db *host_store(void *ud, const char **why)
{
    nyx_engine *e = ud;
    if (!e->storage.db && engine_open_store(e) != 0)
        *why = e->errmsg;
    return e->storage.db;
}

static void host_warn(void *ud, const char *key, const char *message)
{
    engine_warn_once(ud, key, "%s", message);
}

static void template_file_changed(nyx_engine *e, const char *path)
{
    templates_changed(e->templates, path);
}

int engine_open_templates(nyx_engine *e, error_info *err)
{
    tpl_host host = {e, host_store, host_warn};
    e->templates = templates_new(&host, e->cfg.template_path, e->id_nonce ^ 0x9e3779b97f4a7c15ull, err);
    if (!e->templates)
        return -1;
    e->on_template_change = template_file_changed;
    return 0;
}

static int fail(nyx_engine *e, const error_info *err)
{
    engine_set_error(e, "%s", err->message);
    return error_code(err);
}

static int need(nyx_engine *e, const void *a, const void *b)
{
    if (!e)
        return NYX_EINVAL;
    if (!a || !b) {
        engine_set_error(e, "a template name and a place for the result are required");
        return NYX_EINVAL;
    }
    return NYX_OK;
}

int engine_template_render(nyx_engine *e, const char *name, const char *const *vars, char **out,
                           int *version)
{
    int rc = need(e, name, out);
    if (rc != NYX_OK)
        return rc;
    *out = NULL;
    error_info err;
    error_clear(&err);
    tvalue *map = templates_vars_from_pairs(vars, &err);
    if (!map)
        return fail(e, &err);
    rc = templates_render(e->templates, name, map, out, NULL, version, &err);
    tvalue_free(map);
    return rc == 0 ? NYX_OK : fail(e, &err);
}

int engine_template_get(nyx_engine *e, const char *name, char **text, int *version, char **source)
{
    int rc = need(e, name, text);
    if (rc != NYX_OK)
        return rc;
    *text = NULL;
    if (source)
        *source = NULL;
    error_info err;
    error_clear(&err);
    tpl_info info;
    if (templates_get(e->templates, name, &info, &err) != 0)
        return fail(e, &err);
    *text = strdup(template_text(info.t, NULL));
    if (source)
        *source = strdup(info.source);
    if (!*text || (source && !*source)) {
        free(*text);
        *text = NULL;
        if (source) {
            free(*source);
            *source = NULL;
        }
        engine_set_error(e, "out of memory");
        return NYX_ENOMEM;
    }
    if (version)
        *version = info.version;
    return NYX_OK;
}

int engine_template_diff(nyx_engine *e, const char *name, int v1, int v2, char **out)
{
    int rc = need(e, name, out);
    if (rc != NYX_OK)
        return rc;
    error_info err;
    error_clear(&err);
    *out = templates_diff(e->templates, name, v1, v2, &err);
    return *out ? NYX_OK : fail(e, &err);
}
