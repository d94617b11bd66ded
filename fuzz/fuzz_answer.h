/* What a check a fuzz target drives must leave: 0, or -1 with a type and a NUL-terminated
 * message; a refusal is invalid_argument whose message starts with prefix (the place it names,
 * from the caller's name; NULL: any), out of memory aside. Anything else aborts, for libFuzzer
 * to report. */
#ifndef NYX_FUZZ_ANSWER_H
#define NYX_FUZZ_ANSWER_H

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static inline void expect_answer(int rc, const error_info *err, const char *prefix)
{
    if (rc == 0)
        return;
    if (rc != -1 || err->type[0] == '\0' || err->message[0] == '\0' ||
        memchr(err->message, '\0', sizeof err->message) == NULL)
        abort();
    if (strcmp(err->type, "out_of_memory") == 0)
        return;
    if (strcmp(err->type, "invalid_argument") != 0 ||
        (prefix && strncmp(err->message, prefix, strlen(prefix)) != 0))
        abort();
}

#endif
