/* Stored requests in parts (schema 5 in SQLite, 2 in PostgreSQL): text that repeats from call
 * to call (a system prompt, a shared context, a tool list, the messages of a conversation
 * sent again every turn) is kept once in llm_content, addressed by the SHA-256 of its bytes,
 * and an interaction keeps a recipe: its own bytes inline, a reference for each such part.
 * Joining the recipe gives back the request exactly as it was given to the store, byte for
 * byte (the parts are cut out of that text, never re-encoded).
 *
 * The hash is SHA-256 rather than a faster non-cryptographic hash because it is a row's
 * identity in a log meant for audit: prompts carry text a caller may choose, and a crafted
 * collision would make the log show another request than the one sent. Its cost is paid once
 * per distinct part per store (store_content_memo). Internal to engine/store. */
#ifndef NYX_STORE_CONTENT_H
#define NYX_STORE_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/quick_hash.h"
#include "base/textbuf.h"
#include "claude/types.h"

/* A part shorter than this stays inline: a reference and its row cost about as much. */
#define STORE_CONTENT_MIN 256
#define STORE_HASH_HEX 65 /* SHA-256 in hex, with its NUL */

/* One part of a request: bytes of the original text (not a copy) and their hash. */
typedef struct store_piece {
    const char *text;
    size_t len;
    char hash[STORE_HASH_HEX];
} store_piece;

/* A request as the store keeps it. recipe NULL: the text is stored whole (not JSON, or
 * nothing in it long enough to share). Otherwise recipe is a JSON array whose strings are
 * the text's own bytes and whose objects {"ref": HASH} stand for pieces[i] (each distinct
 * hash once). */
typedef struct store_parts {
    char *recipe;
    store_piece *pieces;
    size_t n;
} store_parts;

/* The hashes of recently stored parts, so a part sent again costs a fast hash, not a SHA-256:
 * each is found by its quick_hash (base/quick_hash.h: XXH3-128 seeded at random per process,
 * so nobody can craft a text that passes for another without knowing the seed), which the
 * writer of the text may know already (store_content_split_known). Belongs to one store;
 * zero-initialised; store_content_memo_free() at close. */
#define STORE_MEMO_SLOTS 64
typedef struct store_memo_slot {
    uint64_t quick[2]; /* the seeded XXH3-128 of the text */
    size_t len;
    char hash[STORE_HASH_HEX]; /* "": the slot is empty */
} store_memo_slot;
typedef struct store_content_memo {
    store_memo_slot slot[STORE_MEMO_SLOTS];
    textbuf printed; /* where a recipe is printed, kept from record to record */
    /* A request's bytes before its first part (its model, max_tokens, the system block's
     * opening: the same from call to call) and their JSON string, written once. */
    textbuf head, head_json;
} store_content_memo;

void store_content_memo_free(store_content_memo *m);

/* The SHA-256 of len bytes of text in lowercase hex (memo may be NULL). */
void store_content_hash(store_content_memo *m, const char *text, size_t len,
                        char out[STORE_HASH_HEX]);

/* Splits text (a request body as stored: JSON from the engine, or anything else) into its
 * parts: the value of the top-level "tools" and every other string of STORE_CONTENT_MIN bytes
 * or more, quotes included, cut out of the text as they are (base/json_scan.h). Returns 0 (out->recipe NULL when the text stays whole), or -1 when out
 * of memory (out is then empty). out->pieces point into text: keep text while using them. */
int store_content_split(store_content_memo *m, const char *text, store_parts *out);
/* The same, with text's length (strlen(text)) known, and where span[0..nspans) (in order of at)
 * are spans of text whose quick hash the caller knows (the redaction memo's, guard/memo.h): a
 * part that is exactly one of them is not hashed again. A span's hash must be of those very
 * bytes, and a span that opens and ends with a quote must be one whole JSON string (it is not
 * read for its end). */
int store_content_split_known(store_content_memo *m, const char *text, size_t len,
                              const hashed_span *span, size_t nspans, store_parts *out);
void store_parts_free(store_parts *p);

/* The body of the part hash: 0 with *body malloc'd (free it), or -1 with err filled
 * ("not_found" when no row has it). */
typedef int (*store_content_fetch)(void *ud, const char *hash, char **body, error_info *err);

/* The text a recipe stands for, malloc'd in *out. Returns 0, or -1 with err filled: the
 * recipe is not one this module wrote, a part is missing, or memory ran out. */
int store_content_join(const char *recipe, store_content_fetch fetch, void *ud, char **out,
                       error_info *err);

#endif
