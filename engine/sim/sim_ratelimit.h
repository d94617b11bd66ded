/* Per-model token buckets for requests, input tokens and output tokens per minute, as the
 * API enforces them: each refills continuously at limit/60 per second up to the limit. */
#ifndef NYX_SIM_RATELIMIT_H
#define NYX_SIM_RATELIMIT_H

#include <stdint.h>

enum { SIM_RL_REQUESTS = 0, SIM_RL_INPUT, SIM_RL_OUTPUT, SIM_RL_KINDS };

typedef struct sim_rl_state {
    int64_t limit;     /* per minute; 0 = unlimited (no headers) */
    int64_t remaining; /* whole units left now */
    double reset_s;    /* seconds until the bucket is full again */
} sim_rl_state;

typedef struct sim_rl_result {
    int admitted;
    double retry_after_s;              /* when refused: the wait until the request fits */
    int limited_by;                    /* when refused: the bucket with the longest wait */
    sim_rl_state state[SIM_RL_KINDS];  /* after admission (or as it stands when refused) */
} sim_rl_result;

typedef struct sim_rl sim_rl;

sim_rl *sim_rl_new(void);
void sim_rl_free(sim_rl *rl);
/* Sets the limits (0 = unlimited) and refills every bucket. */
void sim_rl_set_limits(sim_rl *rl, int64_t rpm, int64_t itpm, int64_t otpm);
void sim_rl_reset(sim_rl *rl);

/* Admits one request of the model needing input and output tokens at time now_s (monotonic
 * seconds), or refuses it and says how long to wait. Returns 0, or -1 when out of memory
 * (the request is then admitted unmetered). */
int sim_rl_admit(sim_rl *rl, const char *model, int64_t input, int64_t output, double now_s,
                 sim_rl_result *res);

/* The buckets of a model as they stand, without taking anything. Returns 0, or -1 when out
 * of memory. */
int sim_rl_peek(sim_rl *rl, const char *model, double now_s, sim_rl_result *res);

/* Gives back output tokens admitted but not generated (the API adjusts at the end). */
void sim_rl_refund(sim_rl *rl, const char *model, int64_t output, double now_s);

/* 1 when any limit is set. */
int sim_rl_enabled(const sim_rl *rl);

#endif
