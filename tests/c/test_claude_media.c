#define _POSIX_C_SOURCE 200809L
/* Image and document blocks from bytes and files: the media type read from the bytes, a
 * contradicting or unsupported one refused, the payload base64 (text documents as text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "claude/media.h"

static const unsigned char PNG[] = "\x89PNG\r\n\x1a\nabc";

static void test_bytes(void)
{
    error_info err = cleared_error();
    char *b = claude_media_block("image", NULL, PNG, sizeof PNG - 1, NULL, &err);
    /* 11 bytes -> 16 base64 characters, the last one padding. */
    CHECK_STR(b, "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                 "\"data\":\"iVBORw0KGgphYmM=\"}}");
    cJSON_free(b);
    b = claude_media_block("image", NULL, PNG, sizeof PNG - 1, "image/jpeg", &err);
    CHECK(b == NULL);
    CHECK_ERROR(err, "invalid_argument", "image/jpeg given, but data holds image/png");
    b = claude_media_block("image", NULL, (const unsigned char *)"plain", 5, NULL, &err);
    CHECK(b == NULL);
    CHECK(strstr(err.message, "give media_type") != NULL);
    b = claude_media_block("document", NULL, PNG, sizeof PNG - 1, NULL, &err);
    CHECK(b == NULL);
    CHECK(strstr(err.message, "image/png is not one the API takes for document") != NULL);
    b = claude_media_block("document", NULL, (const unsigned char *)"notes", 5, "text/plain", &err);
    CHECK_STR(b, "{\"type\":\"document\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\","
                 "\"data\":\"notes\"}}");
    cJSON_free(b);
    CHECK_STR(claude_media_sniff((const unsigned char *)"%PDF-1.7", 8), "application/pdf");
    CHECK_STR(claude_media_sniff((const unsigned char *)"RIFF\0\0\0\0WEBPVP8", 15), "image/webp");
}

static void test_file(void)
{
    char path[] = "/tmp/nyx-media-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    CHECK(f && fwrite("GIF89a", 1, 6, f) == 6);
    fclose(f);
    error_info err = cleared_error();
    char *b = claude_media_block("image", path, NULL, 0, NULL, &err);
    CHECK(b && strstr(b, "\"media_type\":\"image/gif\",\"data\":\"R0lGODlh\"") != NULL);
    cJSON_free(b);
    remove(path);
    b = claude_media_block("image", path, NULL, 0, NULL, &err);
    CHECK(b == NULL);
    CHECK(strstr(err.message, "cannot open") != NULL);
}

int main(void)
{
    test_bytes();
    test_file();
    CHECK_DONE();
}
