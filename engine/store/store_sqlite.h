/* Internal to engine/store: the SQLite backend's pieces shared between its files and its
 * tests. Callers use store.h. */
#ifndef NYX_STORE_SQLITE_H
#define NYX_STORE_SQLITE_H

#include <sqlite3.h>

#include "store_backend.h"

/* The newest schema version this build knows (the number of migrations). */
int store_schema_latest(void);

/* Brings db to the newest schema, one migration per transaction, each setting PRAGMA
 * user_version in the same transaction so a crash leaves a consistent version. A database
 * already current is only read (no write lock taken). A database newer than this build is
 * an error. Safe against another process migrating the same file at the same time.
 *   path: for messages
 *   version_out: the version in force on return 0
 *   applied_out: how many migrations this call applied (0 on a reopen) */
int store_schema_migrate(sqlite3 *db, const char *path, int *version_out, int *applied_out,
                         nyx_error *err);

/* The connection under a SQLite store (tests use it to set pragmas such as max_page_count),
 * or NULL if s is not a SQLite store. It stays owned by the store. */
sqlite3 *store_sqlite_db(nyx_store *s);

/* How many migrations the open of s applied. */
int store_sqlite_migrations_applied(const nyx_store *s);

#endif
