/* The model table the simulator's tests give it: claude-sonnet-4-5 (alias "sonnet") caches from
 * 1,024 tokens, claude-haiku-4-5 from 4,096, claude-haiku-5-5 from 512; any other model is
 * unknown. */
#ifndef NYX_TEST_SIM_MODELS_H
#define NYX_TEST_SIM_MODELS_H

#include <stdint.h>
#include <string.h>

#include "sim/sim.h"

static inline int64_t min_tokens(void *ud, const char *model)
{
    (void)ud;
    if (strcmp(model, "claude-sonnet-4-5") == 0 || strcmp(model, "sonnet") == 0)
        return 1024;
    if (strcmp(model, "claude-haiku-4-5") == 0)
        return 4096;
    if (strcmp(model, "claude-haiku-5-5") == 0)
        return 512;
    return -1;
}

/* claude-haiku-5-5 takes no sampling parameter and always thinks; only it has fast mode;
 * neither Haiku can be made to call a tool while it thinks. */
static inline int accepts(void *ud, const char *model, const char *param)
{
    (void)ud;
    int h55 = strcmp(model, "claude-haiku-5-5") == 0;
    if (strcmp(param, "speed:fast") == 0)
        return h55;
    if (strcmp(param, "tool_choice:forced_with_thinking") == 0)
        return strncmp(model, "claude-haiku-", 13) != 0;
    if (strcmp(param, "temperature") == 0 || strcmp(param, "top_p") == 0 || strcmp(param, "top_k") == 0 ||
        strcmp(param, "thinking:disabled") == 0)
        return !h55;
    return 1;
}

static inline const char *canonical(void *ud, const char *model)
{
    (void)ud;
    return strcmp(model, "sonnet") == 0 ? "claude-sonnet-4-5" : model;
}

static const sim_models models = {min_tokens, canonical, NULL, accepts};

#endif
