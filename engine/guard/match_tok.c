/* Matchers for the kinds made of words and tokens: e-mail addresses, credentials (API keys,
 * AWS keys, JWTs) and PEM private key blocks. Credentials are recognised by their published
 * prefixes; a bare random string is not a finding, which keeps hashes and ids out. */
#include "guard/match.h"

static int finding(guard_finding *f, guard_kind kind, size_t start, size_t end)
{
    *f = (guard_finding){kind, start, end};
    return 1;
}

/* ---- e-mail ---- */

static int email_local(unsigned c)
{
    return g_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* local@domain.tld: a local part of up to 64 of [A-Za-z0-9._%+-] (not starting or ending with
 * a dot), then two or more labels of [A-Za-z0-9-] (no leading or trailing dash) separated by
 * dots, the last alphabetic and at least two letters. A dot after the domain that is not
 * followed by a label ends the sentence, not the address. */
int gm_at(const unsigned char *p, size_t len, size_t at, size_t lo, guard_finding *f)
{
    size_t s = at;
    while (s > lo && at - s < 64 && email_local(p[s - 1]))
        s--;
    while (s < at && p[s] == '.')
        s++;
    if (s == at || p[at - 1] == '.')
        return 0;
    size_t j = at + 1, labels = 0, tld_len = 0;
    int tld_alpha = 0;
    for (;;) {
        size_t l = j;
        int alpha = 1;
        while (j < len && (g_alnum(p[j]) || p[j] == '-') && j - l < 63) {
            alpha &= g_alpha(p[j]);
            j++;
        }
        if (j == l || p[l] == '-' || p[j - 1] == '-')
            return 0;
        labels++;
        tld_alpha = alpha;
        tld_len = j - l;
        if (j - (at + 1) > 253)
            return 0;
        if (j + 1 < len && p[j] == '.' && g_alnum(p[j + 1])) {
            j++;
            continue;
        }
        break;
    }
    if (labels < 2 || !tld_alpha || tld_len < 2)
        return 0;
    if (j < len && (g_alnum(p[j]) || p[j] == '-' || p[j] == '_' || p[j] == '@'))
        return 0;
    return finding(f, GUARD_EMAIL, s, j);
}

/* ---- credentials ---- */

static size_t run_alnum_us(const unsigned char *p, size_t len, size_t i)
{
    while (i < len && (g_alnum(p[i]) || p[i] == '_'))
        i++;
    return i;
}

/* sk-ant-... (Anthropic) and sk-... / sk-proj-... (OpenAI style). The generic form asks for 20
 * characters with a digit and a letter among them, so hyphenated words beginning "sk-" stay. */
static int sk_dash(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    size_t e = g_run_tok(p, len, i + 3);
    if (G_HAS(p, len, i, "sk-ant-"))
        return e - (i + 7) >= 20 ? finding(f, GUARD_API_KEY, i, e) : 0;
    if (e - (i + 3) < 20)
        return 0;
    int digit = 0, alpha = 0;
    for (size_t k = i + 3; k < e; k++) {
        digit |= g_digit(p[k]);
        alpha |= g_alpha(p[k]);
    }
    return digit && alpha ? finding(f, GUARD_API_KEY, i, e) : 0;
}

/* Stripe secret and restricted keys: sk_live_, rk_live_, sk_test_, rk_test_ + alphanumerics. */
static int stripe(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    if (!G_HAS(p, len, i + 2, "_live_") && !G_HAS(p, len, i + 2, "_test_"))
        return 0;
    size_t e = g_run_alnum(p, len, i + 8);
    return e - (i + 8) >= 16 ? finding(f, GUARD_API_KEY, i, e) : 0;
}

/* The value of a labelled AWS secret access key: aws_secret_access_key = "...", also
 * AWS_SECRET_ACCESS_KEY=..., "SecretAccessKey": "...", secret_access_key: ... and
 * aws_secret_key. The label compares case-insensitively with '_' and '-' ignored; the value is
 * exactly 40 base64 characters. Only the value is reported. */
static int aws_secret(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    static const char *const labels[] = {"awssecretaccesskey", "secretaccesskey",
                                          "awssecretkey"};
    size_t e = g_run_tok(p, len, i);
    if (e - i > 40)
        return 0;
    char norm[41];
    size_t n = 0;
    for (size_t k = i; k < e; k++)
        if (p[k] != '_' && p[k] != '-')
            norm[n++] = (char)g_lower(p[k]);
    norm[n] = '\0';
    int known = 0;
    for (size_t k = 0; k < sizeof labels / sizeof labels[0]; k++) {
        const char *a = labels[k], *b = norm;
        while (*a && *a == *b)
            a++, b++;
        known |= *a == '\0' && *b == '\0';
    }
    if (!known)
        return 0;
    size_t j = e;
    if (j < len && (p[j] == '"' || p[j] == '\''))
        j++;
    while (j < len && (p[j] == ' ' || p[j] == '\t'))
        j++;
    if (j >= len || (p[j] != '=' && p[j] != ':'))
        return 0;
    j++;
    if (j < len && p[j] == '>')
        j++;
    while (j < len && (p[j] == ' ' || p[j] == '\t'))
        j++;
    if (j < len && (p[j] == '"' || p[j] == '\''))
        j++;
    size_t v = j;
    while (j < len && j - v <= 40 && (g_alnum(p[j]) || p[j] == '/' || p[j] == '+'))
        j++;
    return j - v == 40 ? finding(f, GUARD_AWS_KEY, v, j) : 0;
}

/* eyJ (base64url of '{"'), three base64url segments joined by dots. An empty signature
 * (alg "none") leaves the trailing dot outside the finding. */
static int jwt(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    size_t a = g_run_tok(p, len, i);
    if (a - i < 10 || a >= len || p[a] != '.')
        return 0;
    size_t b = g_run_tok(p, len, a + 1);
    if (b - (a + 1) < 3 || b >= len || p[b] != '.')
        return 0;
    size_t c = g_run_tok(p, len, b + 1);
    return finding(f, GUARD_JWT, i, c > b + 1 ? c : b);
}

int gm_letter(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    size_t e;
    switch (p[i]) {
    case 's':
        if (G_HAS(p, len, i, "sk-"))
            return sk_dash(p, len, i, f);
        if (G_HAS(p, len, i, "sk_"))
            return stripe(p, len, i, f);
        if (G_HAS(p, len, i, "secr"))
            return aws_secret(p, len, i, f);
        return 0;
    case 'r':
        return G_HAS(p, len, i, "rk_") ? stripe(p, len, i, f) : 0;
    case 'g':
        if (G_HAS(p, len, i, "github_pat_")) {
            e = run_alnum_us(p, len, i + 11);
            return e - (i + 11) >= 22 ? finding(f, GUARD_API_KEY, i, e) : 0;
        }
        if (len - i > 4 && p[i + 1] == 'h' && p[i + 3] == '_' &&
            (p[i + 2] == 'p' || p[i + 2] == 'o' || p[i + 2] == 'u' || p[i + 2] == 's' ||
             p[i + 2] == 'r')) {
            e = g_run_alnum(p, len, i + 4);
            return e - (i + 4) >= 20 && (e == len || !g_tok(p[e]))
                       ? finding(f, GUARD_API_KEY, i, e)
                       : 0;
        }
        return 0;
    case 'x':
        if (G_HAS(p, len, i, "xox") && len - i > 5 && p[i + 4] == '-' &&
            (p[i + 3] == 'b' || p[i + 3] == 'a' || p[i + 3] == 'p' || p[i + 3] == 'r' ||
             p[i + 3] == 's')) {
            e = g_run_tok(p, len, i + 5);
            return e - (i + 5) >= 10 ? finding(f, GUARD_API_KEY, i, e) : 0;
        }
        return 0;
    case 'e':
        return G_HAS(p, len, i, "eyJ") ? jwt(p, len, i, f) : 0;
    case 'a':
        return G_HAS(p, len, i, "aws") ? aws_secret(p, len, i, f) : 0;
    default:
        break;
    }
    if (!g_upper(p[i]) || len - i < 4)
        return 0;
    if (p[i] == 'A') {
        if (G_HAS(p, len, i, "AKIA") || G_HAS(p, len, i, "ASIA")) {
            size_t j = i + 4;
            while (j < len && j - i < 21 && (g_upper(p[j]) || g_digit(p[j])))
                j++;
            if (j - i == 20 && (j == len || !g_alnum(p[j])))
                return finding(f, GUARD_AWS_KEY, i, j);
        }
        if (G_HAS(p, len, i, "AIza")) {
            e = g_run_tok(p, len, i + 4);
            if (e - (i + 4) >= 30)
                return finding(f, GUARD_API_KEY, i, e);
        }
        if ((p[i + 1] | 32u) == 'w' && aws_secret(p, len, i, f))
            return 1;
    }
    if (p[i] == 'S' && G_HAS(p, len, i + 1, "ecr") && aws_secret(p, len, i, f))
        return 1;
    if (g_upper(p[i + 1]) && g_digit(p[i + 2]) && g_digit(p[i + 3]) &&
        g_iban_at(p, len, i, &e))
        return finding(f, GUARD_IBAN, i, e);
    return 0;
}

/* ---- private keys ---- */

/* Index of the first "-----END " at or after i, or len. Each byte is looked at a bounded
 * number of times. */
static size_t find_end_line(const unsigned char *p, size_t len, size_t i)
{
    for (; i < len; i++)
        if (p[i] == '-' && G_HAS(p, len, i, "-----END "))
            return i;
    return len;
}

/* "-----BEGIN <label>-----" whose label (capitals, digits, spaces, at most 40) contains
 * "PRIVATE KEY", through the matching "-----END <label>-----" line. Without an END line the
 * rest of the text is taken: a cut-off key is still a key. */
int gm_dash(const unsigned char *p, size_t len, size_t i, guard_finding *f)
{
    if (!G_HAS(p, len, i, "-----BEGIN "))
        return 0;
    size_t j = i + 11, l = j;
    int priv = 0;
    while (j < len && j - l < 40 && (g_upper(p[j]) || g_digit(p[j]) || p[j] == ' ')) {
        if (p[j] == 'P' && G_HAS(p, len, j, "PRIVATE KEY"))
            priv = 1;
        j++;
    }
    if (!priv || !G_HAS(p, len, j, "-----"))
        return 0;
    size_t e = find_end_line(p, len, j + 5);
    if (e == len)
        return finding(f, GUARD_PRIVATE_KEY, i, len);
    e += 9;
    while (e < len && (g_upper(p[e]) || g_digit(p[e]) || p[e] == ' '))
        e++;
    while (e < len && p[e] == '-')
        e++;
    return finding(f, GUARD_PRIVATE_KEY, i, e);
}
