/* engine/store opening a database, on each backend: a new database is at the latest schema
 * and writable, reopening it keeps its rows and migrates nothing, a database from a newer
 * nyx is refused and left as it is, and a PostgreSQL URI that reaches no server fails
 * without echoing its password. What each backend's schema holds: tests/c/test_store.c
 * (SQLite), tests/pg/test_store_pg.c (PostgreSQL). */
#include "conformance.h"

/* The schema version as the database holds it. */
#define SCHEMA_VERSION_SQL dialect("PRAGMA user_version", "SELECT version FROM nyx_schema")

static void test_reopen(void)
{
    error_info err = cleared_error();
    store_db *s = open_db();
    if (!s)
        return;
    CHECK_STR(store_backend_name(s), dialect("sqlite", "postgresql"));
    CHECK_INT(store_is_readonly(s), 0);
    /* The newest schema of each backend, pinned: a migration added is a change seen here. */
    int latest = store_schema_version(s);
    CHECK_INT(latest, is_pg ? 6 : 10);
    CHECK_INT(raw_int(SCHEMA_VERSION_SQL), latest);
    interaction_rec it = make("m1", T0);
    CHECK_INT(store_log_interaction(s, &it, &err), 0);
    int64_t node = 0;
    CHECK_INT(store_thought_add(s, "x", 0, "root", &node, &err), 0);
    CHECK(node > 0);
    store_close(s);

    /* Reopen: the same version, the data there. */
    s = open_db();
    if (s) {
        CHECK_INT(store_schema_version(s), latest);
        CHECK_INT(raw_int("SELECT count(*) FROM llm_interactions WHERE id = 'm1'"), 1);
        CHECK_INT(raw_int("SELECT count(*) FROM thought_trees"), 1);
        store_close(s);
    }

    /* A database from a newer nyx is refused, not downgraded; the error names the database,
     * never a URI. */
    CHECK_INT(raw_exec(dialect("PRAGMA user_version = 99", "UPDATE nyx_schema SET version = 99")),
              0);
    error_clear(&err);
    s = store_open_opts(db_uri, NULL, &err);
    CHECK(s == NULL);
    store_close(s);
    char newer[80];
    snprintf(newer, sizeof newer, "schema version 99, newer than this nyx knows (%d)", latest);
    CHECK_ERROR(err, "store_error", newer);
    CHECK_CONTAINS(err.message, db_name);
    CHECK(!contains(err.message, "postgresql://"));
    CHECK_INT(raw_int(SCHEMA_VERSION_SQL), 99);
}

/* A PostgreSQL URI selects that backend (here, with nobody listening), whatever the build's
 * default; the URI and its password are not echoed. */
static void test_unreachable_uri(void)
{
    static const char *const uris[] = {
        "postgresql://nyx:s3cret@127.0.0.1:1/nyx",
        "postgres://nyx:s3cret@127.0.0.1:1/nyx",
        "postgresql://nyx:secretpw@127.0.0.1:1/x",
        "postgres://nyx:secretpw@127.0.0.1:1/x?connect_timeout=2",
    };
    for (size_t k = 0; k < sizeof uris / sizeof uris[0]; k++) {
        CHECK_ROW("%s", uris[k]);
        error_info err = cleared_error();
        store_db *s = store_open_opts(uris[k], NULL, &err);
        CHECK(s == NULL);
        store_close(s);
#ifdef NYX_HAVE_PG
        CHECK_ERROR(err, "store_error", "cannot connect to the PostgreSQL database");
#else
        CHECK_ERROR(err, "store_error", "PostgreSQL backend not built");
#endif
        CHECK(!contains(err.message, "s3cret") && !contains(err.message, "secretpw"));
    }
    CHECK_ROW_END();
}

CONFORMANCE_SUITE("store-open",
    {"reopen", .fn = test_reopen},
    {"unreachable_uri", .fn = test_unreachable_uri})
