/* The model table as rows (see query_models.h): what `nyx models` prints. */
#define _POSIX_C_SOURCE 200809L
#include "query_models.h"
#include "base/array.h"

#include "base/clock.h"
#include "cost/cost.h"
#include "cost/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void prices_text(char *buf, size_t n, const price_set *p)
{
    snprintf(buf, n, "in %g, out %g, write 5m %g, write 1h %g, read %g", p->input, p->output, p->cache_write_5m,
             p->cache_write_1h, p->cache_read);
}

static void min_text(char *buf, size_t n, const model_info *md)
{
    snprintf(buf, n, "%lld%s", (long long)md->min_cache_tokens,
             md->min_cache_learned ? " (learned)" : md->min_cache_confirmed ? "" : "?");
}

static void bits_text(char *buf, size_t n, unsigned bits, const char *const *names, size_t nnames)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nnames && used < n; i++)
        if (bits & (1u << i))
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", names[i]);
    if (!used)
        snprintf(buf, n, "none");
}

static int list_row(const model_info *md, double now, store_row_fn fn, void *ud)
{
    static const char *const names[] = {"model", "lifecycle", "input", "output", "write_5m", "write_1h",
                                        "read", "min_cache", "context", "notes"};
    const price_row *row = models_row_at(md, now);
    char p[5][32], minc[40], ctx[32], notes[300];
    const double v[5] = {row ? row->p.input : 0, row ? row->p.output : 0, row ? row->p.cache_write_5m : 0,
                         row ? row->p.cache_write_1h : 0, row ? row->p.cache_read : 0};
    for (int i = 0; i < 5; i++)
        snprintf(p[i], sizeof p[i], row ? "%g" : "-", v[i]);
    min_text(minc, sizeof minc, md);
    snprintf(ctx, sizeof ctx, "%lld", (long long)md->context_window);
    size_t used = 0;
    notes[0] = '\0';
#define NOTE(...) (used += used < sizeof notes ? (size_t)snprintf(notes + used, sizeof notes - used, __VA_ARGS__) : 0)
    if (row && row->from_date[0])
        NOTE("%sfrom %s", used ? "; " : "", row->from_date);
    for (size_t i = 0; row && i < row->ntiers; i++)
        NOTE("%sover %lld prompt tokens: in %g, out %g", used ? "; " : "",
             (long long)row->tiers[i].above_prompt_tokens, row->tiers[i].p.input, row->tiers[i].p.output);
    if (md->has_fast)
        NOTE("%sfast: in %g, out %g", used ? "; " : "", md->fast.input, md->fast.output);
    if (md->lifecycle >= NYX_LIFE_DEPRECATED && md->retires)
        NOTE("%s%s %s", used ? "; " : "", md->lifecycle == NYX_LIFE_RETIRED ? "retired" : "retires", md->retires);
    if (md->lifecycle >= NYX_LIFE_DEPRECATED && md->replacement)
        NOTE("%suse %s", used ? "; " : "", md->replacement);
#undef NOTE
    const char *values[] = {md->id, models_lifecycle_name(md->lifecycle), p[0], p[1], p[2], p[3], p[4], minc,
                            md->context_window ? ctx : "-", notes[0] ? notes : NULL};
    char types[] = "ttrrrrrtit";
    if (!row)
        memset(types + 2, ROW_TEXT, 5); /* "-": no price */
    if (!md->context_window)
        types[8] = ROW_TEXT;
    return fn(ud, 10, names, values, types);
}

/* One (field, value) row. */
static int field(store_row_fn fn, void *ud, const char *name, const char *value)
{
    static const char *const names[] = {"field", "value"};
    const char *values[] = {name, value};
    return fn(ud, 2, names, values, "tt");
}

static int show(const model_info *md, store_row_fn fn, void *ud)
{
    static const char *const think[] = {"adaptive", "enabled", "disabled"};
    static const char *const sample[] = {"temperature", "top_p", "top_k"};
    char buf[400], key[64];
    int stop = field(fn, ud, "id", md->id);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < md->naliases && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "", md->aliases[i]);
    stop = stop || field(fn, ud, "aliases", md->naliases ? buf : "none");
    stop = stop || field(fn, ud, "family", md->family ? md->family : "-");
    stop = stop || field(fn, ud, "lifecycle", models_lifecycle_name(md->lifecycle));
    stop = stop || field(fn, ud, "deprecated", md->deprecated ? md->deprecated : "-");
    stop = stop || field(fn, ud, "retires", md->retires ? md->retires : "-");
    stop = stop || field(fn, ud, "replacement", md->replacement ? md->replacement : "-");
    for (size_t r = 0; r < md->nrows && !stop; r++) {
        snprintf(key, sizeof key, "prices from %s", md->rows[r].from_date[0] ? md->rows[r].from_date : "the start");
        prices_text(buf, sizeof buf, &md->rows[r].p);
        stop = field(fn, ud, key, buf);
        for (size_t t = 0; t < md->rows[r].ntiers && !stop; t++) {
            snprintf(key, sizeof key, "  over %lld prompt tokens", (long long)md->rows[r].tiers[t].above_prompt_tokens);
            prices_text(buf, sizeof buf, &md->rows[r].tiers[t].p);
            stop = field(fn, ud, key, buf);
        }
    }
    if (!md->has_price)
        stop = stop || field(fn, ud, "prices", "unknown");
    if (md->has_fast)
        prices_text(buf, sizeof buf, &md->fast);
    stop = stop || field(fn, ud, "fast mode", md->has_fast ? buf : "none");
    snprintf(buf, sizeof buf, md->batch_factor > 0 ? "%g x every price" : "none", md->batch_factor);
    stop = stop || field(fn, ud, "batch", buf);
    used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < md->ngeo && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %g x", i ? ", " : "", md->geo[i].name,
                                 md->geo[i].factor);
    stop = stop || field(fn, ud, "inference_geo", md->ngeo ? buf : "no factor");
    min_text(buf, sizeof buf, md);
    stop = stop || field(fn, ud, "min_cache_tokens", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)md->context_window);
    stop = stop || field(fn, ud, "context_window", md->context_window ? buf : "-");
    snprintf(buf, sizeof buf, "%lld", (long long)md->max_output);
    stop = stop || field(fn, ud, "max_output", md->max_output ? buf : "-");
    bits_text(buf, sizeof buf, md->thinking, think, 3);
    stop = stop || field(fn, ud, "thinking", buf);
    bits_text(buf, sizeof buf, md->sampling, sample, 3);
    stop = stop || field(fn, ud, "sampling", buf);
    stop = stop || field(fn, ud, "forced tool_choice with thinking", md->forced_tool_choice_with_thinking ? "yes" : "no");
    stop = stop || field(fn, ud, "default_effort", md->default_effort ? md->default_effort : "-");
    stop = stop || field(fn, ud, "cache reads count toward ITPM", md->itpm_counts_cache_reads ? "yes" : "no");
    used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < md->nunconfirmed && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "", md->unconfirmed[i]);
    stop = stop || field(fn, ud, "unconfirmed", md->nunconfirmed ? buf : "none");
    return stop;
}

int query_models(nyx_engine *e, const char *name, store_row_fn fn, void *ud, error_info *err)
{
    if (!engine_models(e)) {
        error_set(err, "invalid_state", 0, "the model table did not load");
        return -1;
    }
    if (name && *name) {
        const model_info *md = models_find(engine_models(e), name);
        if (!md) {
            error_set(err, "invalid_argument", 0,
                          "model \"%.100s\" is not in the model table (nyx models lists it); add it with NYX_MODELS",
                          name);
            return -1;
        }
        show(md, fn, ud);
        return 0;
    }
    double now = clock_wall_s();
    for (size_t i = 0; i < models_count(engine_models(e)); i++)
        if (list_row(models_at(engine_models(e), i), now, fn, ud))
            break;
    return 0;
}

/* ---- repricing stored calls ---- */

typedef struct reprice_group {
    char model[128];
    long calls, unpriced;
    double recorded, table;
} reprice_group;

typedef struct reprice_acc {
    nyx_engine *e;
    reprice_group *g;
    size_t n, cap;
    int failed;
} reprice_acc;

static int64_t num(const char *v) { return v ? strtoll(v, NULL, 10) : 0; }

static reprice_group *group_of(reprice_acc *a, const char *model)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->g[i].model, model) == 0)
            return &a->g[i];
    reprice_group *g = array_room(a->g, a->n, &a->cap, sizeof *g, 8);
    if (!g)
        return NULL;
    a->g = g;
    g = &a->g[a->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->model, sizeof g->model, "%s", model);
    return g;
}

static int reprice_row(void *ud, int ncols, const char *const *names, const char *const *values,
                       const char *types)
{
    (void)types;
    reprice_acc *a = ud;
    const char *model = rows_value(ncols, names, values, "model");
    const char *cost = rows_value(ncols, names, values, "cost");
    const char *w5 = rows_value(ncols, names, values, "cache_write_5m");
    const char *w1 = rows_value(ncols, names, values, "cache_write_1h");
    reprice_group *g = group_of(a, model ? model : "(none)");
    if (!g) {
        a->failed = 1;
        return 1;
    }
    claude_usage u;
    memset(&u, 0, sizeof u);
    u.input_tokens = num(rows_value(ncols, names, values, "input"));
    u.output_tokens = num(rows_value(ncols, names, values, "output"));
    u.cache_creation_input_tokens = num(rows_value(ncols, names, values, "cache_write"));
    u.cache_read_input_tokens = num(rows_value(ncols, names, values, "cache_read"));
    if (w5 || w1) {
        u.has_cache_creation_detail = 1;
        u.cache_creation_5m = num(w5);
        u.cache_creation_1h = num(w1);
    }
    const char *at = rows_value(ncols, names, values, "created_at");
    call_cost c;
    g->calls++;
    if (cost)
        g->recorded += strtod(cost, NULL);
    /* The table as loaded now, at the row in force when the call was made. */
    if (cost_of_usage_at(models_find(engine_models(a->e), model), &u, at ? strtod(at, NULL) : 0, 0, &c) == 0)
        g->table += c.cost_usd;
    else
        g->unpriced++;
    return 0;
}

static int reprice_emit(const reprice_group *g, store_row_fn fn, void *ud)
{
    static const char *const names[] = {"model", "calls", "recorded_usd", "table_usd", "difference_usd",
                                        "unpriced_calls"};
    char calls[32], rec[40], tab[40], diff[40], unp[32];
    snprintf(calls, sizeof calls, "%ld", g->calls);
    snprintf(rec, sizeof rec, "%.9f", g->recorded);
    snprintf(tab, sizeof tab, "%.9f", g->table);
    snprintf(diff, sizeof diff, "%.9f", g->table - g->recorded);
    snprintf(unp, sizeof unp, "%ld", g->unpriced);
    const char *values[] = {g->model, calls, rec, tab, diff, unp};
    return fn(ud, 6, names, values, "tirrri");
}

int query_reprice(nyx_engine *e, const store_filter *f, store_row_fn fn, void *ud, error_info *err)
{
    reprice_acc a = {.e = e};
    if (!engine_models(e)) {
        error_set(err, "invalid_state", 0, "the model table did not load");
        return -1;
    }
    int rc = store_query_usage(engine_store(e), f, reprice_row, &a, err);
    if (rc == 0 && a.failed) {
        error_set(err, "out_of_memory", 0, "out of memory repricing the log");
        rc = -1;
    }
    reprice_group total;
    memset(&total, 0, sizeof total);
    snprintf(total.model, sizeof total.model, "total");
    int stop = 0; /* the row function asked for no more rows: not the total either */
    for (size_t i = 0; rc == 0 && !stop && i < a.n; i++) {
        total.calls += a.g[i].calls;
        total.unpriced += a.g[i].unpriced;
        total.recorded += a.g[i].recorded;
        total.table += a.g[i].table;
        stop = reprice_emit(&a.g[i], fn, ud);
    }
    if (rc == 0 && !stop)
        reprice_emit(&total, fn, ud);
    free(a.g);
    return rc;
}
