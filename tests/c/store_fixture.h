/* What the store's tests share: a scratch directory removed when every check passed, and a row
 * counter over the store's own connection. */
#ifndef NYX_TEST_STORE_FIXTURE_H
#define NYX_TEST_STORE_FIXTURE_H
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/store.h"
#include "store/store_sqlite.h"

static char tmpdir[256];

/* Makes /tmp/nyx-test-NAME-XXXXXX; returns 0, or -1 after saying why. */
static inline int fixture_begin(const char *name)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nyx-test-%s-XXXXXX", name);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Removes the scratch directory, kept for inspection when a check failed. */
static inline void fixture_end(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (check_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static inline long long count_rows(nyx_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(store_sqlite_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}


#endif
