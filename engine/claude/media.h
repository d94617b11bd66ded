/* Image and document content blocks from a file or from bytes, their media type checked. */
#ifndef NYX_CLAUDE_MEDIA_H
#define NYX_CLAUDE_MEDIA_H

#include <stddef.h>

#include "types.h"

/* Files above this are refused before they are read whole (the API takes far less). */
#define NYX_MEDIA_MAX_BYTES (64 * 1024 * 1024)

/* The media type the bytes' magic numbers say (image/png, image/jpeg, image/gif, image/webp,
 * application/pdf), or NULL. */
const char *claude_media_sniff(const unsigned char *p, size_t n);

/* The block {"type": type, "source": {"type": "base64" | "text", "media_type", "data"}} as
 * JSON text (free with cJSON_free()), from the file at path, or else from data[0..len). type is
 * "image" or "document"; media_type may be NULL (then sniffed). Refused (NULL,
 * invalid_argument naming the field): a type the API does not take for that block, a given
 * media_type the bytes contradict, unrecognised bytes without media_type, an empty or
 * unreadable file. Plain text documents go as text, everything else base64. */
char *claude_media_block(const char *type, const char *path, const unsigned char *data,
                         size_t len, const char *media_type, error_info *err);

#endif
