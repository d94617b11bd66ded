/* PII and secrets scanner: every kind found where it is and not where it only looks alike,
 * overlaps, exact redaction, edges, binary input, masking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "guard/scan.h"

#define MAX_FOUND 64

typedef struct found {
    guard_finding f[MAX_FOUND];
    size_t n;
} found;

static int collect(void *ud, const guard_finding *f)
{
    found *c = ud;
    if (c->n < MAX_FOUND)
        c->f[c->n] = *f;
    c->n++;
    return 0;
}

/* Scans an exactly-sized heap copy, so ASan catches any read past len. */
static size_t scan(const char *text, size_t len, found *out)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, text, len);
    memset(out, 0, sizeof *out);
    size_t n = guard_scan(copy, len, collect, out);
    free(copy);
    return n;
}

/* text holds exactly one finding, of kind, covering exactly the bytes of want. */
static void expect_one_(const char *file, int line, const char *text, guard_kind kind,
                        const char *want)
{
    found c;
    size_t n = scan(text, strlen(text), &c);
    const char *at = strstr(text, want);
    int ok = n == 1 && c.n == 1 && at && c.f[0].kind == kind &&
             c.f[0].start == (size_t)(at - text) &&
             c.f[0].end == (size_t)(at - text) + strlen(want);
    if (!ok) {
        check_fail_at(file, line);
        fprintf(stderr, "in \"%s\" expected one %s \"%s\", got %zu:", text, guard_kind_name(kind),
                want, n);
        for (size_t k = 0; k < c.n && k < MAX_FOUND; k++)
            fprintf(stderr, " %s \"%.*s\"", guard_kind_name(c.f[k].kind),
                    (int)(c.f[k].end - c.f[k].start), text + c.f[k].start);
        fprintf(stderr, "\n");
    }
}
#define expect_one(text, kind, want) expect_one_(__FILE__, __LINE__, text, kind, want)

static void expect_none_(const char *file, int line, const char *text)
{
    found c;
    size_t n = scan(text, strlen(text), &c);
    if (n != 0) {
        check_fail_at(file, line);
        fprintf(stderr, "in \"%s\" expected nothing, got %s \"%.*s\"\n", text,
                guard_kind_name(c.f[0].kind), (int)(c.f[0].end - c.f[0].start), text + c.f[0].start);
    }
}
#define expect_none(text) expect_none_(__FILE__, __LINE__, text)

static void expect_redact_(const char *file, int line, const char *in, size_t in_len,
                           const char *want, size_t want_len)
{
    size_t out_len = (size_t)-1;
    char *out = guard_redact(in, in_len, &out_len);
    if (!out || out_len != want_len || memcmp(out, want, want_len) != 0 || out[out_len] != '\0') {
        check_fail_at(file, line);
        fprintf(stderr, "redact(\"%s\") == \"%s\" (%zu), expected \"%s\" (%zu)\n", in,
                out ? out : "(null)", out_len, want, want_len);
    }
    free(out);
}
#define expect_redact(in, want) \
    expect_redact_(__FILE__, __LINE__, in, strlen(in), want, strlen(want))

/* ---- kinds ---- */

/* The fake keys are split across string literals so that secret scanners run over this
 * repository do not take them for real ones. */
#define KEY_ANT "sk-" "ant-api03-R2D2C3POabcdefghijklmnop_qrstuvwxyz-0123456789AA"
#define KEY_PROJ "sk-" "proj-abcdefghij1234567890xyz"
#define KEY_SK "sk-" "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL"
#define KEY_GHP "ghp" "_abcdefghijklmnopqrstuvwxyz0123456789"
#define KEY_GHO "gho" "_16C7e42F292c6912E7710c838347Ae178B4a"
#define KEY_PAT "github" "_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
#define KEY_SLACK "xoxb" "-1234567890-0987654321-AbCdEfGhIjKl"
#define KEY_GOOGLE "AIza" "SyA1234567890abcdefghijklmnopqrstu"
#define KEY_STRIPE "sk_" "live_4eC39HqLyjWDarjtT1zdp7dc"
#define KEY_STRIPE_RK "rk_" "test_51H8abcdefghijklmnop"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define JWT_SIGNED                                                                                  \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."                            \
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
#define PEM_RSA                                                                                     \
    "-----BEGIN RSA PRIVATE KEY-----\n"                                                             \
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"                           \
    "aFDrBz9vFqU4yL2Lr2gP2n5j3mZ6f3tN7aA==\n"                                                      \
    "-----END RSA PRIVATE KEY-----"
#define PEM_OPENSSH "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
#define PEM_CUT "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"

/* Texts that hold exactly one finding: the text, its kind, the bytes it covers. */
static const struct {
    const char *text;
    guard_kind kind;
    const char *want;
} ONE[] = {
    {"write to john.doe@example.com today", GUARD_EMAIL, "john.doe@example.com"},
    {"a.b-c+tag@sub.example.co.uk", GUARD_EMAIL, "a.b-c+tag@sub.example.co.uk"},
    {"<x_y%z@mail-server.org>", GUARD_EMAIL, "x_y%z@mail-server.org"},
    {"Mail me: jane@corp.io.", GUARD_EMAIL, "jane@corp.io"},
    {"mailto:ops@example.org", GUARD_EMAIL, "ops@example.org"},

    {"call (555) 123-4567 now", GUARD_PHONE, "(555) 123-4567"},
    {"call (555)123-4567", GUARD_PHONE, "(555)123-4567"},
    {"call 555-123-4567.", GUARD_PHONE, "555-123-4567"},
    {"call 555.123.4567", GUARD_PHONE, "555.123.4567"},
    {"call 555 123 4567", GUARD_PHONE, "555 123 4567"},
    {"London +44 20 7946 0958, ask for Sam", GUARD_PHONE, "+44 20 7946 0958"},
    {"US +1 (555) 123-4567", GUARD_PHONE, "+1 (555) 123-4567"},
    {"mobile +4915123456789", GUARD_PHONE, "+4915123456789"},
    {"Paris +33 1 23 45 67 89", GUARD_PHONE, "+33 1 23 45 67 89"},
    {"+44 (0)20 7946 0958", GUARD_PHONE, "+44 (0)20 7946 0958"},
    {"tel:+4915123456789", GUARD_PHONE, "+4915123456789"},
    {"<td>+33 1 23 45 67 89</td>", GUARD_PHONE, "+33 1 23 45 67 89"},
    {"toll free 1-800-555-1234", GUARD_PHONE, "1-800-555-1234"},

    {"card 4111 1111 1111 1111 exp 12/29", GUARD_CARD, "4111 1111 1111 1111"},
    {"card 4111-1111-1111-1111", GUARD_CARD, "4111-1111-1111-1111"},
    {"4111111111111111", GUARD_CARD, "4111111111111111"},
    {"mc 5500 0000 0000 0004", GUARD_CARD, "5500 0000 0000 0004"},
    {"mc2 2223000048400011", GUARD_CARD, "2223000048400011"},
    {"amex 378282246310005", GUARD_CARD, "378282246310005"},
    {"amex 3782 822463 10005", GUARD_CARD, "3782 822463 10005"},
    {"discover 6011111111111117", GUARD_CARD, "6011111111111117"},
    {"jcb 3530111333300000", GUARD_CARD, "3530111333300000"},
    {"diners 30569309025904", GUARD_CARD, "30569309025904"},
    {"visa13 4222222222222", GUARD_CARD, "4222222222222"},
    /* a trailing group that would break the checksum is not swallowed */
    {"4111 1111 1111 1111 2024", GUARD_CARD, "4111 1111 1111 1111"},

    {"SSN 123-45-6789.", GUARD_SSN, "123-45-6789"},
    {"ssn: 078 05 1120", GUARD_SSN, "078 05 1120"},

    {"host 192.168.1.1 is up", GUARD_IPV4, "192.168.1.1"},
    {"net 10.0.0.1/24", GUARD_IPV4, "10.0.0.1"},
    {"at 10.0.0.1:8080.", GUARD_IPV4, "10.0.0.1"},
    {"255.255.255.255", GUARD_IPV4, "255.255.255.255"},

    {"addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", GUARD_IPV6,
     "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
    {"addr 2001:db8::8a2e:370:7334", GUARD_IPV6, "2001:db8::8a2e:370:7334"},
    {"link fe80::1%eth0", GUARD_IPV6, "fe80::1"},
    {"::1", GUARD_IPV6, "::1"},
    {"http://[::1]:8080/", GUARD_IPV6, "::1"},
    {"mapped ::ffff:192.0.2.1 here", GUARD_IPV6, "::ffff:192.0.2.1"},
    {"FE80::ABCD:1", GUARD_IPV6, "FE80::ABCD:1"},

    {"pay GB82 WEST 1234 5698 7654 32 now", GUARD_IBAN, "GB82 WEST 1234 5698 7654 32"},
    {"IBAN: DE89370400440532013000.", GUARD_IBAN, "DE89370400440532013000"},
    {"DE89 3704 0044 0532 0130 00", GUARD_IBAN, "DE89 3704 0044 0532 0130 00"},
    {"FR14 2004 1010 0505 0001 3M02 606", GUARD_IBAN, "FR14 2004 1010 0505 0001 3M02 606"},
    {"NO9386011117947", GUARD_IBAN, "NO9386011117947"},
    /* the registered length picks the end: a following group is not swallowed */
    {"GB82 WEST 1234 5698 7654 32 1234", GUARD_IBAN, "GB82 WEST 1234 5698 7654 32"},

    {"key " KEY_ANT " end", GUARD_API_KEY, KEY_ANT},
    {"OPENAI_API_KEY=" KEY_PROJ, GUARD_API_KEY, KEY_PROJ},
    {KEY_SK, GUARD_API_KEY, KEY_SK},
    {"token " KEY_GHP, GUARD_API_KEY, KEY_GHP},
    {KEY_GHO, GUARD_API_KEY, KEY_GHO},
    {KEY_PAT, GUARD_API_KEY, KEY_PAT},
    {"slack " KEY_SLACK, GUARD_API_KEY, KEY_SLACK},
    {"\"" KEY_GOOGLE "\"", GUARD_API_KEY, KEY_GOOGLE},
    {"stripe " KEY_STRIPE, GUARD_API_KEY, KEY_STRIPE},
    {KEY_STRIPE_RK ".", GUARD_API_KEY, KEY_STRIPE_RK},

    {"id AKIAIOSFODNN7EXAMPLE,", GUARD_AWS_KEY, "AKIAIOSFODNN7EXAMPLE"},
    {"ASIAY34FZKBOKMUTVV7A", GUARD_AWS_KEY, "ASIAY34FZKBOKMUTVV7A"},
    {"aws_secret_access_key = " AWS_SECRET "\n", GUARD_AWS_KEY, AWS_SECRET},
    {"export AWS_SECRET_ACCESS_KEY=" AWS_SECRET, GUARD_AWS_KEY, AWS_SECRET},
    {"{\"SecretAccessKey\": \"" AWS_SECRET "\"}", GUARD_AWS_KEY, AWS_SECRET},
    {"secret_access_key: " AWS_SECRET, GUARD_AWS_KEY, AWS_SECRET},

    {"Authorization: Bearer " JWT_SIGNED "\r\n", GUARD_JWT, JWT_SIGNED},
    /* unsigned: the trailing dot stays outside */
    {"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", GUARD_JWT, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0"},

    {"key:\n" PEM_RSA "\nthanks", GUARD_PRIVATE_KEY, PEM_RSA},
    {PEM_OPENSSH, GUARD_PRIVATE_KEY, PEM_OPENSSH},
    /* cut off: a partial key is still a key, so the rest of the text goes */
    {"here " PEM_CUT, GUARD_PRIVATE_KEY, PEM_CUT},

    /* overlaps: the e-mail found at '@' replaces the shorter phone number in its local part... */
    {"555-123-4567@example.com", GUARD_EMAIL, "555-123-4567@example.com"},
    /* ... and the longer phone number wins over the shorter e-mail that overlaps it */
    {"+1 555 123 4567@x.io", GUARD_PHONE, "+1 555 123 4567"},
    {"10.0.0.1@example.com", GUARD_EMAIL, "10.0.0.1@example.com"},
};

/* Texts that only look like a finding. */
static const char *const NONE[] = {
    "follow @handle on the site", "root@localhost is local", "a@b.c has a one-letter tld", "x@-bad.com",
    "foo@bar.123", "name@domain.c0m", "email me at john@ tomorrow", "@@@ @. .@ a@.b",
    /* years, prices, dates, times, versions, percentages, short or unformatted numbers */
    "In 2024 the price rose to $19.99 (up 12%) on 2024-01-15.",
    "Due 01/15/2024 or 15.01.2024 at 12:30:45, version 1.2.3, build 10.0.19045.",
    "the score went +5.00 in +2024 and +12345",
    "snapshot (1:10~+20191229111838+6991d5728) and a+4915123456789",
    "dial 555-1234 or order 5551234567",
    "555-123-45678 and 555-123.4567 and 12-555-123-4567",
    "ISBN 978-3-16-148410-0, ranges 100-200, 3-4-5",
    /* cards */
    "card 4111111111111112 fails Luhn", "card 4111 1111 1111 1112 fails Luhn",
    "1234567812345670 passes Luhn but no issuer starts with 1",
    "4111-1111-1111-1111-2222 is a longer number", "41111111111111111111 has 20 digits",
    "order 4111111111111111x and x4111111111111111", "4111 11 1111 1111 111 groups wrong",
    /* SSNs */
    "000-12-3456 area 000", "666-12-3456 area 666", "900-12-3456 and 999-12-3456 area 9xx",
    "123-00-6789 group 00", "123-45-0000 serial 0000",
    "123-45-67890 1123-45-6789 123-45-6789-1 123-45 6789",
    /* IPv4 */
    "version 1.2.3.4.5 is out", "256.1.1.1 and 1.2.3.256", "v1.2.3.4 and build1.2.3.4",
    "1.2.3 and 192.168.01.1 and 1.2.3.4a",
    "upgraded to standards version 2.5.0.0; Standards-Version: 4.2.1.0",
    "upgrades from versions before 1.7.9.5, package (3.31.0.2-2) unstable",
    /* IPv6 */
    "std::vector<int> and Foo::Bar::baz", "at 12:30:45 and 1:2:3:4:5:6:7", "mac 00:1A:2B:3C:4D:5E",
    "a::b dead::beef f64::consts", "12345::1 and 1::2::3", "key: value, a:b, http://x",
    /* IBANs */
    "GB82 WEST 1234 5698 7654 33 fails mod-97", "DE89370400440532013001 fails mod-97",
    "AB12 and GB82WEST and DE89 3704", "DE89370400440532013000x",
    /* API keys */
    "sk-learn, sk-short123, sk-this-is-only-hyphenated-words",
    "ghp_short xoxb-12 AIzaShort sk_live_short mask-ant-api03-abcdefghijklmnopqrstuvwxyz",
    "task_sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    "gop_abcdefghijklmnopqrstuvwxyz0123456789 ghx_abcdefghijklmnopqrstuvwxyz0123",
    "xoxz-1234567890-0987654321 rk_prod_51H8abcdefghijklmnop",
    /* AWS */
    "AKIA1234 AKIAIOSFODNN7EXAMPLEX AKIAiosfodnn7example XAKIAIOSFODNN7EXAMPLE",
    ("unlabelled " AWS_SECRET), "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYS", "aws_region = us-east-1",
    /* JWTs and private keys */
    "eyJhbGciOiJIUzI1NiJ9 alone, eyJ.eyJ.eyJ, keyJhbGciOiJIUzI1NiJ9.eyJzdWIi.sig",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "---- a rule ---- and -----BEGIN PRIVATE KEY without dashes",
};

static void test_kinds(void)
{
    for (size_t k = 0; k < sizeof ONE / sizeof ONE[0]; k++)
        expect_one(ONE[k].text, ONE[k].kind, ONE[k].want);
    for (size_t k = 0; k < sizeof NONE / sizeof NONE[0]; k++)
        expect_none(NONE[k]);
    found c;
    static const char RANGE[] = "allow 10.0.0.1-10.0.0.9\nversion 2 runs on 10.0.0.7";
    CHECK_INT(scan(RANGE, strlen(RANGE), &c), 3);
    CHECK_INT(c.f[2].start, strlen(RANGE) - 8);
}

/* ---- order, overlap, edges ---- */

static void test_overlap_and_order(void)
{
    static const char MIX[] = "a@b.io 555-123-4567 4111111111111111 123-45-6789 10.1.2.3 ::1 "
                              "GB82WEST12345698765432 AKIAIOSFODNN7EXAMPLE";
    static const guard_kind kinds[] = {GUARD_EMAIL, GUARD_PHONE, GUARD_CARD,   GUARD_SSN,
                                       GUARD_IPV4,  GUARD_IPV6,  GUARD_IBAN,   GUARD_AWS_KEY};
    found c;
    CHECK_INT(scan(MIX, strlen(MIX), &c), 8);
    size_t prev_end = 0;
    for (size_t k = 0; k < 8 && k < c.n; k++) {
        CHECK_INT(c.f[k].kind, kinds[k]);
        CHECK(c.f[k].start >= prev_end && c.f[k].end > c.f[k].start);
        prev_end = c.f[k].end;
    }
    CHECK_INT(c.f[0].start, 0);
    CHECK_INT(c.f[7].end, strlen(MIX));
}

static int stop_after_first(void *ud, const guard_finding *f)
{
    (void)f;
    ++*(int *)ud;
    return 1;
}

static void test_edges(void)
{
    found c;
    CHECK_INT(scan("", 0, &c), 0);
    CHECK_INT(guard_scan(NULL, 0, collect, &c), 0);
    CHECK_INT(guard_scan("a@b.io x@y.io", 13, NULL, NULL), 2);

    int calls = 0;
    CHECK_INT(guard_scan("a@b.io x@y.io z@w.io", 20, stop_after_first, &calls), 1);
    CHECK_INT(calls, 1);

    /* findings touching both ends, and text that is one finding */
    CHECK_INT(scan("x@y.io", 6, &c), 1);
    CHECK_INT(c.f[0].start, 0);
    CHECK_INT(c.f[0].end, 6);
    CHECK_INT(scan("4111111111111111 and 555-123-4567", 33, &c), 2);
    CHECK_INT(c.f[0].start, 0);
    CHECK_INT(c.f[1].end, 33);

    /* a scan stops at len, not at a NUL, and NUL is an ordinary separator */
    static const char NUL[] = "x\0jo@example.com\0" "555-123-4567";
    CHECK_INT(scan(NUL, sizeof NUL - 1, &c), 2);
    CHECK_INT(c.f[0].kind, GUARD_EMAIL);
    CHECK_INT(c.f[0].start, 2);
    CHECK_INT(scan("555-123-4567", 11, &c), 0); /* cut by len */

    /* prefixes cut by the end of text */
    static const char *const cuts[] = {
        "s", "sk", "sk-", "sk-ant-", "gh", "ghp_", "github_pat_", "xox", "xoxb", "xoxb-", "AKIA",
        "AI", "eyJ", "eyJabcdefghij.", "-----BEGIN ", "-----BEGIN RSA PRIVATE KEY", "GB82", "+",
        "+4", "(", "(555", "(555)", "1-", ":", "::", "fe80:", "@", "a@", "a@b", "a@b.",
        "aws_secret_access_key", "aws_secret_access_key=", "192.168.1.", "123-45-"};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++)
        CHECK_INT(scan(cuts[k], strlen(cuts[k]), &c), 0);

    /* ordinary technical prose with hyphens, colons, numbers and plus signs */
    expect_none("Meet me at 10:30 on 2024-01-15; the price is $1,299.99 (about 15%). See "
                "section 3.2.1 and RFC 2616. Version 10.0.19045.2965 is installed; call ext. "
                "1234. The ratio was 3:2 - a well-known result (n=42) + noise. Node v18.17.1, "
                "Python 3.11.4, C++ std::map, key: value, e-mail, x-ray, A/B test, 8 + 8 = 16, "
                "AB-123, ABC 123, Room 12B, 1e-9, 0x7fff, and the SHA abc123def456.");
}

/* Random bytes, and random picks from the bytes the matchers care about: no crash, every
 * finding inside the text, ordered and disjoint. */
static void test_garbage(void)
{
    static const char ALPHABET[] = "0123456789 -.:@+()_/AKIAGBDEsk-antxoxbeyJ=aws_secret\n-----";
    size_t len = 1 << 20;
    char *buf = malloc(len);
    if (!buf)
        abort();
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 2; round++) {
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[k] = round == 0 ? (char)(x >> 24) : ALPHABET[(x >> 24) % (sizeof ALPHABET - 1)];
        }
        found c;
        size_t n = guard_scan(buf, len, NULL, NULL);
        CHECK_INT(scan(buf, len, &c), n);
        size_t prev = 0;
        for (size_t k = 0; k < c.n && k < MAX_FOUND; k++) {
            CHECK(c.f[k].start >= prev && c.f[k].start < c.f[k].end && c.f[k].end <= len);
            prev = c.f[k].end;
        }
        size_t out_len;
        char *out = guard_redact(buf, len, &out_len);
        CHECK(out != NULL);
        free(out);
    }
    /* every byte value once */
    char all[256];
    for (int k = 0; k < 256; k++)
        all[k] = (char)k;
    found c;
    CHECK_INT(scan(all, sizeof all, &c), 0);
    free(buf);
}

/* Every kind, anchored by every sort of start byte, found alike wherever it lies: at each
 * offset from 0 to 80 (each lane of a 16-byte step and each side of a 64-byte block) and with 0
 * to 20 bytes after it, among words that begin with start bytes yet hold no finding. */
static void test_every_offset(void)
{
    /* Longer than the 80 bytes the widest case copies from it. */
    static const char FILLER[] = "ski eye awl Seat Awe ghi USA xon sea git Go 7 aa - ok: (so) + "
                                 "ski eye awl Seat Awe ghi USA xon sea git Go 7 aa - ok: (so) + ";
    static const char *const samples[] = {
        "a@b.io", "(555) 123-4567", "+44 20 7946 0958", "4111 1111 1111 1111", "123-45-6789",
        "10.0.0.1", "fe80::1", "::ffff:192.0.2.1", "GB82WEST12345698765432", KEY_ANT, KEY_GHP,
        KEY_SLACK, KEY_GOOGLE, KEY_STRIPE_RK, "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"};
    found none;
    CHECK_INT(scan(FILLER, strlen(FILLER), &none), 0);
    char text[512];
    for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
        size_t n = strlen(samples[k]);
        found want, got;
        snprintf(text, sizeof text, " %s ", samples[k]);
        CHECK(scan(text, n + 2, &want) >= 1);
        int bad = 0;
        for (size_t off = 0; off <= 80 && !bad; off++)
            for (size_t after = 0; after <= 20 && !bad; after++) {
                /* FILLER[0..off) " " sample " " FILLER[0..after) */
                memcpy(text, FILLER, off);
                snprintf(text + off, sizeof text - off, " %s %.*s", samples[k], (int)after, FILLER);
                size_t len = off + n + 2 + after;
                bad = scan(text, len, &got) != want.n;
                for (size_t i = 0; i < want.n && !bad; i++)
                    bad = got.f[i].kind != want.f[i].kind || got.f[i].start != want.f[i].start + off ||
                          got.f[i].end != want.f[i].end + off;
            }
        if (bad)
            fprintf(stderr, "%s:%d: \"%s\" not found alike at every offset\n", __FILE__, __LINE__,
                    samples[k]);
        CHECK(!bad);
    }
}

/* ---- redaction ---- */

static void test_redact(void)
{
    expect_redact("Contact john@x.com or (555) 123-4567; card 4111 1111 1111 1111, SSN "
                  "123-45-6789, from 10.0.0.1 and fe80::1, IBAN DE89370400440532013000, key "
                  "sk-" "ant-api03-abcdefghijklmnopqrstuvwxyz0123.",
                  "Contact [EMAIL] or [PHONE]; card [CARD], SSN [SSN], from [IP] and [IP], IBAN "
                  "[IBAN], key [SECRET].");
    expect_redact("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  "aws_secret_access_key=[SECRET]");
    expect_redact("nothing to see here", "nothing to see here");
    expect_redact("x@y.io", "[EMAIL]");
    expect_redact("a@b.io", "[EMAIL]");
    expect_redact("", "");
    /* the result can be longer than the input, and NUL bytes pass through */
    static const char IN[] = "1.2.3.4\0a@b.io";
    expect_redact_(__FILE__, __LINE__, IN, sizeof IN - 1, "[IP]\0[EMAIL]", 12);

    size_t n = 99;
    char *out = guard_redact(NULL, 0, &n);
    CHECK(out != NULL && n == 0 && out[0] == '\0');
    free(out);
    out = guard_redact("a@b.io", 6, NULL);
    CHECK_STR(out, "[EMAIL]");
    free(out);
}

/* ---- names and masking ---- */

static void test_names(void)
{
    static const char *const names[] = {"email", "phone", "card",    "ssn",     "ipv4", "ipv6",
                                        "iban",  "api_key", "aws_key", "jwt", "private_key"};
    static const char *const labels[] = {"[EMAIL]", "[PHONE]",  "[CARD]",   "[SSN]",
                                         "[IP]",    "[IP]",     "[IBAN]",   "[SECRET]",
                                         "[SECRET]", "[SECRET]", "[SECRET]"};
    CHECK_INT(GUARD_KIND_COUNT, 11);
    for (int k = 0; k < GUARD_KIND_COUNT; k++) {
        CHECK_STR(guard_kind_name((guard_kind)k), names[k]);
        CHECK_STR(guard_kind_label((guard_kind)k), labels[k]);
    }
    CHECK_STR(guard_kind_name(GUARD_KIND_COUNT), "unknown");
    CHECK_STR(guard_kind_label((guard_kind)-1), "[REDACTED]");
}

static void test_mask(void)
{
    char out[128];
    guard_mask("sk-ant-api03-abcdefXY", out, sizeof out);
    CHECK_STR(out, "sk-ant*************XY");
    guard_mask("123456789012", out, sizeof out);
    CHECK_STR(out, "123456****12");
    guard_mask("12345678901", out, sizeof out); /* too short to show any of it */
    CHECK_STR(out, "***********");
    guard_mask("abc", out, sizeof out);
    CHECK_STR(out, "***");
    guard_mask("", out, sizeof out);
    CHECK_STR(out, "");
    guard_mask(NULL, out, sizeof out);
    CHECK_STR(out, "");
    /* truncation keeps the prefix and never reaches the tail */
    guard_mask("sk-ant-api03-abcdefXY", out, 9);
    CHECK_STR(out, "sk-ant**");
    memset(out, 'z', sizeof out);
    guard_mask("sk-ant-api03-abcdefXY", out, 1);
    CHECK_INT(out[0], '\0');
    CHECK_INT(out[1], 'z');
    guard_mask("sk-ant-api03-abcdefXY", out, 0);
    CHECK_INT(out[1], 'z');
    guard_mask("sk-ant-api03-abcdefXY", NULL, 10);
}

/* Names that are keys: each finding tagged by what it replaced, alike for the same value. */
static void test_tagged(void)
{
    size_t n = 0;
    char *a = guard_redact_tagged("session of alice@example.com", 28, &n);
    char *a2 = guard_redact_tagged("session of alice@example.com", 28, NULL);
    char *b = guard_redact_tagged("session of bob@example.com", 26, NULL);
    char *plain = guard_redact_tagged("no findings here", 16, NULL);
    CHECK(a && a2 && b && plain);
    if (a && a2 && b && plain) {
        CHECK(strncmp(a, "session of [EMAIL:", 18) == 0);
        CHECK_INT(n, strlen("session of [EMAIL:12345678]"));
        CHECK_STR(a, a2);
        CHECK(strcmp(a, b) != 0);
        CHECK(!strstr(a, "alice"));
        CHECK_STR(plain, "no findings here");
    }
    free(a);
    free(a2);
    free(b);
    free(plain);
}

int main(void)
{
    test_kinds();
    test_overlap_and_order();
    test_edges();
    test_garbage();
    test_every_offset();
    test_redact();
    test_names();
    test_tagged();
    test_mask();
    CHECK_DONE();
}
