/* Fault rules that tests script: which of the next requests fail, and how. */
#ifndef NYX_SIM_FAULTS_H
#define NYX_SIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "claude/types.h"

enum sim_fault_kind {
    SIM_FAULT_NONE = 0,
    SIM_FAULT_RATE_LIMIT,   /* 429 rate_limit_error (retry-after when given) */
    SIM_FAULT_SPEND_LIMIT,  /* 429 rate_limit_error, spend limit reached, no retry-after */
    SIM_FAULT_SERVER_ERROR, /* 500 api_error */
    SIM_FAULT_OVERLOADED,   /* 529 overloaded_error */
    SIM_FAULT_BAD_REQUEST,  /* 400 invalid_request_error */
    SIM_FAULT_UNAUTHORIZED, /* 401 authentication_error */
    SIM_FAULT_NOT_FOUND,    /* 404 not_found_error */
    SIM_FAULT_TOO_LARGE,    /* 413 request_too_large */
    SIM_FAULT_RESET,        /* connection closed without a response */
    SIM_FAULT_HANG,         /* nothing sent for hang_ms (or until shutdown), then served */
    SIM_FAULT_MALFORMED,    /* 200 whose body (or one SSE data line) is not JSON */
    SIM_FAULT_CUT,          /* body or stream stops partway, no message_stop */
    SIM_FAULT_STREAM_ERROR, /* 200 stream: message_start then event: error overloaded_error */
    SIM_FAULT_FORBIDDEN,    /* 403 permission_error */
    SIM_FAULT_BILLING,      /* 402 billing_error */
    SIM_FAULT_STALL,        /* 200 whose body stops after after_events stream events (a plain
                               reply: before its body) for hang_ms, then goes on */
    SIM_FAULT_KINDS
};

/* SIM_EP_BATCH: a request processed inside a message batch, which ends errored with the
 * fault's error (a fault without one, such as reset or hang, as api_error). */
enum sim_endpoint { SIM_EP_MESSAGES = 1, SIM_EP_COUNT_TOKENS = 2, SIM_EP_BATCH = 4 };

typedef struct sim_fault {
    int kind;              /* enum sim_fault_kind */
    char model[128];       /* "" = any model; else the requested or the canonical id */
    int endpoints;         /* bits of enum sim_endpoint */
    int stream;            /* -1 any request, 0 only non-streaming, 1 only streaming */
    int64_t count;         /* applications left; 0 = until cleared */
    double probability;    /* 0: every matching request; else the chance per request */
    double retry_after_s;  /* < 0: no retry-after header */
    double retry_after_ms; /* < 0: no retry-after-ms header */
    int should_retry;      /* x-should-retry: -1 absent, 0 false, 1 true */
    int64_t after_events;  /* cut, stall: SSE events sent before it; -1 = default */
    int64_t hang_ms;       /* hang: -1 = until shutdown; stall: -1 = a day */
    char message[256];     /* error message override; "" = the default text */
} sim_fault;

typedef struct sim_faults sim_faults;

sim_faults *sim_faults_new(uint64_t seed);
void sim_faults_free(sim_faults *f);
void sim_faults_clear(sim_faults *f);
void sim_faults_seed(sim_faults *f, uint64_t seed);
size_t sim_faults_count(const sim_faults *f);

/* Adds the rules of a JSON text: {"faults":[rule...]}, [rule...] or one rule object.
 * All or nothing. Returns the number added, or -1 with *err set (400 invalid_request_error). */
int sim_faults_add_json(sim_faults *f, const char *json, size_t len, error_info *err);

/* Picks the first rule that applies to a request and consumes one of its applications.
 * Returns 1 with *out filled, or 0 when no fault applies.
 *   model, canonical  the requested and the reported model ids (either may match)
 *   endpoint          enum sim_endpoint
 *   stream            1 for a streaming request */
int sim_faults_match(sim_faults *f, const char *model, const char *canonical, int endpoint,
                     int stream, sim_fault *out);

/* The error fault kind answers with: *status, the API's error *type and its default *message
 * (static texts). -1 for a kind that answers with no error (reset, hang, malformed, cut). */
int sim_fault_error(int kind, int *status, const char **type, const char **message);

/* "rate_limit", "hang", ...; NULL for SIM_FAULT_NONE or an unknown kind. */
const char *sim_fault_name(int kind);

#endif
