/* Counting rows in a store's SQLite database, for the store's tests. */
#ifndef NYX_TEST_STORE_ROWS_H
#define NYX_TEST_STORE_ROWS_H
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_sqlite.h"

static long long count_rows(nyx_store *s, const char *sql)
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
