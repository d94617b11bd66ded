/* Internal to the guard layer: the per-kind matchers guard_scan() dispatches to. Each looks at
 * the candidate anchored at byte i of p[0..len) and, when one is valid, returns 1 with *f set;
 * else 0. None reads past len. The scan stays linear: a matcher reads a bounded window, or
 * one token (which only a token's first byte can start, so each token is read a bounded number
 * of times), or, for a private key without an END line, the rest of the text, all of which it
 * then reports. lo is the end of the last reported finding: matchers that look backwards
 * ('@', ':') do not go below it. */
#ifndef NYX_GUARD_MATCH_H
#define NYX_GUARD_MATCH_H

#include <stddef.h>

#include "guard/scan.h"

/* ---- byte classes (ASCII only: bytes >= 0x80 belong to none) ---- */
static inline int g_digit(unsigned c) { return c - '0' < 10u; }
static inline int g_upper(unsigned c) { return c - 'A' < 26u; }
static inline int g_alpha(unsigned c) { return (c | 32u) - 'a' < 26u; }
static inline int g_alnum(unsigned c) { return g_digit(c) || g_alpha(c); }
static inline int g_hex(unsigned c) { return g_digit(c) || (c | 32u) - 'a' < 6u; }
/* characters of a token: base64url, and what key formats use between their parts */
static inline int g_tok(unsigned c) { return g_alnum(c) || c == '_' || c == '-'; }
static inline unsigned g_lower(unsigned c) { return g_upper(c) ? c | 32u : c; }

/* First index >= i where pred fails (or len). */
static inline size_t g_run_digits(const unsigned char *p, size_t len, size_t i)
{
    while (i < len && g_digit(p[i]))
        i++;
    return i;
}
static inline size_t g_run_tok(const unsigned char *p, size_t len, size_t i)
{
    while (i < len && g_tok(p[i]))
        i++;
    return i;
}
static inline size_t g_run_alnum(const unsigned char *p, size_t len, size_t i)
{
    while (i < len && g_alnum(p[i]))
        i++;
    return i;
}

/* 1 when p[i..] starts with the n bytes of s. */
static inline int g_has(const unsigned char *p, size_t len, size_t i, const char *s, size_t n)
{
    if (len - i < n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (p[i + k] != (unsigned char)s[k])
            return 0;
    return 1;
}
#define G_HAS(p, len, i, lit) g_has((p), (len), (i), (lit), sizeof(lit) - 1)

/* An IBAN at p[i..], where p[i..i+4) is two capitals and two digits at a word start: on
 * success *end is just past it. */
int g_iban_at(const unsigned char *p, size_t len, size_t i, size_t *end);

/* p[i] is a digit: SSN, US phone, card, IPv4 (the longest wins). */
int gm_digit(const unsigned char *p, size_t len, size_t i, guard_finding *f);
/* p[i] is a letter that starts a word: credentials, AWS keys and labels, JWT, IBAN. */
int gm_letter(const unsigned char *p, size_t len, size_t i, guard_finding *f);
/* p[i] == '@': e-mail address around it. */
int gm_at(const unsigned char *p, size_t len, size_t i, size_t lo, guard_finding *f);
/* p[i] == ':': IPv6 address whose first colon this is. */
int gm_colon(const unsigned char *p, size_t len, size_t i, size_t lo, guard_finding *f);
/* p[i] == '+': international phone number. */
int gm_plus(const unsigned char *p, size_t len, size_t i, guard_finding *f);
/* p[i] == '(': US phone number written (555) 123-4567. */
int gm_paren(const unsigned char *p, size_t len, size_t i, guard_finding *f);
/* p[i] == '-': PEM private key block. */
int gm_dash(const unsigned char *p, size_t len, size_t i, guard_finding *f);

#endif
