/* Strict durability (the default) when the database refuses records for a reason waiting will
 * not cure (here a full disk, SQLite's max_page_count; a read-only file alike): the call whose
 * record was refused fails with store_error, and no call after it is sent, since each would
 * be paid for and never recorded (before, every later call was sent and failed the same way
 * once answered: 383 of 400 in a run on a full tmpfs). Once the database takes the waiting
 * records again, calls go out again. A record refused for its own values (err.refused: text
 * PostgreSQL will not take, a cost that is no number) is no sign of the others: calls go on. */
#define _POSIX_C_SOURCE 200809L
#include "base/clock.h"
#include "check.h"
#include "core/engine.h"
#include "core/pending_log.h"
#include "nyx.h"
#include "sim_engine.h"
#include "store/store_sqlite.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(nyx_engine *e, const char *chunk, const char *name)
{
    int rc = nyx_load_string(e, chunk, name);
    while (rc == NYX_OK || rc == NYX_AGAIN) {
        rc = nyx_poll(e, 10);
        if (rc == NYX_OK)
            break;
    }
    if (rc != NYX_OK)
        fprintf(stderr, "%s: %d %s\n", name, rc, nyx_errmsg(e));
    return rc;
}

static long long pragma(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* An engine on dir/file with hot reload off, after one call whose record was written. */
static nyx_engine *open_after_one_call(const char *dir, const char *file)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    nyx_engine *e = open_engine();
    if (!e)
        return NULL;
    CHECK_INT(nyx_set(e, "db", path), NYX_OK);
    CHECK_INT(nyx_set(e, "reload", "0"), NYX_OK);
    CHECK_INT(run(e, "local nyx = require 'nyx'; assert(nyx.call{prompt = 'first', max_tokens = 5}.text)", "=first"),
              NYX_OK);
    return e;
}

/* Six calls with long prompts (each record needs pages of its own): the first is sent and its
 * record refused; the others are refused before sending. */
static const char *full_chunk =
    "local nyx = require 'nyx'\n"
    "local filler = ('filler text for a record that needs pages of its own '):rep(400)\n"
    "local out = {}\n"
    "for i = 1, 6 do\n"
    "  local ok, err = pcall(nyx.call, { prompt = filler .. i, max_tokens = 5 })\n"
    "  out[i] = ok and 'ok' or (err.type .. ': ' .. err.message)\n"
    "end\n"
    "local msg = table.concat(out, '\\n')\n"
    "assert(out[1]:find('^store_error: the record of this call could not be committed'), msg)\n"
    "for i = 2, 6 do assert(out[i]:find('^store_error: nothing was sent: the database refuses records'), msg) end\n";

static const char *back_chunk =
    "local nyx = require 'nyx'\n"
    "nyx.sleep(1.5) -- the waiting records are tried again every half second\n"
    "local r = nyx.call{ prompt = 'and now?', max_tokens = 5 }\n"
    "assert(r.text, 'a call goes again once the database takes records')\n";

static void test_refusal(const char *dir)
{
    setenv("NYX_PROVIDER", "sim", 1);
    setenv("NYX_SIM_TTFT_MS", "0", 1);
    unsetenv("NYX_DURABILITY");
    nyx_engine *e = open_after_one_call(dir, "r.db");
    REQUIRE(e != NULL);
    REQUIRE(e->storage.db != NULL);
    sqlite3 *db = store_sqlite_db(e->storage.db);
    REQUIRE(db != NULL);
    long long pages = pragma(db, "PRAGMA page_count");
    CHECK(pages > 0);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages);
    CHECK(pragma(db, sql) == pages);
    CHECK_INT(run(e, full_chunk, "=full"), NYX_OK);
    CHECK(pragma(db, "PRAGMA max_page_count = 1000000") > pages);
    CHECK_INT(run(e, back_chunk, "=back"), NYX_OK);
    CHECK(nyx_finish_records(e) == 0);
    nyx_close(e);
}

static void heard(void *ud, const error_info *err) { *(int *)ud = err ? 2 : 1; }

/* One record the database refuses for its own values, as a PostgreSQL data exception is
 * (store_pg_conn.c: refused, not retryable), waits to be dropped at the next write of the
 * queue; the database takes the others, so calls go on meanwhile (they were refused with
 * 'nothing was sent: the database refuses records' until that write). */
static void test_one_record_refused(const char *dir)
{
    nyx_engine *e = open_after_one_call(dir, "one.db");
    REQUIRE(e != NULL);
    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = "ix_refused_for_its_values";
    it.status = "not a status"; /* refused by the store for good, as the data exception is */
    error_info why = cleared_error();
    error_set(&why, "store_error", 0, "store: cannot write in postgresql: invalid byte sequence for encoding");
    why.refused = 1;
    int answer = 0;
    pending_log_add_waiting(&e->storage, &it, NULL, 0, &why, clock_now_s() + 30, heard, &answer);
    CHECK_INT(e->storage.refusing, 0);
    CHECK_INT(run(e, "local nyx = require 'nyx'; assert(nyx.call{prompt = 'and another', max_tokens = 5}.text)",
                  "=another"),
              NYX_OK);
    pending_log_flush(&e->storage);
    CHECK_INT(answer, 2); /* its caller hears it is lost */
    nyx_close(e);
}

static void heard_message(void *ud, const error_info *err)
{
    snprintf((char *)ud, 512, "%s", err ? err->message : "committed");
}

/* A waiting record whose deadline has passed, refused for a reason time does not cure (a full
 * disk): its caller hears why, not that the record "could not be committed within its
 * timeout", which would send them looking at their timeout. */
static void test_late_refusal_names_no_timeout(const char *dir)
{
    nyx_engine *e = open_after_one_call(dir, "late.db");
    REQUIRE(e != NULL);
    sqlite3 *db = store_sqlite_db(e->storage.db);
    REQUIRE(db != NULL);
    long long pages = pragma(db, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages);
    CHECK(pragma(db, sql) == pages);
    char filler[20000];
    memset(filler, 'x', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    interaction_rec it;
    memset(&it, 0, sizeof it);
    it.id = "ix_late_and_refused";
    it.status = "ok";
    it.prompt_text = filler; /* needs pages the full database does not have */
    error_info why = cleared_error();
    error_set(&why, "store_error", 0, "store: the database is busy");
    why.retryable = 1;
    char message[512] = "";
    pending_log_add_waiting(&e->storage, &it, NULL, 0, &why, clock_now_s() - 1, heard_message, message);
    pending_log_flush(&e->storage);
    CHECK(strstr(message, "could not be committed") != NULL);
    CHECK(strstr(message, "within its timeout") == NULL);
    if (!strstr(message, "could not be committed") || strstr(message, "within its timeout"))
        fprintf(stderr, "heard: %s\n", message);
    CHECK(pragma(db, "PRAGMA max_page_count = 1000000") > pages);
    CHECK(nyx_finish_records(e) == 0);
    nyx_close(e);
}

int main(void)
{
    char dir[] = "/tmp/nyx_refusal_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_refusal(dir);
    test_one_record_refused(dir);
    test_late_refusal_names_no_timeout(dir);
    CHECK_INT(remove_tree(dir), 0);
    return check_failures;
}
