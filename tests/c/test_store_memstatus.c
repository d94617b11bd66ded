/* SQLite's memory statistics are process-wide: nyx turns them off when it is the process's
 * first user of SQLite (store_sqlite_vfs.c), and leaves them on for a host that initialised
 * SQLite before (README, From C). Each case runs in a child of its own, where SQLite is new. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/nyx-memstatus-XXXXXX";

/* Opens a store and logs nothing; 1 when SQLite then counts the memory it holds. */
static int counted_with_store_open(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    error_info err = cleared_error();
    store_db *s = store_open_opts(path, NULL, &err);
    if (!s) {
        fprintf(stderr, "store_open_opts: %s\n", err.message);
        return -1;
    }
    int counted = sqlite3_memory_used() > 0;
    store_close(s);
    return counted;
}

/* Runs fn in a child; its exit status. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int nyx_first(void) { return counted_with_store_open("first.db") == 0 ? 0 : 1; }

static int host_first(void)
{
    if (sqlite3_initialize() != SQLITE_OK)
        return 2;
    return counted_with_store_open("host.db") == 1 ? 0 : 1;
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(in_child(nyx_first), 0);  /* off: nothing in nyx reads them */
    CHECK_INT(in_child(host_first), 0); /* the host's SQLite as it set it up */
    CHECK_INT(remove_tree(dir), 0);
    CHECK_DONE();
}
