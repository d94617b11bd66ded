/* Redaction that scans each distinct text once. A request body repeats most of itself from
 * call to call (the system prompt, a shared context, the earlier turns of a conversation): the
 * memo keeps, by a seeded 128-bit hash of their bytes, what the scanner made of the long JSON
 * strings in it, and scans only the rest. The result is guard_redact()'s: where a finding could
 * reach across the edge of a remembered string (a label outside it naming a secret inside, a
 * private key block left open), the body is redacted whole instead. Whether a cut is safe depends
 * only on the bytes around it, the same from call to call on the system prompt's side: that
 * verdict is remembered too, by the same kind of hash of the window, and when the window reaches
 * into what changes (the question after the prompt), the findings of its half on the prompt's
 * side are. Bounded: a fixed number of
 * entries and of bytes of redacted copies. One memo belongs to one thread. */
#ifndef NYX_GUARD_MEMO_H
#define NYX_GUARD_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "base/quick_hash.h"

/* A JSON string (its quotes included) this long or longer is remembered. */
#define GUARD_MEMO_MIN 256

typedef struct guard_memo guard_memo;

/* A new, empty memo; NULL when out of memory. */
guard_memo *guard_memo_new(void);
void guard_memo_free(guard_memo *m);

/* guard_redact(text, len, out_len), remembering what it scans (m NULL: guard_redact itself),
 * written over o when it changes anything (o emptied first, its room kept: a caller that
 * redacts one body after another into one buffer allocates only when a body is longer than
 * any before). Returns the redaction: text itself when it changes nothing
 * (most bodies; no byte copied, so NUL-terminated after len only if text is), else o->s (o->len
 * bytes, NUL-terminated); NULL when out of memory. known[0..nknown) (in order of at; may be
 * NULL) are spans of text whose hash the caller knows (claude_body_flatten_into's: the hashes
 * of shared literals, made once): a long string that is exactly one of them is looked up by it
 * instead of hashed; a known hash must be of those very bytes, and a known span that opens with
 * a quote and ends with one must be one whole JSON string (it is not read for its end). The long strings written from
 * the memo, with the hash of the bytes they were written as (base/quick_hash.h), go to span[]
 * (offsets in the redaction), in order, at most max_spans, their number to *nspans (span and
 * nspans may be NULL): the store cuts the same strings out of the text and need not hash them
 * again. */
#define GUARD_MEMO_MAX_SPANS 64
struct textbuf;
const char *guard_memo_redact_into(guard_memo *m, const char *text, size_t len, const hashed_span *known,
                                   size_t nknown, struct textbuf *o, hashed_span *span, size_t max_spans,
                                   size_t *nspans);

typedef struct guard_memo_stats {
    uint64_t scans;  /* long strings scanned (not found in the memo) */
    uint64_t hits;   /* long strings found in the memo, not scanned again */
    uint64_t whole;  /* bodies redacted whole (a finding at the edge of a long string) */
    uint64_t cuts_checked; /* windows around a cut scanned to see whether cutting there is safe */
    uint64_t cuts_known;   /* windows found in the memo, not scanned again */
    uint64_t halves_known; /* of windows scanned, halves inside a long string found in the memo */
    uint64_t pieces_known; /* short heads and tails redacted from their cut's window, not scanned again */
    size_t entries;  /* remembered now */
    size_t bytes;    /* of redacted copies held now */
} guard_memo_stats;
void guard_memo_get_stats(const guard_memo *m, guard_memo_stats *out);

#endif
