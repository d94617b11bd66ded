/* The JSON string literals of long texts, remembered. A request repeats its system prompt and
 * context from call to call; escaping 15 KB into a JSON string costs far more than finding the
 * literal made last time (a hash, then a comparison of the bytes, so a hit is always the same
 * text). Bounded: a few entries, each of a text of JSON_TEXT_MIN bytes to 1 MB. One belongs to
 * one thread.
 *
 * A body can also be built in pieces (claude/body.h): each remembered literal stands in it as
 * a reference to the one shared copy instead of a copy of its own, so a thousand calls in
 * flight with the same system prompt hold it once. */
#ifndef NYX_CLAUDE_JSON_TEXT_H
#define NYX_CLAUDE_JSON_TEXT_H

#include "types.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define JSON_TEXT_MIN 1024

typedef struct claude_json_texts claude_json_texts;
struct claude_body;
struct json_arena;

claude_json_texts *claude_json_texts_new(void);
void claude_json_texts_free(claude_json_texts *t);

/* claude_json_text of a text block's text; a shared text's literal is kept with the text
 * itself (block_literal), so finding it again reads no byte of the text, and the node refers
 * to it rather than copying it (the node must not outlive b). */
cJSON *claude_json_block_text(claude_json_texts *t, struct json_arena *a, const claude_block *b);

/* Building a body in pieces: between begin and end, the two functions above put a mark in
 * place of each literal they take from the memo or from a shared text (raw bytes cJSON never
 * prints on its own: a control byte and this memo's random tag); end takes the printed text
 * and cuts it at the marks into out (claude/body.h), which then holds a reference to each
 * literal. text NULL (the build failed) only ends the building. t NULL: out is text whole.
 * Returns 0, or -1 when out of memory (text is freed and out is empty). */
void claude_json_texts_begin(claude_json_texts *t);
int claude_json_texts_end(claude_json_texts *t, char *text, size_t len, struct claude_body *out);

/* A buffer to print a body in, kept from build to build (base/json_print.h); NULL when t is. */
struct textbuf *claude_json_texts_scratch(claude_json_texts *t);

/* The nodes of a body's tree, kept from build to build (base/json_arena.h); NULL when t is. */
struct json_arena *claude_json_texts_arena(claude_json_texts *t);

/* Literals made, and found in the memo (for tests). */
void claude_json_texts_counts(const claude_json_texts *t, unsigned long *made, unsigned long *found);

#endif
