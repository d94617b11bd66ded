/* Choosing among a template's versions by how they did, and recording how they did.
 *
 * The choice is Thompson sampling: each version's success rate is drawn from its posterior,
 * Beta(1 + successes, 1 + failures) over the outcomes template_usage holds, and the draw is
 * lowered by a cost penalty of up to COST_WEIGHT (a version's average cost per use over the
 * most expensive version's). A version with no outcomes draws from Beta(1, 1), so new
 * versions get tried; and a fixed share EXPLORE of picks is uniform, so a version that
 * looked bad early is still tried now and then. */
#define _POSIX_C_SOURCE 200809L
#include "library_int.h"


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPLORE 0.05
#define COST_WEIGHT 0.2
/* Versions considered at most (the newest when there are more). */
#define MAX_ARMS 256

void templates_seed(tpl_library *lib, uint64_t seed)
{
    lib->rng = seed;
}

/* ---- random numbers ---- */

static uint64_t next_u64(tpl_library *lib)
{
    uint64_t z = (lib->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double uniform(tpl_library *lib)
{
    return ((double)(next_u64(lib) >> 11) + 0.5) / 9007199254740992.0; /* 2^53 */
}

static double normal(tpl_library *lib)
{
    double u1 = uniform(lib), u2 = uniform(lib);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Gamma(a, 1) for a >= 1 (Marsaglia and Tsang). */
static double gamma_draw(tpl_library *lib, double a)
{
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(lib), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = uniform(lib);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

static double beta_draw(tpl_library *lib, double a, double b)
{
    double x = gamma_draw(lib, a), y = gamma_draw(lib, b);
    return x / (x + y);
}

/* ---- the arms: versions and how they did ---- */

typedef struct arm {
    int version;
    double uses, successes, failures, cost_usd;
} arm;

typedef struct arms {
    arm a[MAX_ARMS];
    int n;
} arms;

static double num(int ncols, const char *const *names, const char *const *values, const char *k)
{
    int c = rows_col(ncols, names, k);
    return c >= 0 && values[c] ? strtod(values[c], NULL) : 0;
}

static int version_row(void *ud, int ncols, const char *const *names, const char *const *values,
                       const char *types)
{
    (void)types;
    arms *as = ud;
    int v = (int)num(ncols, names, values, "version");
    if (v < 1)
        return 0;
    if (as->n == MAX_ARMS) { /* keep the newest */
        memmove(as->a, as->a + 1, (MAX_ARMS - 1) * sizeof as->a[0]);
        as->n--;
    }
    as->a[as->n++] = (arm){.version = v};
    return 0;
}

static int stats_row(void *ud, int ncols, const char *const *names, const char *const *values,
                     const char *types)
{
    (void)types;
    arms *as = ud;
    int v = (int)num(ncols, names, values, "version");
    for (int i = 0; i < as->n; i++)
        if (as->a[i].version == v) {
            as->a[i].uses = num(ncols, names, values, "uses");
            as->a[i].successes = num(ncols, names, values, "successes");
            as->a[i].failures = num(ncols, names, values, "failures");
            as->a[i].cost_usd = num(ncols, names, values, "cost_usd");
        }
    return 0;
}

static int choose(tpl_library *lib, const arms *as)
{
    if (as->n == 1)
        return as->a[0].version;
    if (uniform(lib) < EXPLORE)
        return as->a[next_u64(lib) % (uint64_t)as->n].version;
    double max_cost = 0;
    for (int i = 0; i < as->n; i++) {
        double avg = as->a[i].uses > 0 ? as->a[i].cost_usd / as->a[i].uses : 0;
        if (avg > max_cost)
            max_cost = avg;
    }
    int best = as->a[0].version;
    double best_score = -INFINITY;
    for (int i = 0; i < as->n; i++) {
        const arm *a = &as->a[i];
        double score = beta_draw(lib, 1 + a->successes, 1 + a->failures);
        if (max_cost > 0 && a->uses > 0)
            score -= COST_WEIGHT * (a->cost_usd / a->uses) / max_cost;
        if (score > best_score) {
            best_score = score;
            best = a->version;
        }
    }
    return best;
}

int templates_pick(tpl_library *lib, const char *name, int *version, error_info *err)
{
    char bare[TEMPLATES_MAX_NAME + 1];
    int v = 0;
    if (templates_parse_spec(name, bare, sizeof bare, &v, err) != 0)
        return -1;
    if (v != 0) {
        error_set(err, "invalid_argument", 0,
                      "pick chooses the version: give the template name without '@' (%.80s)",
                      name);
        return -1;
    }
    tpl_entry *en = NULL;
    if (templates_resolve(lib, bare, &en, err) != 0) /* also records the current content */
        return -1;
    int chosen = en->version;
    store_db *s = templates_store(lib);
    if (s && chosen > 0) {
        arms *as = calloc(1, sizeof *as);
        if (!as)
            return templates_oom(err, "choosing a template version");
        if (store_template_history(s, bare, version_row, as, err) < 0 ||
            store_template_stats(s, bare, stats_row, as, err) < 0) {
            free(as);
            return -1;
        }
        if (as->n > 0)
            chosen = choose(lib, as);
        free(as);
    }
    templates_set_last(lib, bare, chosen);
    *version = chosen;
    return 0;
}

/* ---- recording ---- */

int templates_record(tpl_library *lib, const char *spec, int success, error_info *err)
{
    char bare[TEMPLATES_MAX_NAME + 1];
    int v = 0;
    if (templates_parse_spec(spec, bare, sizeof bare, &v, err) != 0)
        return -1;
    if (v == 0 && (v = templates_last_version(lib, bare)) == 0) {
        error_set(err, "invalid_argument", 0,
                      "no version of template %s was rendered or picked by this engine: give "
                      "\"%s@VERSION\"",
                      bare, bare);
        return -1;
    }
    store_db *s = templates_store(lib);
    if (!s) {
        error_set(err, "store_error", 0,
                      "cannot record a use of template %s@%d: the database is unavailable", bare,
                      v);
        return -1;
    }
    /* The judgement of the call made with template= just before: that use is already
     * counted, only its outcome changes (judged again, it changes again). Without such a
     * call (a pick, then a call without template=) the judgement is the use. */
    int to = success ? 1 : 0;
    last_use *l = templates_last_entry(lib, bare);
    if (l && l->has_use && l->use_version == v) {
        if (store_template_judge(s, bare, v, l->use_outcome, to, err) != 0)
            return -1;
        l->use_outcome = to;
        return 0;
    }
    return store_template_usage(s, bare, v, to, 0, 0, 0, 0, 0, err);
}

char *templates_model_for_call(tpl_library *lib, const char *name, int version)
{
    error_info err;
    error_clear(&err);
    char bare[TEMPLATES_MAX_NAME + 1], spec[TEMPLATES_MAX_NAME + 24];
    int v = 0;
    if (templates_parse_spec(name, bare, sizeof bare, &v, &err) != 0)
        return NULL;
    if (v == 0)
        v = version > 0 ? version : templates_last_version(lib, bare);
    if (v > 0)
        snprintf(spec, sizeof spec, "%s@%d", bare, v);
    else
        snprintf(spec, sizeof spec, "%s", bare);
    tpl_info info;
    if (templates_get(lib, spec, &info, &err) != 0)
        return NULL;
    const char *hint = template_model_hint(info.t);
    return hint && *hint ? strdup(hint) : NULL;
}

int templates_call_finished(tpl_library *lib, char *name, int version, int success,
                            const claude_usage *u, double cost_usd, double latency_ms,
                            int cache_hit)
{
    error_info err;
    error_clear(&err);
    char bare[TEMPLATES_MAX_NAME + 1];
    int v = 0;
    if (templates_parse_spec(name, bare, sizeof bare, &v, &err) != 0) {
        templates_warn(lib, "template-call-name", "nyx: a call's template= is not recorded: %s",
                         err.message);
        return 0;
    }
    char *at = strrchr(name, '@');
    if (at && v > 0)
        *at = '\0';
    if (version > 0)
        v = version;
    if (v == 0)
        v = templates_last_version(lib, bare);
    if (v == 0) {
        tpl_entry *en = NULL;
        if (templates_resolve(lib, bare, &en, &err) != 0) {
            char key[TEMPLATES_MAX_NAME + 32];
            snprintf(key, sizeof key, "template-call:%s", bare);
            templates_warn(lib, key, "nyx: calls made with template=\"%s\" are not recorded: %s",
                             bare, err.message);
            return 0;
        }
        v = en->version;
    }
    store_db *s = v > 0 ? templates_store(lib) : NULL;
    if (!s)
        return v;
    int64_t in = u ? u->input_tokens + u->cache_creation_input_tokens +
                         u->cache_read_input_tokens
                   : 0;
    int64_t out = u ? u->output_tokens : 0;
    int outcome = success > 0 ? 1 : success == 0 ? 0 : -1;
    if (store_template_usage(s, bare, v, outcome, in < 0 ? 0 : in, out < 0 ? 0 : out,
                             cost_usd > 0 ? cost_usd : 0, latency_ms > 0 ? latency_ms : 0, cache_hit,
                             &err) != 0) {
        templates_warn(lib, "template-usage", "nyx: cannot record a template's use: %s",
                         err.message);
    } else {
        last_use *l = templates_last_entry(lib, bare);
        if (l) {
            l->has_use = 1;
            l->use_version = v;
            l->use_outcome = outcome;
        }
    }
    return v;
}
