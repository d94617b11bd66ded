#define _POSIX_C_SOURCE 200809L
/* Image and document blocks from a file or from bytes. The media type is read from the bytes
 * themselves (their magic numbers), so a PNG named .jpg, or a media_type that contradicts the
 * content, is refused here rather than by the API after the upload was paid for. */
#include "media.h"
#include "base/file.h"
#include "base/json_print.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define fail(err, type, ...) error_fail(err, type, 0, __VA_ARGS__)

const char *claude_media_sniff(const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && memcmp(p, "\xff\xd8\xff", 3) == 0)
        return "image/jpeg";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return "image/gif";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
        return "application/pdf";
    return NULL;
}

static const char *const image_types[] = {"image/jpeg", "image/png", "image/gif", "image/webp", NULL};
static const char *const document_types[] = {"application/pdf", "text/plain", NULL};

static int listed(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static char *base64(const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = 4 * ((n + 2) / 3);
    char *out = malloc(out_len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = abc[(v >> 18) & 63];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static unsigned char *read_file(const char *path, size_t *len, error_info *err)
{
    char *buf = NULL;
    int rc = file_read_path(path, NYX_MEDIA_MAX_BYTES, &buf, len);
    if (rc == 0)
        return (unsigned char *)buf;
    if (rc == -1)
        fail(err, "invalid_argument", "path: cannot open %.200s: %s", path, strerror(errno));
    else if (errno == EFBIG)
        fail(err, "invalid_argument", "path: %.200s is larger than %d MiB", path,
             NYX_MEDIA_MAX_BYTES >> 20);
    else if (errno == ENOMEM)
        fail(err, "out_of_memory", "out of memory reading %.200s", path);
    else
        fail(err, "invalid_argument", "path: cannot read %.200s", path);
    return NULL;
}

char *claude_media_block(const char *type, const char *path, const unsigned char *data,
                         size_t len, const char *media_type, error_info *err)
{
    int is_image = strcmp(type, "image") == 0;
    if (!is_image && strcmp(type, "document") != 0) {
        fail(err, "invalid_argument", "type: only image and document blocks take a path or data");
        return NULL;
    }
    unsigned char *owned = NULL;
    if (path) {
        if (!(owned = read_file(path, &len, err)))
            return NULL;
        data = owned;
    }
    const char *where = path ? path : "data";
    const char *sniffed = claude_media_sniff(data, len);
    const char *mt = media_type ? media_type : sniffed;
    char *out = NULL;
    if (!mt)
        fail(err, "invalid_argument", "media_type: %.200s is no image or PDF nyx recognises; give "
             "media_type", where);
    else if (!listed(is_image ? image_types : document_types, mt))
        fail(err, "invalid_argument", "media_type: %s is not one the API takes for %s blocks (%s)", mt,
             type, is_image ? "image/jpeg, image/png, image/gif, image/webp" : "application/pdf, text/plain");
    else if (media_type && sniffed && strcmp(media_type, sniffed) != 0)
        fail(err, "invalid_argument", "media_type: %s given, but %.200s holds %s", media_type, where,
             sniffed);
    else if (len == 0)
        fail(err, "invalid_argument", "%.200s is empty", where);
    else if (strcmp(mt, "text/plain") == 0 && memchr(data, '\0', len))
        fail(err, "invalid_argument", "%.200s is not text (it holds a NUL byte)", where);
    else {
        int text = strcmp(mt, "text/plain") == 0;
        char *payload = text ? malloc(len + 1) : base64(data, len);
        if (payload && text) {
            memcpy(payload, data, len);
            payload[len] = '\0';
        }
        cJSON *block = cJSON_CreateObject(), *source = cJSON_CreateObject();
        int ok = payload && block && source && cJSON_AddStringToObject(block, "type", type) &&
                 cJSON_AddItemToObject(block, "source", source);
        if (ok)
            source = NULL;
        else
            cJSON_Delete(source);
        cJSON *src = cJSON_GetObjectItemCaseSensitive(block, "source");
        ok = ok && cJSON_AddStringToObject(src, "type", text ? "text" : "base64") &&
             cJSON_AddStringToObject(src, "media_type", mt) &&
             cJSON_AddStringToObject(src, "data", payload);
        if (ok)
            out = json_print(block);
        cJSON_Delete(block);
        free(payload);
        if (!out)
            fail(err, "out_of_memory", "out of memory building a %s block", type);
    }
    free(owned);
    return out;
}
