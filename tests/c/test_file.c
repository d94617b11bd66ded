/* engine/base/file: a file read whole from where it stands, across the reader's growth, with a
 * NUL after it; an empty file is an empty text; a file of max bytes or more is EFBIG (the
 * limit the media, template and model readers had each kept). By path, a file that cannot be
 * opened is -1 and one that cannot be read is -2, so that the readers word the two apart. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include "base/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *file_of(size_t n)
{
    FILE *f = tmpfile();
    for (size_t i = 0; f && i < n; i++)
        fputc('a' + (int)(i % 26), f);
    if (f)
        rewind(f);
    return f;
}

int main(void)
{
    char *text = NULL;
    size_t len = 0;

    FILE *f = file_of(20000);
    CHECK(f != NULL);
    CHECK_INT(file_read_all(f, 0, &text, &len), 0);
    CHECK_INT((long)len, 20000);
    CHECK(text && text[0] == 'a' && text[19999] == 'a' + 19999 % 26 && text[20000] == '\0');
    free(text);
    text = NULL;
    fseek(f, 19990, SEEK_SET);
    CHECK_INT(file_read_all(f, 0, &text, &len), 0);
    CHECK_INT((long)len, 10);
    free(text);
    fclose(f);

    f = file_of(0);
    CHECK_INT(file_read_all(f, 0, &text, &len), 0);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);
    fclose(f);

    f = file_of(100);
    text = NULL;
    errno = 0;
    CHECK_INT(file_read_all(f, 100, &text, &len), -1);
    CHECK_INT(errno, EFBIG);
    CHECK(text == NULL);
    rewind(f);
    CHECK_INT(file_read_all(f, 101, &text, &len), 0);
    CHECK_INT((long)len, 100);
    free(text);
    fclose(f);

    char path[] = "/tmp/nyx_test_file_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT((int)write(fd, "abc", 3), 3);
    close(fd);
    text = NULL;
    CHECK_INT(file_read_path(path, 0, &text, &len), 0);
    CHECK(text && len == 3 && strcmp(text, "abc") == 0);
    free(text);
    text = NULL;
    errno = 0;
    CHECK_INT(file_read_path(path, 3, &text, &len), -2);
    CHECK_INT(errno, EFBIG);
    CHECK(text == NULL);
    unlink(path);
    errno = 0;
    CHECK_INT(file_read_path(path, 0, &text, &len), -1);
    CHECK_INT(errno, ENOENT);
    CHECK(text == NULL);
    /* A directory opens but cannot be read. */
    errno = 0;
    CHECK_INT(file_read_path("/tmp", 0, &text, &len), -2);
    CHECK_INT(errno, EISDIR);
    return check_failures;
}
