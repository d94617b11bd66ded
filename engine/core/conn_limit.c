#define _POSIX_C_SOURCE 200809L
#include "conn_limit.h"

#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <sys/resource.h>

long conn_limit_of(long soft_limit, long open_now, int per_connection)
{
    if (soft_limit < 0)
        return 0;
    long reserve = soft_limit / 4 < CONN_LIMIT_RESERVE ? soft_limit / 4 : CONN_LIMIT_RESERVE;
    long left = soft_limit - (open_now > 0 ? open_now : 0) - reserve;
    long n = left / (per_connection > 0 ? per_connection : 1);
    return n > 0 ? n : 1; /* one at a time rather than none: calls wait, never fail */
}

/* Descriptors open in this process, the directory's own not counted; 0 if unknown. */
static long open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    long n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += de->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

long conn_limit_now(int per_connection)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    long soft = rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
    return conn_limit_of(soft, open_descriptors(), per_connection);
}
