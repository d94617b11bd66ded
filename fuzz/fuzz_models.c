/* fuzz-link: engine/cost/models.c engine/base/file.c engine/base/error.c */
/* A user's model file (NYX_MODELS, engine/cost/models.h's models_merge_json) merged into a
 * table of one priced model: either it is refused with invalid_argument naming the file and
 * the table is as it was, or every model of the table is found by its id and by each alias,
 * its prices finite and not negative with rows in order and one in force, its minimum cache
 * prefix positive and its flags in range; and the same file merged again changes nothing. */
#include "cost/models.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN "fuzz.json"

static int price_ok(const price_set *p)
{
    const double v[] = {p->input, p->output, p->cache_write_5m, p->cache_write_1h, p->cache_read};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (!isfinite(v[i]) || v[i] < 0)
            return 0;
    return 1;
}

/* Appends what a model says to a text: two tables alike give the same text. */
static void say(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *nb = n >= 0 ? realloc(*buf, *len + (size_t)n + 1) : NULL;
    if (!nb)
        abort(); /* the target's own memory */
    *buf = nb;
    va_start(ap, fmt);
    vsnprintf(*buf + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

static const char *or_none(const char *s) { return s ? s : "(none)"; }

static char *fingerprint(const model_table *m)
{
    char *b = NULL;
    size_t n = 0;
    say(&b, &n, "%s|%zu\n", or_none(models_date(m)), models_count(m));
    for (size_t i = 0; i < models_count(m); i++) {
        const model_info *md = models_at(m, i);
        say(&b, &n, "%s", md->id);
        for (size_t k = 0; k < md->naliases; k++)
            say(&b, &n, ",%s", md->aliases[k]);
        say(&b, &n, "|%d %zu", md->has_price, md->nrows);
        for (size_t r = 0; r < md->nrows; r++) {
            const price_row *row = &md->rows[r];
            say(&b, &n, " %a %a %a %a %a %a %zu", row->from, row->p.input, row->p.output, row->p.cache_write_5m,
                row->p.cache_write_1h, row->p.cache_read, row->ntiers);
            for (size_t t = 0; t < row->ntiers; t++)
                say(&b, &n, " %lld:%a", (long long)row->tiers[t].above_prompt_tokens, row->tiers[t].p.input);
        }
        say(&b, &n, "|%d %a %a|%a", md->has_fast, md->fast.input, md->fast.output, md->batch_factor);
        for (size_t g = 0; g < md->ngeo; g++)
            say(&b, &n, " %s=%a", md->geo[g].name, md->geo[g].factor);
        say(&b, &n, "|%lld %d %lld %lld %d %u %u %d %d|%s %s %s %s %s", (long long)md->min_cache_tokens,
            md->min_cache_confirmed, (long long)md->context_window, (long long)md->max_output, md->lifecycle,
            md->thinking, md->sampling, md->forced_tool_choice_with_thinking, md->itpm_counts_cache_reads,
            or_none(md->deprecated), or_none(md->retires), or_none(md->replacement), or_none(md->family),
            or_none(md->default_effort));
        for (size_t u = 0; u < md->nunconfirmed; u++)
            say(&b, &n, " ?%s", md->unconfirmed[u]);
        say(&b, &n, "\n");
    }
    return b;
}

static void check_table(const model_table *m)
{
    for (size_t i = 0; i < models_count(m); i++) {
        const model_info *md = models_at(m, i);
        if (!md || !md->id || !md->id[0] || models_find(m, md->id) != md)
            abort();
        for (size_t k = 0; k < md->naliases; k++)
            if (!md->aliases[k][0] || strcmp(md->aliases[k], md->id) == 0 || models_find(m, md->aliases[k]) != md)
                abort();
        if (md->has_price) {
            if (md->nrows == 0 || !models_row_at(md, 0) || !models_row_at(md, 4102444800.0))
                abort();
            for (size_t r = 0; r < md->nrows; r++) {
                if (!price_ok(&md->rows[r].p) || (r && !(md->rows[r].from > md->rows[r - 1].from)))
                    abort();
                for (size_t t = 0; t < md->rows[r].ntiers; t++)
                    if (!price_ok(&md->rows[r].tiers[t].p) ||
                        (t && md->rows[r].tiers[t].above_prompt_tokens <= md->rows[r].tiers[t - 1].above_prompt_tokens))
                        abort();
            }
        }
        if ((md->has_fast && !price_ok(&md->fast)) || !(md->batch_factor >= 0 && md->batch_factor <= 1))
            abort();
        for (size_t g = 0; g < md->ngeo; g++)
            if (!isfinite(md->geo[g].factor) || md->geo[g].factor <= 0 || !md->geo[g].name[0])
                abort();
        if (md->min_cache_tokens <= 0 || md->context_window < 0 || md->max_output < 0 || md->lifecycle < 0 ||
            md->lifecycle > NYX_LIFE_RETIRED || md->thinking > NYX_THINK_ALL || md->sampling > NYX_SAMPLE_ALL)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *aliases[] = {"base"};
    price_row row = {.from = 0, .p = {3, 15, 3.75, 6, 0.3}};
    model_info base = {.id = "base-model", .aliases = aliases, .naliases = 1, .input = 3, .output = 15,
                       .cache_write_5m = 3.75, .cache_write_1h = 6, .cache_read = 0.3, .has_price = 1,
                       .rows = &row, .nrows = 1, .min_cache_tokens = 1024, .min_cache_confirmed = 1,
                       .thinking = NYX_THINK_ALL, .sampling = NYX_SAMPLE_ALL};
    error_info err;
    error_clear(&err);
    model_table *m = models_new_from(&base, 1, "2026-01-01", &err);
    if (!m)
        return 0;
    char *before = fingerprint(m);
    const char *json = (const char *)data;
    if (models_merge_json(m, json, size, ORIGIN, &err) != 0) {
        if (strcmp(err.type, "out_of_memory") != 0 &&
            (strcmp(err.type, "invalid_argument") != 0 || strncmp(err.message, ORIGIN ": ", strlen(ORIGIN) + 2) != 0))
            abort(); /* names the file */
        char *after = fingerprint(m);
        if (strcmp(before, after) != 0)
            abort(); /* all or nothing */
        free(after);
    } else {
        check_table(m);
        char *once = fingerprint(m);
        error_clear(&err);
        if (models_merge_json(m, json, size, ORIGIN, &err) != 0)
            abort(); /* what was taken once is taken again */
        char *twice = fingerprint(m);
        if (strcmp(once, twice) != 0)
            abort();
        free(once);
        free(twice);
    }
    free(before);
    models_free(m);
    return 0;
}
