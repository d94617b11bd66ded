#define _POSIX_C_SOURCE 200809L
#include "governance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

budget_limit *governance_limit(const governance *g, const char *scope)
{
    for (size_t i = 0; i < g->nlimits; i++)
        if (strcmp(g->limits[i].scope, scope) == 0)
            return &g->limits[i];
    return NULL;
}

budget_limit *governance_add_limit(governance *g, const char *scope)
{
    budget_limit *l = realloc(g->limits, (g->nlimits + 1) * sizeof *l);
    if (!l)
        return NULL;
    g->limits = l;
    l = &g->limits[g->nlimits];
    if (!(l->scope = strdup(scope)))
        return NULL;
    l->limit_usd = -1;
    l->alerted = 0;
    l->per = 0;
    g->nlimits++;
    return l;
}

void governance_free_limits(governance *g)
{
    for (size_t i = 0; i < g->nlimits; i++)
        free(g->limits[i].scope);
    free(g->limits);
    g->limits = NULL;
    g->nlimits = 0;
}

int governance_stop(governance *g, const char *reason)
{
    int was = g->stopped;
    g->stopped = 1;
    snprintf(g->stop_reason, sizeof g->stop_reason, "%s", reason && *reason ? reason : "no reason given");
    return was;
}
