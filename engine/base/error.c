#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void nyx_error_clear(nyx_error *e)
{
    memset(e, 0, sizeof *e);
    e->retry_after_s = -1.0;
    e->should_retry = -1;
}

void nyx_error_set(nyx_error *e, const char *type, int status, const char *fmt, ...)
{
    snprintf(e->type, sizeof e->type, "%s", type);
    e->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}
