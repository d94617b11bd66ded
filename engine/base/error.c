#include "error.h"

#include "nyx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void error_clear(error_info *e)
{
    memset(e, 0, sizeof *e);
    e->retry_after_s = -1.0;
    e->should_retry = -1;
}

void error_set(error_info *e, const char *type, int status, const char *fmt, ...)
{
    snprintf(e->type, sizeof e->type, "%s", type);
    e->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

int error_fail(error_info *e, const char *type, int status, const char *fmt, ...)
{
    if (!e)
        return -1;
    char msg[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_clear(e);
    error_set(e, type, status, "%s", msg);
    return -1;
}

/* type, nyx.h code, retryable, fallback, from_api: nyx's own types first, then the API's
 * (https://docs.claude.com/en/api/errors). */
static const error_kind kinds[] = {
    {"invalid_argument", NYX_EINVAL, 0, 0, 0},
    {"not_found", NYX_EINVAL, 0, 0, 0},
    {"permission_denied", NYX_EINVAL, 0, 0, 0},
    {"invalid_state", NYX_EINVAL, 0, 0, 0},
    {"out_of_memory", NYX_ENOMEM, 0, 0, 0},
    /* no descriptor or buffer for a socket: the machine's limit, never the API's failure */
    {"resource_exhausted", NYX_EIO, 1, 1, 0},
    {"store_error", NYX_EIO, 0, 0, 0}, /* the store marks the transient ones (a busy file) itself */
    {"network_error", NYX_EIO, 1, 1, 0},
    {"timeout", NYX_EIO, 1, 1, 0},
    {"tls_error", NYX_EIO, 0, 0, 0},   /* the certificate will not change between attempts */
    {"cancelled", NYX_EIO, 0, 0, 0},
    {"stopped", NYX_EIO, 0, 0, 0},
    {"budget_exceeded", NYX_EIO, 0, 0, 0},
    {"circuit_open", NYX_EIO, 0, 1, 0},
    {"callback_error", NYX_EIO, 0, 0, 0},
    {"internal", NYX_EIO, 0, 0, 0},
    {"api_error", NYX_EIO, 1, 1, 1},
    {"overloaded_error", NYX_EIO, 1, 1, 1},
    {"rate_limit_error", NYX_EIO, 1, 1, 1},
    {"timeout_error", NYX_EIO, 1, 1, 1},
    {"conflict_error", NYX_EIO, 1, 1, 1}, /* nyx's name for an HTTP 409 (claude/errors.c) */
    {"invalid_request_error", NYX_EINVAL, 0, 0, 1},
    {"authentication_error", NYX_EIO, 0, 0, 1},
    {"permission_error", NYX_EIO, 0, 0, 1},
    {"not_found_error", NYX_EINVAL, 0, 1, 1},
    {"request_too_large", NYX_EINVAL, 0, 0, 1},
    {"billing_error", NYX_EIO, 0, 0, 1},
};

const error_kind *error_kinds(size_t *n)
{
    *n = sizeof kinds / sizeof kinds[0];
    return kinds;
}

const error_kind *error_kind_of(const char *type)
{
    for (size_t i = 0; type && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].type, type) == 0)
            return &kinds[i];
    return NULL;
}

int error_type_from_api(const char *type)
{
    const error_kind *k = error_kind_of(type);
    if (k)
        return k->from_api;
    size_t n = type ? strlen(type) : 0;
    return n > 6 && strcmp(type + n - 6, "_error") == 0;
}

int error_code(const error_info *err)
{
    const error_kind *k = error_kind_of(err->type);
    return k ? k->code : NYX_EIO;
}

