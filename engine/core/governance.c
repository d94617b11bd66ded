#define _POSIX_C_SOURCE 200809L
#include "governance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

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

int governance_reason_check(const char *reason, char *why, size_t size)
{
    if (!reason)
        return 0;
    size_t len = strlen(reason), most = sizeof ((governance *)0)->stop_reason - 1;
    long bad = utf8_bad(reason, len);
    if (len > most) {
        snprintf(why, size, "reason is %zu bytes, more than the %zu a stop keeps", len, most);
        return -1;
    }
    if (bad >= 0) {
        snprintf(why, size, "reason is not valid UTF-8 (its byte %ld is 0x%02X)", bad + 1,
                 (unsigned char)reason[bad]);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f) {
            snprintf(why, size, "reason holds a control character (byte %zu is 0x%02X): it is one line of text",
                     i + 1, (unsigned char)reason[i]);
            return -1;
        }
    return 0;
}
