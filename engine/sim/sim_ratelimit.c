/* Token buckets per model. A request is admitted only when all three buckets hold what it
 * needs; a refusal takes nothing and names the wait until the emptiest bucket refills. */
#include "sim_ratelimit.h"

#include "resilience/keytable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct bucket {
    double level;
    double at; /* time of the last refill, monotonic seconds */
} bucket;

typedef struct model_buckets {
    bucket b[SIM_RL_KINDS];
} model_buckets;

struct sim_rl {
    int64_t limit[SIM_RL_KINDS];
    keytable models; /* of model_buckets */
};

sim_rl *sim_rl_new(void) { return calloc(1, sizeof(sim_rl)); }

void sim_rl_reset(sim_rl *rl)
{
    if (rl)
        keytable_free(&rl->models);
}

void sim_rl_free(sim_rl *rl)
{
    sim_rl_reset(rl);
    free(rl);
}

void sim_rl_set_limits(sim_rl *rl, int64_t rpm, int64_t itpm, int64_t otpm)
{
    rl->limit[SIM_RL_REQUESTS] = rpm > 0 ? rpm : 0;
    rl->limit[SIM_RL_INPUT] = itpm > 0 ? itpm : 0;
    rl->limit[SIM_RL_OUTPUT] = otpm > 0 ? otpm : 0;
    sim_rl_reset(rl);
}

int sim_rl_enabled(const sim_rl *rl)
{
    return rl->limit[0] > 0 || rl->limit[1] > 0 || rl->limit[2] > 0;
}

/* The model's buckets, created full when absent; NULL when out of memory. */
static model_buckets *get(sim_rl *rl, const char *model, double now)
{
    const char *name;
    int created;
    model_buckets *m = keytable_get_or_add(&rl->models, model, sizeof *m, &name, &created);
    for (int k = 0; m && created && k < SIM_RL_KINDS; k++) {
        m->b[k].level = (double)rl->limit[k];
        m->b[k].at = now;
    }
    return m;
}

static double rate(const sim_rl *rl, int k) { return (double)rl->limit[k] / 60.0; }

static void refill(const sim_rl *rl, model_buckets *m, double now)
{
    for (int k = 0; k < SIM_RL_KINDS; k++) {
        bucket *b = &m->b[k];
        if (now > b->at) {
            b->level += (now - b->at) * rate(rl, k);
            if (b->level > (double)rl->limit[k])
                b->level = (double)rl->limit[k];
        }
        b->at = now;
    }
}

static void fill_state(const sim_rl *rl, const model_buckets *m, sim_rl_result *res)
{
    for (int k = 0; k < SIM_RL_KINDS; k++) {
        sim_rl_state *s = &res->state[k];
        s->limit = rl->limit[k];
        if (!s->limit) {
            s->remaining = 0;
            s->reset_s = 0;
            continue;
        }
        double level = m ? m->b[k].level : (double)s->limit;
        s->remaining = level > 0 ? (int64_t)floor(level) : 0;
        s->reset_s = ((double)s->limit - level) / rate(rl, k);
        if (s->reset_s < 0)
            s->reset_s = 0;
    }
}

int sim_rl_peek(sim_rl *rl, const char *model, double now_s, sim_rl_result *res)
{
    memset(res, 0, sizeof *res);
    res->admitted = 1;
    if (!sim_rl_enabled(rl)) {
        fill_state(rl, NULL, res);
        return 0;
    }
    model_buckets *m = get(rl, model, now_s);
    if (m)
        refill(rl, m, now_s);
    fill_state(rl, m, res);
    return m ? 0 : -1;
}

int sim_rl_admit(sim_rl *rl, const char *model, int64_t input, int64_t output, double now_s,
                 sim_rl_result *res)
{
    /* A peek first: after it the model's buckets exist and are refilled to now. */
    int rc = sim_rl_peek(rl, model, now_s, res);
    if (rc != 0 || !sim_rl_enabled(rl))
        return rc;
    model_buckets *m = get(rl, model, now_s);
    double need[SIM_RL_KINDS] = {1.0, (double)input, (double)output};
    double wait = 0;
    for (int k = 0; k < SIM_RL_KINDS; k++) {
        if (!rl->limit[k] || need[k] <= m->b[k].level)
            continue;
        /* More than the whole bucket can never fit: the API still answers 429. */
        double w = need[k] > (double)rl->limit[k] ? 60.0 : (need[k] - m->b[k].level) / rate(rl, k);
        if (w >= wait) {
            wait = w;
            res->limited_by = k;
        }
        res->admitted = 0;
    }
    if (res->admitted)
        for (int k = 0; k < SIM_RL_KINDS; k++)
            if (rl->limit[k])
                m->b[k].level -= need[k];
    res->retry_after_s = res->admitted ? 0 : wait;
    fill_state(rl, m, res);
    return 0;
}

void sim_rl_refund(sim_rl *rl, const char *model, int64_t output, double now_s)
{
    if (!rl->limit[SIM_RL_OUTPUT] || output <= 0)
        return;
    model_buckets *m = keytable_find(&rl->models, model);
    if (!m)
        return;
    refill(rl, m, now_s);
    m->b[SIM_RL_OUTPUT].level += (double)output;
    if (m->b[SIM_RL_OUTPUT].level > (double)rl->limit[SIM_RL_OUTPUT])
        m->b[SIM_RL_OUTPUT].level = (double)rl->limit[SIM_RL_OUTPUT];
}
