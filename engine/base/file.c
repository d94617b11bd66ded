#include "base/file.h"

#include <errno.h>
#include <stdlib.h>

int file_read_all(FILE *f, size_t max, char **out, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int why = 0;
    for (;;) {
        /* One byte past what was read stays free for the NUL. */
        if (n + 1 >= cap) {
            char *grown = realloc(buf, cap = cap ? cap * 2 : 8192);
            if (!grown) {
                why = ENOMEM;
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (max && n >= max) {
            why = EFBIG;
            break;
        }
        if (got == 0) {
            if (ferror(f))
                why = errno ? errno : EIO;
            break;
        }
    }
    if (why) {
        free(buf);
        errno = why;
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int file_read_path(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int rc = file_read_all(f, max, out, len);
    int why = errno;
    fclose(f);
    errno = why;
    return rc ? -2 : 0;
}
