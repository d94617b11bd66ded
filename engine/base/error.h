/* Errors as values: every layer fills an error_info and returns -1; none prints or exits. */
#ifndef NYX_BASE_ERROR_H
#define NYX_BASE_ERROR_H

#include <stddef.h>

/* An error as a value. Fixed-size fields so that filling one never fails. */
typedef struct error_info {
    char type[40];       /* API type (rate_limit_error, ...) or engine type (timeout, ...) */
    int status;          /* HTTP status, 0 when none */
    char message[512];
    int retryable;
    int refused;          /* the values themselves are refused (a record the database will never
                             take, whatever its state): no retry of the same values succeeds */
    char request_id[80];
    double retry_after_s; /* < 0 when the server gave none */
    int should_retry;     /* x-should-retry: -1 absent, 0 false, 1 true */
} error_info;

void error_clear(error_info *e);
/* printf-style; truncates rather than fails. */
void error_set(error_info *e, const char *type, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A failure in one line: clears e, then sets it as error_set does, and returns -1 for the
 * caller to return. The message is formatted before e is cleared, so an argument may be e's
 * own message. NULL e: only returns -1. */
int error_fail(error_info *e, const char *type, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error types: what each means to a host (the nyx.h result code a public function
 * returns for it), whether a failure of that type is worth another attempt when nothing
 * else (an HTTP status, x-should-retry) says, and whether a fallback model may serve. One table, in error.c: the public functions,
 * the API error parser and the retry policy all read it. */
typedef struct error_kind {
    const char *type;
    int code;      /* NYX_EINVAL, NYX_ENOMEM, NYX_EIO, ... */
    int retryable; /* 1: transient (a timeout, an overloaded server) */
    int fallback;  /* 1: says "this model, now", not "this request": another model may serve */
    int from_api;  /* 1: a type the API answers with; the others are nyx's own */
} error_kind;

/* The kind of type, or NULL for a type the table does not know. */
const error_kind *error_kind_of(const char *type);
/* 1 when an error body may carry type: one the table has as the API's, or one it does not know
 * that is named as the API names its types ("..._error"). nyx's own types (budget_exceeded,
 * network_error, batch_expired, ...) are never taken from an answer: a server saying one would
 * pass for a failure nyx found itself, and change the code and the policy the caller sees. */
int error_type_from_api(const char *type);
/* The whole table (n entries), for tests and documentation. */
const error_kind *error_kinds(size_t *n);
/* The nyx.h result code for err: its type's, NYX_EIO for a type the table does not know
 * (a failure of the world, not of the caller). */
int error_code(const error_info *err);
#endif
