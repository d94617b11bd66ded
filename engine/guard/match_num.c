/* Matchers for the kinds made of numbers: SSN, phone numbers, card numbers, IPv4, IPv6, IBAN.
 * Each validates structure first (cheap, rejects prose at once) and checksums last. */
#include <string.h>

#include "guard/match.h"

/* ---- boundaries ---- */

/* A number may start at i: not glued to a word, not right after '+' (the international phone
 * matcher owns that), and not the continuation of a dashed or dotted number, so the tail of
 * "12-555-123-4567" or "v1.2.3.4.5" is not taken for one. */
static int num_start_ok(const unsigned char *p, size_t i)
{
    if (i == 0)
        return 1;
    unsigned b = p[i - 1];
    if (g_alnum(b) || b == '_' || b == '+')
        return 0;
    if (i >= 2 && ((b == '-' && g_digit(p[i - 2])) || (b == '.' && g_alnum(p[i - 2]))))
        return 0;
    return 1;
}

/* A number may end at e: not glued to a word and not followed by "-7" or ".7", which would
 * make it part of a longer number (a date, a version, an account number). */
static int num_end_ok(const unsigned char *p, size_t len, size_t e)
{
    if (e >= len)
        return 1;
    unsigned c = p[e];
    if (g_alnum(c) || c == '_')
        return 0;
    if ((c == '-' || c == '.') && e + 1 < len && g_digit(p[e + 1]))
        return 0;
    return 1;
}

static int digits_at(const unsigned char *p, size_t len, size_t i, size_t n)
{
    if (len - i < n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (!g_digit(p[i + k]))
            return 0;
    return 1;
}

static unsigned num_of(const unsigned char *p, size_t i, size_t n)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++)
        v = v * 10 + (p[i + k] - '0');
    return v;
}

/* ---- SSN ---- */

/* AAA-GG-SSSS (or with single spaces). Never issued: area 000, 666 and 900-999, group 00,
 * serial 0000; those are rejected, which also keeps most look-alike codes out. */
static int ssn_at(const unsigned char *p, size_t len, size_t i, size_t *end)
{
    if (len - i < 11 || !digits_at(p, len, i, 3))
        return 0;
    unsigned sep = p[i + 3];
    if ((sep != '-' && sep != ' ') || p[i + 6] != sep || !digits_at(p, len, i + 4, 2) ||
        !digits_at(p, len, i + 7, 4) || !num_end_ok(p, len, i + 11))
        return 0;
    unsigned area = num_of(p, i, 3), group = num_of(p, i + 4, 2), serial = num_of(p, i + 7, 4);
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return 0;
    *end = i + 11;
    return 1;
}

/* ---- phone numbers ---- */

static int phone_sep(unsigned c) { return c == '-' || c == '.' || c == ' '; }

/* US 10-digit forms at p[j]: 555-123-4567, 555.123.4567, 555 123 4567 (one separator
 * throughout), (555) 123-4567, (555)123-4567. Ungrouped 10-digit runs are left alone: they
 * are as often order numbers or timestamps. */
static int us_core(const unsigned char *p, size_t len, size_t j, size_t *end)
{
    if (p[j] == '(') {
        if (!digits_at(p, len, j + 1, 3) || len - j < 5 || p[j + 4] != ')')
            return 0;
        j += 5;
        if (j < len && p[j] == ' ')
            j++;
        if (!digits_at(p, len, j, 3) || len - j < 8 || !phone_sep(p[j + 3]) ||
            !digits_at(p, len, j + 4, 4))
            return 0;
        *end = j + 8;
        return 1;
    }
    if (!digits_at(p, len, j, 3) || len - j < 12)
        return 0;
    unsigned s = p[j + 3];
    if (!phone_sep(s) || p[j + 7] != s || !digits_at(p, len, j + 4, 3) ||
        !digits_at(p, len, j + 8, 4))
        return 0;
    *end = j + 12;
    return 1;
}

/* A US number at a digit, optionally with the trunk prefix "1-", "1 " or "1.". */
static int us_phone_at(const unsigned char *p, size_t len, size_t i, size_t *end)
{
    size_t e;
    if (p[i] == '1' && len - i > 2 && phone_sep(p[i + 1]) && us_core(p, len, i + 2, &e) &&
        num_end_ok(p, len, e)) {
        *end = e;
        return 1;
    }
    if (us_core(p, len, i, &e) && num_end_ok(p, len, e)) {
        *end = e;
        return 1;
    }
    return 0;
}

int gm_paren(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    size_t e;
    if (i > 0 && (g_alnum(p[i - 1]) || p[i - 1] == '_'))
        return 0;
    if (!us_core(p, len, i, &e) || !num_end_ok(p, len, e))
        return 0;
    *f = (guard_finding){GUARD_PHONE, i, e};
    return 1;
}

/* +CC and the subscriber number, digits in groups separated by one space, dash or dot, with
 * an optional parenthesised group ("+44 (0)20 7946 0958"). E.164 allows at most 15 digits; we
 * ask for at least 8 when grouped and 10 when not, so "+5.00" and "+2024" stay prose. The
 * longest acceptable prefix wins, so a trailing unrelated number is not swallowed. */
int gm_plus(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    /* after a space or the punctuation a number is written after; not "~+20191229111838" */
    if (i > 0 && !strchr(" \t\r\n([{<>\"':;,=/|", p[i - 1]))
        return 0;
    size_t j = i + 1;
    if (j >= len || !g_digit(p[j]) || p[j] == '0')
        return 0;
    size_t e = g_run_digits(p, len, j);
    size_t digits = e - j, groups = 1, best = 0;
    if (digits > 15)
        return 0;
    j = e;
    for (;;) {
        if (digits >= (groups > 1 ? 8u : 10u) && num_end_ok(p, len, j))
            best = j;
        size_t k = j, nd = digits;
        if (k < len && phone_sep(p[k]))
            k++;
        if (k < len && p[k] == '(') {
            size_t q = g_run_digits(p, len, k + 1);
            if (q == k + 1 || q - (k + 1) > 4 || q >= len || p[q] != ')')
                break;
            nd += q - (k + 1);
            k = q + 1;
            if (k < len && phone_sep(p[k]))
                k++;
        }
        if (k == j || k >= len || !g_digit(p[k]))
            break;
        size_t q = g_run_digits(p, len, k);
        if (nd + (q - k) > 15)
            break;
        digits = nd + (q - k);
        groups++;
        j = q;
    }
    if (!best)
        return 0;
    *f = (guard_finding){GUARD_PHONE, i, best};
    return 1;
}

/* ---- card numbers ---- */

/* Issuer prefixes and the lengths each issues. */
static int card_iin_ok(const unsigned char *d, size_t n)
{
    unsigned p1 = d[0], p2 = p1 * 10 + d[1], p3 = p2 * 10 + d[2], p4 = p3 * 10 + d[3];
    if (p1 == 4) /* Visa */
        return n == 13 || n == 16 || n == 19;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) /* Mastercard */
        return n == 16;
    if (p2 == 34 || p2 == 37) /* American Express */
        return n == 15;
    if (p4 >= 2200 && p4 <= 2204) /* Mir */
        return n >= 16;
    if (p4 >= 3528 && p4 <= 3589) /* JCB */
        return n >= 16;
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) /* Diners Club */
        return n >= 14;
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62) /* Discover, UnionPay */
        return n >= 16;
    if (p2 == 50 || (p2 >= 56 && p2 <= 69)) /* Maestro */
        return 1;
    return 0;
}

static int luhn_ok(const unsigned char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned v = d[n - 1 - k];
        if (k & 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static int card_ok(const unsigned char *d, size_t n)
{
    return n >= 13 && n <= 19 && card_iin_ok(d, n) && luhn_ok(d, n);
}

/* 13-19 digits, either one run or groups (the first of 4, the others of 2-6) separated by one
 * kind of separator, space or dash. The longest valid prefix ending at a group end wins. */
static int card_at(const unsigned char *p, size_t len, size_t i, size_t *end)
{
    unsigned char d[19] = {0}; /* every digit read is written first; gcc -O3 cannot tell */
    size_t j = g_run_digits(p, len, i), n = j - i;
    if (n > 19)
        return 0;
    for (size_t k = 0; k < n; k++)
        d[k] = (unsigned char)(p[i + k] - '0');
    if (n != 4 || !(j + 1 < len && (p[j] == ' ' || p[j] == '-') && g_digit(p[j + 1]))) {
        if (!card_ok(d, n) || !num_end_ok(p, len, j))
            return 0;
        *end = j;
        return 1;
    }
    unsigned sep = p[j];
    size_t best = 0;
    while (j + 1 < len && p[j] == sep && g_digit(p[j + 1])) {
        size_t g = j + 1, e = g_run_digits(p, len, g), gl = e - g;
        if (gl < 2 || gl > 6 || n + gl > 19)
            break;
        for (size_t k = 0; k < gl; k++)
            d[n + k] = (unsigned char)(p[g + k] - '0');
        n += gl;
        j = e;
        if (card_ok(d, n) && num_end_ok(p, len, j))
            best = j;
    }
    if (!best)
        return 0;
    *end = best;
    return 1;
}

/* ---- IPv4 ---- */

/* A dotted quad at p[i..]: on success *end is just past it. Checks the octets only, not what
 * surrounds them. Shared by IPv4 and the IPv6 dotted tail. */
static int g_ipv4_at(const unsigned char *p, size_t len, size_t i, size_t *end)
{
    size_t j = i;
    for (int k = 0; k < 4; k++) {
        if (k) {
            if (j >= len || p[j] != '.')
                return 0;
            j++;
        }
        size_t g = j;
        unsigned v = 0;
        while (j < len && g_digit(p[j]) && j - g < 3)
            v = v * 10 + (p[j++] - '0');
        if (j == g || v > 255 || (j < len && g_digit(p[j])) || (j - g > 1 && p[g] == '0'))
            return 0;
    }
    *end = j;
    return 1;
}

/* "version" (any case) in the 24 bytes before i, with no line break or digit between:
 * "Standards-Version: 4.2.1.0", "upgrade from versions before 1.7.9.5". */
static int after_version_word(const unsigned char *p, size_t i)
{
    static const char word[] = "version";
    size_t lo = i > 24 ? i - 24 : 0;
    for (size_t k = i; k-- > lo;) {
        if (p[k] == '\n' || g_digit(p[k]))
            return 0;
        if (k + 7 <= i) {
            size_t m = 0;
            while (m < 7 && g_lower(p[k + m]) == (unsigned char)word[m])
                m++;
            if (m == 7)
                return 1;
        }
    }
    return 0;
}

/* A dotted quad standing alone: "1.2.3.4.5", "v1.2.3.4", "3.31.0.2-2" and "version 2.5.0.0"
 * are versions, not addresses; "10.0.0.1/24", "10.0.0.1:80" and "10.0.0.1-10.0.0.9" hold
 * addresses. */
static int ipv4_cand(const unsigned char *p, size_t len, size_t i, size_t *end)
{
    if (i > 0) {
        unsigned b = p[i - 1];
        if (g_alnum(b) || b == '_' || (b == '.' && i >= 2 && g_alnum(p[i - 2])))
            return 0;
    }
    size_t e, e2;
    if (!g_ipv4_at(p, len, i, &e))
        return 0;
    if (e < len && (g_alnum(p[e]) || p[e] == '_' ||
                    (p[e] == '.' && e + 1 < len && g_digit(p[e + 1])) ||
                    (p[e] == '-' && e + 1 < len && g_digit(p[e + 1]) &&
                     !g_ipv4_at(p, len, e + 1, &e2))))
        return 0;
    if (after_version_word(p, i))
        return 0;
    *end = e;
    return 1;
}

int gm_digit(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    size_t best = i, e;
    guard_kind kind = GUARD_PHONE;
    if (num_start_ok(p, i)) {
        if (ssn_at(p, len, i, &e) && e > best)
            best = e, kind = GUARD_SSN;
        if (us_phone_at(p, len, i, &e) && e > best)
            best = e, kind = GUARD_PHONE;
        if (card_at(p, len, i, &e) && e > best)
            best = e, kind = GUARD_CARD;
    }
    if (ipv4_cand(p, len, i, &e) && e > best)
        best = e, kind = GUARD_IPV4;
    if (best == i)
        return 0;
    *f = (guard_finding){kind, i, best};
    return 1;
}

/* ---- IPv6 ---- */

/* The colon at c is the first of an address: the address starts at c ("::1") or at the up to
 * four hex digits before it ("fe80::1"). Eight groups, or fewer with exactly one "::"; a
 * dotted-quad tail counts as two groups. A compressed form must hold a decimal digit, so
 * "a::b" and "dead::beef" in code stay code, while "std::vector", "12:30:45" and MAC addresses
 * never parse. */
int gm_colon(const unsigned char *p, size_t len, size_t c, size_t lo, guard_finding *f)
{
    size_t s = c;
    while (s > lo && c - s < 4 && g_hex(p[s - 1]))
        s--;
    if (s > 0) {
        unsigned b = p[s - 1];
        if (g_alnum(b) || b == '_' || b == ':' || b == '.')
            return 0;
    }
    size_t j = s;
    int groups = 0, dbl = 0, dec = 0;
    if (s == c) {
        if (c + 1 >= len || p[c + 1] != ':')
            return 0;
        dbl = 1;
        j = c + 2;
    }
    for (;;) {
        size_t e;
        if (j < len && g_digit(p[j]) && (dbl ? groups <= 5 : groups == 6) &&
            g_ipv4_at(p, len, j, &e)) {
            groups += 2;
            dec = 1;
            j = e;
            break;
        }
        size_t g = j;
        while (j < len && j - g < 4 && g_hex(p[j]))
            dec |= g_digit(p[j++]);
        if (j == g)
            break; /* only after "::": the address ends with it */
        if (j < len && g_hex(p[j]))
            return 0; /* a group of more than 4 hex digits */
        if (++groups > 8)
            return 0;
        if (j + 1 < len && p[j] == ':' && p[j + 1] == ':') {
            if (dbl)
                return 0;
            dbl = 1;
            j += 2;
            continue;
        }
        if (j + 1 < len && p[j] == ':' && g_hex(p[j + 1])) {
            j++;
            continue;
        }
        break;
    }
    if (dbl ? (groups < 1 || groups > 7 || !dec) : groups != 8)
        return 0;
    if (j < len && (g_alnum(p[j]) || p[j] == '_' ||
                    (p[j] == '.' && j + 1 < len && g_digit(p[j + 1]))))
        return 0;
    *f = (guard_finding){GUARD_IPV6, s, j};
    return 1;
}

/* ---- IBAN ---- */

/* Registered IBAN lengths by country. A country not listed is still accepted on the checksum
 * alone, so a gap here loses precision, not recall. */
static const struct {
    char cc[3];
    unsigned char len;
} IBAN_LEN[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
    {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
    {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
    {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
    {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
    {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
    {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
    {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
    {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
    {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

static size_t iban_len_for(unsigned a, unsigned b)
{
    for (size_t k = 0; k < sizeof IBAN_LEN / sizeof IBAN_LEN[0]; k++)
        if ((unsigned char)IBAN_LEN[k].cc[0] == a && (unsigned char)IBAN_LEN[k].cc[1] == b)
            return IBAN_LEN[k].len;
    return 0;
}

/* ISO 13616: the first four characters moved to the end, letters read as 10..35, and the
 * whole taken mod 97 must be 1. The remainder is carried along as characters arrive, so each
 * candidate end costs only the four-character tail. */
static unsigned mod97_add(unsigned r, unsigned c)
{
    return g_digit(c) ? (r * 10 + (c - '0')) % 97 : (r * 100 + (c - 'A' + 10)) % 97;
}

static int iban_mod97_ok(unsigned bban_rem, const unsigned char *head)
{
    for (size_t k = 0; k < 4; k++)
        bban_rem = mod97_add(bban_rem, head[k]);
    return bban_rem == 1;
}

static int iban_char(unsigned c) { return g_upper(c) || g_digit(c); }

/* p[i..i+4) is two capitals and two digits at a word start. The rest is one run of capitals
 * and digits, or groups of four separated by single spaces (the last may be shorter). Where
 * several ends pass the checksum, the one giving the country's registered length wins, else
 * the longest. */
int g_iban_at(const unsigned char *p, size_t len, size_t i, size_t *end)
{
    const unsigned char *head = p + i;
    size_t n = 4, j = i + 4, want = (size_t)-1; /* the registered length, looked up lazily */
    unsigned rem = 0; /* of the characters after the first four */
    if (j < len && iban_char(p[j])) {
        while (j < len && iban_char(p[j])) {
            if (n == 34)
                return 0;
            rem = mod97_add(rem, p[j++]);
            n++;
        }
        if (j < len && (g_alnum(p[j]) || p[j] == '_'))
            return 0;
        if (n < 15 || !iban_mod97_ok(rem, head))
            return 0;
        want = iban_len_for(p[i], p[i + 1]);
        if (want && n != want)
            return 0;
        *end = j;
        return 1;
    }
    size_t exact = 0, any = 0;
    while (j + 1 < len && p[j] == ' ' && iban_char(p[j + 1])) {
        size_t g = j + 1, k = g;
        while (k < len && k - g < 4 && iban_char(p[k]))
            k++;
        if ((k < len && (g_alnum(p[k]) || p[k] == '_')) || n + (k - g) > 34)
            break;
        for (size_t m = g; m < k; m++)
            rem = mod97_add(rem, p[m]);
        n += k - g;
        j = k;
        if (n >= 15 && iban_mod97_ok(rem, head)) {
            any = j;
            if (want == (size_t)-1)
                want = iban_len_for(p[i], p[i + 1]);
            if (n == want)
                exact = j;
        }
        if (k - g < 4)
            break;
    }
    if (!exact && !any)
        return 0;
    *end = exact ? exact : any;
    return 1;
}
