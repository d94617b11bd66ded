/* nyx_sim_*: the simulator for hosts and the `nyx sim` command, with the engine's model
 * table (and the user's NYX_MODELS override) as its source of model facts. */
#define _POSIX_C_SOURCE 200809L
#include "sim_host.h"

#include "cost/accept.h"
#include "cost/models.h"
#include "sim/sim.h"
#include "sim/sim_faults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nyx_sim {
    model_table *models;
    sim_server *server;
};

static int64_t min_cache(void *ud, const char *model)
{
    const model_info *m = models_find(ud, model);
    return m ? m->min_cache_tokens : -1;
}

static const char *canonical(void *ud, const char *model)
{
    const model_info *m = models_find(ud, model);
    return m ? m->id : model;
}

static int accepts(void *ud, const char *model, const char *param)
{
    return accept_param(models_find(ud, model), param);
}

sim_models sim_host_models(model_table *t)
{
    return (sim_models){min_cache, canonical, t, accepts};
}

/* option is "key=value"; the message names the key alone (it read "ttft_ms=-5 must be ...,
 * got "-5"", the value twice). */
static int set_number(const char *option, const char *value, double *out, char **errmsg)
{
    int klen = (int)(value - 1 - option);
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    if (end == value || *end || errno || d < 0) {
        if (errmsg) {
            size_t n = strlen(option) + 64;
            if ((*errmsg = malloc(n)))
                snprintf(*errmsg, n, "%.*s must be a number >= 0, got \"%s\"", klen, option, value);
        }
        return -1;
    }
    *out = d;
    return 0;
}

static char *fail(const char *msg)
{
    return strdup(msg);
}

/* Reads options ("key=value") into opt and *faults (the JSON text, checked here too).
 * Returns 0, or -1 with *errmsg. */
static int parse_options(const char *const *options, sim_options *opt, const char **faults, char **errmsg)
{
    for (size_t i = 0; options && options[i]; i++) {
        const char *eq = strchr(options[i], '=');
        if (!eq) {
            if (errmsg)
                *errmsg = fail("simulator options are key=value");
            return -1;
        }
        size_t klen = (size_t)(eq - options[i]);
        const char *v = eq + 1;
        double d = 0;
#define KEY(name) (klen == strlen(name) && strncmp(options[i], name, klen) == 0)
        if (KEY("api_key")) {
            opt->api_key = v;
            continue;
        }
        if (KEY("faults")) {
            /* Checked before anything starts: a bad rule is the caller's mistake. */
            sim_faults *check = sim_faults_new(0);
            error_info err;
            error_clear(&err);
            int rc = check ? sim_faults_add_json(check, v, strlen(v), &err) : -1;
            sim_faults_free(check);
            if (rc < 0) {
                if (errmsg)
                    *errmsg = fail(check ? err.message : "out of memory");
                return -1;
            }
            *faults = v;
            continue;
        }
        if (set_number(options[i], v, &d, errmsg) != 0)
            return -1;
        if (KEY("ttft_ms"))
            opt->ttft_ms = d;
        else if (KEY("token_ms"))
            opt->token_ms = d;
        else if (KEY("rpm"))
            opt->rpm = (int64_t)d;
        else if (KEY("itpm"))
            opt->itpm = (int64_t)d;
        else if (KEY("otpm"))
            opt->otpm = (int64_t)d;
        else if (KEY("seed"))
            opt->seed = (uint64_t)d;
        else if (KEY("batch_delay_ms"))
            opt->batch_delay_ms = d;
        else if (KEY("batch_expiry_ms"))
            opt->batch_expiry_ms = d;
        else {
            if (errmsg)
                *errmsg = fail("unknown simulator option");
            return -1;
        }
#undef KEY
    }
    return 0;
}

int sim_host_check_options(const char *const *options, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    sim_options opt;
    sim_options_default(&opt);
    const char *faults = NULL;
    return parse_options(options, &opt, &faults, errmsg) == 0 ? NYX_OK : NYX_EINVAL;
}

nyx_sim *sim_host_start(int port, const char *const *options, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    nyx_sim *sim = calloc(1, sizeof *sim);
    error_info err;
    error_clear(&err);
    if (!sim || !(sim->models = models_new_default(&err))) {
        if (errmsg)
            *errmsg = fail(sim ? err.message : "out of memory");
        free(sim);
        return NULL;
    }
    const char *user_models = getenv("NYX_MODELS");
    sim_options opt;
    sim_options_default(&opt);
    const char *faults = NULL;
    int bad = user_models && *user_models && models_merge_file(sim->models, user_models, &err) != 0;
    if (bad && errmsg)
        *errmsg = fail(err.message);
    if (!bad)
        bad = parse_options(options, &opt, &faults, errmsg) != 0;
    if (!bad) {
        sim_models sm = sim_host_models(sim->models);
        sim->server = sim_server_start(&sm, &opt, port, &err);
        if (!sim->server) {
            bad = 1;
            if (errmsg)
                *errmsg = fail(err.message);
        } else if (faults && sim_add_faults_json(sim->server, faults, &err) != 0) {
            bad = 1;
            if (errmsg)
                *errmsg = fail(err.message);
        }
    }
    if (bad) {
        sim_host_stop(sim);
        return NULL;
    }
    return sim;
}

int sim_host_port(const nyx_sim *sim) { return sim_server_port(sim->server); }

void sim_host_stop(nyx_sim *sim)
{
    if (!sim)
        return;
    sim_server_stop(sim->server);
    models_free(sim->models);
    free(sim);
}
