/* Errors as values: every layer fills an nyx_error and returns -1; none prints or exits. */
#ifndef NYX_BASE_ERROR_H
#define NYX_BASE_ERROR_H

/* An error as a value. Fixed-size fields so that filling one never fails. */
typedef struct nyx_error {
    char type[40];       /* API type (rate_limit_error, ...) or engine type (timeout, ...) */
    int status;          /* HTTP status, 0 when none */
    char message[512];
    int retryable;
    char request_id[80];
    double retry_after_s; /* < 0 when the server gave none */
    int should_retry;     /* x-should-retry: -1 absent, 0 false, 1 true */
} nyx_error;

void nyx_error_clear(nyx_error *e);
/* printf-style; truncates rather than fails. */
void nyx_error_set(nyx_error *e, const char *type, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
