/* models_gen IN.json OUT.c: reads the model table with the engine's own parser
 * (models_merge_file, every check included) and writes it out as C initialisers for
 * engine/cost/models_builtin.h, so that an engine copies the table instead of parsing JSON
 * at every open. Numbers are written as hexadecimal floats, which C reads back bit for bit. */
#include "cost/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int bad_number;

static void str(FILE *f, const char *s)
{
    if (!s) {
        fputs("NULL", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\%03o", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void num(FILE *f, double d)
{
    if (!isfinite(d))
        bad_number = 1;
    fprintf(f, "%a", d);
}

static void prices(FILE *f, const price_set *p)
{
    fputs("{", f);
    num(f, p->input);
    fputs(", ", f);
    num(f, p->output);
    fputs(", ", f);
    num(f, p->cache_write_5m);
    fputs(", ", f);
    num(f, p->cache_write_1h);
    fputs(", ", f);
    num(f, p->cache_read);
    fputs("}", f);
}

static void strs(FILE *f, const char *name, size_t i, char *const *v, size_t n)
{
    if (!n)
        return;
    fprintf(f, "static char *%s_%zu[] = {", name, i);
    for (size_t k = 0; k < n; k++) {
        fputs(k ? ", " : "", f);
        str(f, v[k]);
    }
    fputs("};\n", f);
}

/* The arrays one model points to, named by its index. */
static void parts(FILE *f, size_t i, const model_info *md)
{
    strs(f, "aliases", i, md->aliases, md->naliases);
    strs(f, "unconfirmed", i, md->unconfirmed, md->nunconfirmed);
    for (size_t r = 0; r < md->nrows; r++) {
        if (!md->rows[r].ntiers)
            continue;
        fprintf(f, "static price_tier tiers_%zu_%zu[] = {", i, r);
        for (size_t t = 0; t < md->rows[r].ntiers; t++) {
            fprintf(f, "%s{%lld, ", t ? ", " : "", (long long)md->rows[r].tiers[t].above_prompt_tokens);
            prices(f, &md->rows[r].tiers[t].p);
            fputs("}", f);
        }
        fputs("};\n", f);
    }
    if (md->nrows) {
        fprintf(f, "static price_row rows_%zu[] = {\n", i);
        for (size_t r = 0; r < md->nrows; r++) {
            const price_row *row = &md->rows[r];
            fputs("    {.from = ", f);
            num(f, row->from);
            fputs(", .from_date = ", f);
            str(f, row->from_date);
            fputs(", .p = ", f);
            prices(f, &row->p);
            if (row->ntiers)
                fprintf(f, ", .tiers = tiers_%zu_%zu, .ntiers = %zu", i, r, row->ntiers);
            fputs("},\n", f);
        }
        fputs("};\n", f);
    }
    if (md->ngeo) {
        fprintf(f, "static price_factor geo_%zu[] = {", i);
        for (size_t g = 0; g < md->ngeo; g++) {
            fputs(g ? ", {" : "{", f);
            str(f, md->geo[g].name);
            fputs(", ", f);
            num(f, md->geo[g].factor);
            fputs("}", f);
        }
        fputs("};\n", f);
    }
}

static void field_str(FILE *f, const char *name, const char *s)
{
    fprintf(f, "     .%s = ", name);
    str(f, s);
    fputs(",\n", f);
}

static void model(FILE *f, size_t i, const model_info *md)
{
    fputs("    {", f);
    fputs(".id = ", f);
    str(f, md->id);
    fputs(",\n", f);
    if (md->naliases)
        fprintf(f, "     .aliases = aliases_%zu, .naliases = %zu,\n", i, md->naliases);
    fputs("     .input = ", f);
    num(f, md->input);
    fputs(", .output = ", f);
    num(f, md->output);
    fputs(", .cache_write_5m = ", f);
    num(f, md->cache_write_5m);
    fputs(", .cache_write_1h = ", f);
    num(f, md->cache_write_1h);
    fputs(", .cache_read = ", f);
    num(f, md->cache_read);
    fprintf(f, ",\n     .has_price = %d,", md->has_price);
    if (md->nrows)
        fprintf(f, " .rows = rows_%zu, .nrows = %zu,", i, md->nrows);
    fputs("\n     .fast = ", f);
    prices(f, &md->fast);
    fprintf(f, ", .has_fast = %d, .batch_factor = ", md->has_fast);
    num(f, md->batch_factor);
    fputs(",\n", f);
    if (md->ngeo)
        fprintf(f, "     .geo = geo_%zu, .ngeo = %zu,\n", i, md->ngeo);
    fprintf(f, "     .min_cache_tokens = %lld, .min_cache_confirmed = %d, .min_cache_learned = %d,\n",
            (long long)md->min_cache_tokens, md->min_cache_confirmed, md->min_cache_learned);
    fprintf(f, "     .context_window = %lld, .max_output = %lld, .lifecycle = %d,\n",
            (long long)md->context_window, (long long)md->max_output, md->lifecycle);
    field_str(f, "deprecated", md->deprecated);
    field_str(f, "retires", md->retires);
    field_str(f, "replacement", md->replacement);
    field_str(f, "family", md->family);
    fprintf(f, "     .thinking = %uu, .sampling = %uu, .forced_tool_choice_with_thinking = %d,\n",
            md->thinking, md->sampling, md->forced_tool_choice_with_thinking);
    field_str(f, "default_effort", md->default_effort);
    fprintf(f, "     .itpm_counts_cache_reads = %d", md->itpm_counts_cache_reads);
    if (md->nunconfirmed)
        fprintf(f, ",\n     .unconfirmed = unconfirmed_%zu, .nunconfirmed = %zu", i, md->nunconfirmed);
    fputs("},\n", f);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: models_gen IN.json OUT.c\n");
        return 2;
    }
    error_info err;
    error_clear(&err);
    model_table *m = models_new_from(NULL, 0, NULL, &err);
    if (!m || models_merge_file(m, argv[1], &err) != 0) {
        fprintf(stderr, "models_gen: %s\n", err.message);
        models_free(m);
        return 1;
    }
    FILE *f = fopen(argv[2], "w");
    if (!f) {
        perror(argv[2]);
        models_free(m);
        return 1;
    }
    fprintf(f, "/* generated from %s by cmake/models_gen.c */\n", argv[1]);
    fputs("#include \"cost/models_builtin.h\"\n\n#include <stddef.h>\n\n", f);
    size_t n = models_count(m);
    for (size_t i = 0; i < n; i++)
        parts(f, i, models_at(m, i));
    fputs("\nconst model_info models_builtin[] = {\n", f);
    for (size_t i = 0; i < n; i++)
        model(f, i, models_at(m, i));
    fprintf(f, "};\nconst size_t models_builtin_count = %zu;\nconst char models_builtin_date[] = ", n);
    str(f, models_date(m) ? models_date(m) : "");
    fputs(";\n", f);
    models_free(m);
    int bad = ferror(f) | bad_number;
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "models_gen: %s\n", bad_number ? "a number is not finite" : "cannot write");
        remove(argv[2]);
        return 1;
    }
    return 0;
}
