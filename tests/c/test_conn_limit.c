/* The connection bound (core/conn_limit.c): what the open-files limit leaves after the
 * descriptors in use and the reserve, shared out per connection, and never none. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include "core/conn_limit.h"

#include <sys/resource.h>

static void test_arithmetic(void)
{
    /* a stock login's 1,024: the reserve whole, then a descriptor or two a connection */
    CHECK_INT(conn_limit_of(1024, 10, 1), 1024 - 10 - CONN_LIMIT_RESERVE);
    CHECK_INT(conn_limit_of(1024, 10, 2), (1024 - 10 - CONN_LIMIT_RESERVE) / 2);
    /* a small limit keeps a quarter of itself */
    CHECK_INT(conn_limit_of(256, 0, 1), 192);
    CHECK_INT(conn_limit_of(256, 6, 2), 93);
    CHECK_INT(conn_limit_of(100, 5, 1), 100 - 5 - 25);
    /* nothing left: one connection, so calls wait rather than fail */
    CHECK_INT(conn_limit_of(64, 60, 1), 1);
    CHECK_INT(conn_limit_of(0, 0, 1), 1);
    /* no limit: no bound */
    CHECK_INT(conn_limit_of(-1, 10, 1), 0);
    /* a count that cannot be read, or a nonsense cost, is taken as none and one */
    CHECK_INT(conn_limit_of(1024, -3, 0), 1024 - CONN_LIMIT_RESERVE);
}

/* The process's own: lowering the soft limit lowers the bound, by the descriptors it leaves. */
static void test_process(void)
{
    struct rlimit was;
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &was), 0);
    struct rlimit low = {200, was.rlim_max};
    if (was.rlim_max != RLIM_INFINITY && was.rlim_max < low.rlim_cur)
        low.rlim_cur = was.rlim_max;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
    long one = conn_limit_now(1), two = conn_limit_now(2);
    long soft = (long)low.rlim_cur;
    /* stdin, stdout and stderr at least are open; the reserve and they are left over */
    CHECK(one >= 1 && one <= soft - soft / 4 - 3);
    CHECK(one >= soft - soft / 4 - 20); /* a test process holds few descriptors */
    CHECK_INT(two, one / 2);
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &was), 0);
}

int main(void)
{
    test_arithmetic();
    test_process();
    return check_failures;
}
