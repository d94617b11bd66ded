/* Message Batches as the API answers them: the batch object (its id, status, request counts
 * and times) and the lines of its results file. Readers of what came off the network, with no
 * engine: the batch job (core/batch.c) and a pickup (core/batch_pickup.c) act on what they
 * read. */
#ifndef NYX_CLAUDE_BATCH_RESULT_H
#define NYX_CLAUDE_BATCH_RESULT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "types.h"

/* request_counts' members, in this order: processing, succeeded, errored, canceled, expired. */
#define CLAUDE_BATCH_NCOUNTS 5

typedef struct claude_batch_info {
    const char *id;                /* NULL when absent or not a string; points into the object */
    const char *processing_status; /* likewise */
    long counts[CLAUDE_BATCH_NCOUNTS]; /* 0 when absent or null */
    double created_at, expires_at; /* epoch seconds; NAN when absent or not an RFC 3339 time */
} claude_batch_info;

/* Reads a batch object (the answer to a submission or a poll) into out. Returns 0, or -1 with
 * err (type "api_error", out untouched) naming the field when request_counts is neither absent,
 * null nor an object, or one of its counts is neither absent, null nor an integer from 0 to
 * 2^31 - 1 (no batch holds more requests). A missing id or status is the caller's to judge. */
int claude_batch_read(const cJSON *batch, claude_batch_info *out, error_info *err);

/* One line of a results file, s[0..len) (its newline left out), parsed: the tree (free it with
 * cJSON_Delete), *custom_id (a string) and *result (an object) pointing into it, or NULL when the
 * line holds no such member. NULL when the line is not one JSON value (then both NULL). */
cJSON *claude_batch_line(const char *s, size_t len, const char **custom_id, const cJSON **result);

/* One result ({type: succeeded|errored|canceled|expired, message | error}) as a call's outcome:
 * for "succeeded", resp filled (claude_parse_message) and err untouched; else err set, never
 * with an empty type: the request's own error (status 400; api_error when it names no type),
 * batch_canceled, batch_expired, or api_error for a message that does not parse or a result of
 * another or no type. */
void claude_batch_result(const cJSON *result, claude_response *resp, error_info *err);

#endif
