/* PII and secrets scanner: finds e-mail addresses, phone numbers, card numbers, US social
 * security numbers, IP addresses, IBANs and credentials (API keys, AWS keys, JWTs, private key
 * blocks) in text, and redacts them. One pass over the bytes: most bytes cost one table look-up;
 * only bytes that can begin (or, for '@' and ':', anchor) a finding are examined further, so
 * ordinary prose scans at hundreds of MB/s. Stateless and thread-safe; never allocates except in
 * guard_redact(). */
#ifndef NYX_GUARD_SCAN_H
#define NYX_GUARD_SCAN_H

#include <stddef.h>

typedef enum {
    GUARD_EMAIL,       /* local@domain.tld */
    GUARD_PHONE,       /* +CC international, or US (555) 123-4567 / 555-123-4567 / 1-800-... */
    GUARD_CARD,        /* 13-19 digits, grouped or not, known issuer prefix, Luhn-valid */
    GUARD_SSN,         /* US social security number AAA-GG-SSSS, invalid ranges excluded */
    GUARD_IPV4,        /* dotted quad, each octet 0-255, not part of a longer dotted number */
    GUARD_IPV6,        /* full or :: compressed, optional dotted-quad tail */
    GUARD_IBAN,        /* country + check digits + BBAN, plain or in groups of 4, mod-97 valid */
    GUARD_API_KEY,     /* sk-ant-, sk-, ghp_/gho_/ghu_/ghs_/ghr_, github_pat_, xox?-, AIza,
                          sk_live_/rk_live_/sk_test_/rk_test_ */
    GUARD_AWS_KEY,     /* AKIA/ASIA access key ids; the value of a labelled secret access key */
    GUARD_JWT,         /* eyJ... . ... . ... */
    GUARD_PRIVATE_KEY, /* -----BEGIN ... PRIVATE KEY----- through its END line */
    GUARD_KIND_COUNT
} guard_kind;

/* One finding: text[start..end) in byte offsets, end exclusive. */
typedef struct guard_finding {
    guard_kind kind;
    size_t start, end;
} guard_finding;

/* Called once per finding, in order. Return 0 to go on, non-zero to stop the scan. */
typedef int (*guard_fn)(void *ud, const guard_finding *f);

/* The kind's stable name: "email", "phone", "card", "ssn", "ipv4", "ipv6", "iban", "api_key",
 * "aws_key", "jwt", "private_key"; "unknown" out of range. Static storage. */
const char *guard_kind_name(guard_kind k);

/* The replacement text guard_redact() writes: "[EMAIL]", "[PHONE]", "[CARD]", "[SSN]", "[IP]"
 * (both IP kinds), "[IBAN]", "[SECRET]" (the four credential kinds); "[REDACTED]" out of range.
 * Static storage. */
const char *guard_kind_label(guard_kind k);

/* Scans text[0..len) (NUL bytes are ordinary bytes; text may be NULL when len is 0) and calls
 * fn for each finding in order of position. Findings never overlap: where candidates overlap,
 * the longer one is reported. A labelled AWS secret reports the value only, so the label stays
 * readable after redaction. An unterminated private key block runs to the end of text.
 * Returns the number of findings passed to fn: when fn returns non-zero the scan stops and the
 * count includes that finding. fn may be NULL to count findings only. */
size_t guard_scan(const char *text, /* bytes to scan; need not be NUL-terminated */
                  size_t len,       /* their number */
                  guard_fn fn,      /* called per finding, or NULL */
                  void *ud          /* passed to fn */
);

/* Returns a copy of text with every finding replaced by its label (see guard_kind_label), NUL-
 * terminated, to be freed with free(); *out_len (when out_len is not NULL) is set to its length
 * without the NUL. Returns NULL when out of memory. */
char *guard_redact(const char *text, /* bytes to redact; may be NULL when len is 0 */
                   size_t len,       /* their number */
                   size_t *out_len   /* length of the result written here, or NULL */
);

/* guard_redact for names that are keys (sessions, agents, budget scopes): each finding becomes
 * its label with a tag, a hash of what it replaced ("[EMAIL:1a2b3c4d]"), so names that differed
 * stay distinct and the same name always redacts alike. A pseudonym, not an anonymisation:
 * whoever can guess the original can check the guess. */
char *guard_redact_tagged(const char *text, size_t len, size_t *out_len);

/* Writes a display form of a NUL-terminated secret into out: the first 6 and last 2
 * characters kept and every other one replaced by '*', so "sk-ant-api03-...-AbCd" shows as
 * "sk-ant***...***Cd" with the secret's length. Secrets shorter than 12 characters are starred
 * entirely, since keeping 8 of them would show most of the secret. The result is truncated to
 * out_size - 1 characters (never revealing more) and always NUL-terminated when out_size > 0.
 * secret NULL is treated as "". */
void guard_mask(const char *secret, /* the secret, NUL-terminated, or NULL */
                char *out,          /* written here */
                size_t out_size     /* size of out in bytes, NUL included */
);

#endif
