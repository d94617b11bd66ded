/* engine/base/file: a file read whole from where it stands, across the reader's growth, with a
 * NUL after it; an empty file is an empty text; a file of max bytes or more is EFBIG (the
 * limit the media, template and model readers had each kept). */
#include "check.h"

#include "base/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return check_failures;
}
