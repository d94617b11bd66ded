/* The simulator's tokenizer: deterministic, greedy left to right, about one token per four
 * characters of English prose without being len/4. Words go in pieces of up to 5 letters,
 * numbers in pieces of up to 3 digits, each punctuation mark and each non-ASCII character is
 * one token, a single space joins the piece after it, longer space runs cost one token per
 * 4 spaces and a run of line breaks costs one. Cutting after any token leaves a prefix that
 * tokenizes to exactly the tokens before the cut (sim_token_prefix relies on it). */
#include "sim_core.h"

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_space(unsigned char c) { return c == ' ' || c == '\t'; }
static int is_break(unsigned char c) { return c == '\n' || c == '\r'; }

/* End of the token that starts at i (i < len). */
static size_t next_token(const unsigned char *s, size_t len, size_t i)
{
    size_t j = i;
    /* One space before a word or mark belongs to it. */
    if (s[j] == ' ' && j + 1 < len && !is_space(s[j + 1]) && !is_break(s[j + 1]))
        j++;
    unsigned char c = s[j];
    size_t n = 0;
    if (j == i && is_space(c)) {
        while (j < len && is_space(s[j]) && n < 4) {
            j++;
            n++;
        }
        return j;
    }
    if (is_break(c)) {
        while (j < len && is_break(s[j]))
            j++;
        return j;
    }
    if (is_alpha(c)) {
        while (j < len && is_alpha(s[j]) && n < 5) {
            j++;
            n++;
        }
        return j;
    }
    if (is_digit(c)) {
        while (j < len && is_digit(s[j]) && n < 3) {
            j++;
            n++;
        }
        return j;
    }
    j++;
    if (c >= 0xC0) /* a UTF-8 lead byte: its continuation bytes are the same character */
        while (j < len && (s[j] & 0xC0) == 0x80 && n < 3) {
            j++;
            n++;
        }
    return j;
}

int64_t sim_count_tokens(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    int64_t n = 0;
    if (!text)
        return 0;
    for (size_t i = 0; i < len; i = next_token(s, len, i))
        n++;
    return n;
}

size_t sim_token_prefix(const char *text, size_t len, int64_t ntok)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    if (!text)
        return 0;
    for (int64_t k = 0; k < ntok && i < len; k++)
        i = next_token(s, len, i);
    return i;
}
