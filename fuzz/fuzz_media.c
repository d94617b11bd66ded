/* fuzz-link: engine/claude/media.c engine/base/file.c engine/base/json_print.c engine/base/json_number.c engine/base/error.c engine/base/textbuf.c */
/* An image or document block from bytes a script gives (nyx.call's {type = "image", data =
 * BYTES, media_type = ...}, engine/claude/media.h): the first byte picks the block's type and
 * the media_type given (none, each one the API takes, one it does not), the rest are the bytes.
 * Either the block is refused with invalid_argument and a message naming media_type or the
 * data, or it is JSON of that type whose media_type is one the API takes for it, agrees with
 * the one given and with the one the bytes' magic numbers say, and whose data gives back the
 * bytes exactly (base64, or the text itself for text/plain). */
#include "claude/media.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const given[] = {NULL,         "image/png",       "image/jpeg", "image/gif",
                                    "image/webp", "application/pdf", "text/plain", "image/bmp"};

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static int b64_value(char c)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *at = c ? strchr(abc, c) : NULL;
    return at ? (int)(at - abc) : -1;
}

/* Whether s is the padded base64 of p[0..n). */
static int base64_of(const char *s, const unsigned char *p, size_t n)
{
    size_t len = strlen(s);
    if (len != 4 * ((n + 2) / 3))
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = s[i + k] == '=' && i + 4 == len && k >= 2 ? 0 : b64_value(s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return 0;
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        for (int k = 0; k < 3 && o < n; k++, o++)
            if (b[k] != p[o])
                return 0;
    }
    return o == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *type = data[0] & 1 ? "document" : "image";
    const char *mt = given[(data[0] >> 1) & 7];
    const unsigned char *bytes = data + 1;
    size_t n = size - 1;
    error_info err;
    error_clear(&err);
    char *json = claude_media_block(type, NULL, bytes, n, mt, &err);
    if (!json) {
        if (strcmp(err.type, "invalid_argument") != 0 && strcmp(err.type, "out_of_memory") != 0)
            abort();
        if (strcmp(err.type, "invalid_argument") == 0 && !starts(err.message, "media_type: ") &&
            !starts(err.message, "data "))
            abort(); /* names what is wrong */
        return 0;
    }
    cJSON *block = cJSON_Parse(json);
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(block, "source");
    const char *btype = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(block, "type"));
    const char *stype = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(source, "type"));
    const char *smt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(source, "media_type"));
    const char *sdata = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(source, "data"));
    if (!btype || !stype || !smt || !sdata || strcmp(btype, type) != 0 || n == 0)
        abort();
    const char *sniffed = claude_media_sniff(bytes, n);
    int is_image = strcmp(type, "image") == 0;
    if ((is_image ? !starts(smt, "image/") || strcmp(smt, "image/bmp") == 0
                  : strcmp(smt, "application/pdf") != 0 && strcmp(smt, "text/plain") != 0) ||
        (mt && strcmp(mt, smt) != 0) || (sniffed && strcmp(sniffed, smt) != 0))
        abort(); /* a type the API takes for the block, the one given, the one the bytes say */
    if (strcmp(smt, "text/plain") == 0) {
        if (strcmp(stype, "text") != 0 || strlen(sdata) != n || memcmp(sdata, bytes, n) != 0)
            abort();
    } else if (strcmp(stype, "base64") != 0 || !base64_of(sdata, bytes, n)) {
        abort();
    }
    cJSON_Delete(block);
    cJSON_free(json);
    return 0;
}
