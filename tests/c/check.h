/* Minimal assertions for the C unit tests: each failure names file:line and the values;
 * the test's exit status is the number of failures. */
#ifndef NYX_CHECK_H
#define NYX_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/file.h"

static int check_failures;

/* The row of a table a loop checks (CHECK_ROW sets it, CHECK_ROW_END clears it): every
 * failure while it is set names the row, so that one loop over many rows still says which
 * row failed. */
static char check_row[256];
#define CHECK_ROW(...) snprintf(check_row, sizeof check_row, __VA_ARGS__)
#define CHECK_ROW_END() (check_row[0] = '\0')

/* Counts a failure and opens its message: file:line, then the row when one is set. */
static inline void check_fail_at(const char *file, int line)
{
    check_failures++;
    fprintf(stderr, "%s:%d: %s%s%s", file, line, check_row[0] ? "[" : "", check_row,
            check_row[0] ? "] " : "");
}

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            check_fail_at(__FILE__, __LINE__);                             \
            fprintf(stderr, "CHECK failed: %s\n", #cond);                  \
        }                                                                  \
    } while (0)

/* A check the rest of a test needs: when it fails, the function returns (void), or returns
 * value with REQUIRE_OR (main, or a helper with a result). */
#define REQUIRE(cond) REQUIRE_OR(cond, )
#define REQUIRE_OR(cond, value)                                            \
    do {                                                                   \
        if (!(cond)) {                                                     \
            check_fail_at(__FILE__, __LINE__);                             \
            fprintf(stderr, "REQUIRE failed: %s\n", #cond);                \
            return value;                                                  \
        }                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                    \
    do {                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);              \
        if (va_ != vb_) {                                                  \
            check_fail_at(__FILE__, __LINE__);                             \
            fprintf(stderr, "%s == %lld, expected %lld\n", #a, va_, vb_);  \
        }                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                 \
    do {                                                                                \
        const char *sa_ = (a), *sb_ = (b);                                              \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                    \
            check_fail_at(__FILE__, __LINE__);                                          \
            fprintf(stderr, "%s == \"%s\", expected \"%s\"\n", #a, sa_ ? sa_ : "(null)", \
                    sb_ ? sb_ : "(null)");                                              \
        }                                                                               \
    } while (0)

#define CHECK_NEAR(a, b, eps)                                              \
    do {                                                                   \
        double da_ = (a), db_ = (b);                                       \
        if (!(da_ - db_ <= (eps) && db_ - da_ <= (eps))) {                 \
            check_fail_at(__FILE__, __LINE__);                             \
            fprintf(stderr, "%s == %.12g, expected %.12g\n", #a, da_, db_); \
        }                                                                  \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                      \
    do {                                                                                 \
        const char *h_ = (hay), *n_ = (needle);                                          \
        if (!h_ || !strstr(h_, n_)) {                                                    \
            check_fail_at(__FILE__, __LINE__);                                           \
            fprintf(stderr, "\"%s\" does not contain \"%s\"\n", h_ ? h_ : "(null)", n_); \
        }                                                                                \
    } while (0)

/* An error of the type given whose message holds fragment. */
#define CHECK_ERROR(e, type_, fragment)        \
    do {                                       \
        CHECK_STR((e).type, type_);            \
        CHECK_CONTAINS((e).message, fragment); \
    } while (0)

/* An error_info cleared for a call to fill. */
static inline error_info cleared_error(void)
{
    error_info e;
    error_clear(&e);
    return e;
}

/* A file a test writes whole: a file it cannot write fails the test. */
static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF) {
        fprintf(stderr, "cannot write %s\n", path);
        check_failures++;
    }
    if (f)
        fclose(f);
}

/* A file read whole (file_read_all): malloc'd, a NUL after its bytes, their number in *len
 * when len is not NULL; NULL when it cannot be read. */
static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t n = 0;
    if (f && file_read_all(f, 0, &text, &n) != 0)
        text = NULL;
    if (f)
        fclose(f);
    if (len)
        *len = n;
    return text;
}

/* Removes dir and everything below it (a test's scratch directory): 0, or -1 when it could
 * not, said on stderr. */
static inline int remove_tree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
        return -1;
    }
    return 0;
}

#define CHECK_DONE()                                                                  \
    do {                                                                              \
        if (check_failures)                                                           \
            fprintf(stderr, "%d check(s) failed\n", check_failures);                  \
        return check_failures ? 1 : 0;                                                \
    } while (0)

#endif
