#define _DEFAULT_SOURCE /* mkdtemp */
/* The engine's subsystem handles on their own, without an engine: governance's limit slots
 * and stop, storage's watch on the database file's identity, the script host's variables and
 * flags, the records storage keeps while its database fails, the provider's choice of where calls go, and the progress line's parts. */
#include "check.h"
#include "core/config.h"
#include "core/governance.h"
#include "core/pending_log.h"
#include "core/progress.h"
#include "core/provider.h"
#include "core/script_host.h"
#include "core/storage.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_governance(void)
{
    governance g = {0};
    CHECK(governance_limit(&g, "day") == NULL);
    budget_limit *a = governance_add_limit(&g, "day");
    CHECK(a != NULL);
    CHECK(governance_add_limit(&g, "agent:x") != NULL);
    const budget_limit *l = governance_limit(&g, "day");
    CHECK(l != NULL);
    if (l) {
        CHECK_STR(l->scope, "day");
        CHECK(l->limit_usd < 0); /* a new slot has no limit of its own yet */
        CHECK_INT(l->alerted, 0);
    }
    CHECK(governance_limit(&g, "agent:x") != NULL);
    CHECK(governance_limit(&g, "agent") == NULL);
    CHECK_INT(g.nlimits, 2);
    governance_free_limits(&g);
    CHECK_INT(g.nlimits, 0);
    CHECK(governance_limit(&g, "day") == NULL);

    CHECK_INT(governance_stop(&g, "drill"), 0);
    CHECK_INT(g.stopped, 1);
    CHECK_STR(g.stop_reason, "drill");
    CHECK_INT(governance_stop(&g, NULL), 1); /* already stopped: said so, reason given anew */
    CHECK_STR(g.stop_reason, "no reason given");
}

/* Removes a scratch database with its journal files, and its directory. */
static void remove_scratch(const char *dir, const char *db)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s%s", db, suffix[i]);
        unlink(f);
    }
    rmdir(dir);
}

static void test_storage(void)
{
    char dir[] = "/tmp/nyx_subsystems_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char db[512], other[512];
    snprintf(db, sizeof db, "%s/nyx.db", dir);
    snprintf(other, sizeof other, "%s/other.db", dir);
    error_info err = cleared_error();
    storage s = {0};
    s.db = store_open_opts(db, NULL, &err);
    CHECK(s.db != NULL);
    storage_note_file(&s, db);
    CHECK_INT(s.db_is_file, 1);
    CHECK_INT(storage_file_replaced(&s, db), 0);

    /* Replaced by rename: another file, another inode, under the same name. */
    write_file(other, "");
    CHECK_INT(rename(other, db), 0);
    CHECK_INT(storage_file_replaced(&s, db), 1);
    /* Deleted. */
    CHECK_INT(unlink(db), 0);
    CHECK_INT(storage_file_replaced(&s, db), 1);

    storage_lose(&s);
    CHECK(s.db == NULL);
    CHECK_INT(s.degraded, 1);
    CHECK_INT(storage_file_replaced(&s, db), 0); /* nothing open: nothing to lose */

    /* A database that is not a file (a PostgreSQL URI) has no identity to watch. */
    storage t = {0};
    storage_note_file(&t, "postgresql://127.0.0.1/none");
    CHECK_INT(t.db_is_file, 0);
    remove_scratch(dir, db);
}

/* The owner of a storage handle in these tests: a database that opens when told to, and a
 * log that keeps what it was given. */
typedef struct owner {
    const char *path; /* NULL: the database cannot be opened */
    storage *s;
    char log[2048];
    int once;
} owner;

static int owner_reopen(void *ud, error_info *err)
{
    owner *o = ud;
    if (!o->path) {
        error_set(err, "store_error", 0, "no database here");
        return -1;
    }
    o->s->db = store_open_opts(o->path, NULL, err);
    return o->s->db ? 0 : -1;
}

static void owner_log(void *ud, int level, const char *once_key, const char *msg)
{
    (void)level;
    owner *o = ud;
    o->once += once_key != NULL;
    size_t n = strlen(o->log);
    snprintf(o->log + n, sizeof o->log - n, "%s\n", msg);
}

static long long count_records(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM llm_interactions", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_pending_log(void)
{
    char dir[] = "/tmp/nyx_pending_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char db[512];
    snprintf(db, sizeof db, "%s/nyx.db", dir);
    engine_config cfg;
    error_info err = cleared_error();
    CHECK_INT(config_from_env(&cfg, &err), 0);
    cfg.pending_max = 2;
    event_loop *loop = loop_new();
    storage s = {0};
    owner o = {NULL, &s, "", 0};
    s.loop = loop;
    s.cfg = &cfg;
    s.owner = (storage_owner){&o, owner_reopen, owner_log, NULL};

    interaction_rec it = {0};
    it.status = "ok";
    const char *ids[] = {"i1", "i2", "i3"};
    for (int i = 0; i < 3; i++) {
        it.id = ids[i];
        pending_log_add(&s, &it, NULL, 0, "disk full");
    }
    CHECK_INT(s.degraded, 1);
    CHECK_CONTAINS(o.log, "storage failed (disk full)");
    CHECK_INT(s.lost_interactions, 1); /* the third found the queue full */
    CHECK_INT(o.once, 1);              /* and said so once */
    CHECK_INT(pending_log_flush(&s), 2); /* still no database: both wait */

    o.path = db; /* the database is back: the next try writes what waited */
    CHECK_INT(pending_log_flush(&s), 0);
    CHECK_INT(s.degraded, 0);
    CHECK_CONTAINS(o.log, "storage is back; 2 waiting records written");

    /* A record the database refuses for good (here the store's own check of its status) is
     * dropped as lost and said; the records queued around it are written. */
    cfg.pending_max = 8;
    pending_log_add(&s, &it, NULL, 0, "locked"); /* i3 again */
    it.id = "bad";
    it.status = "no such status";
    pending_log_add(&s, &it, NULL, 0, "locked");
    it.id = "i4";
    it.status = "ok";
    pending_log_add(&s, &it, NULL, 0, "locked");
    CHECK_INT(pending_log_flush(&s), 0);
    CHECK_INT(s.degraded, 0);
    CHECK_INT(s.lost_interactions, 2);
    CHECK_CONTAINS(o.log, "refuses a record for good and it is lost");
    CHECK_CONTAINS(o.log, "storage is back; 2 waiting records written");
    pending_log_close(&s);
    CHECK(s.pending == NULL);
    store_close(s.db);
    CHECK_INT(count_records(db), 4);
    loop_free(loop);
    config_free(&cfg);
    remove_scratch(dir, db);
}

static void test_script_host(void)
{
    script_host h = {0};
    CHECK_INT(script_host_add_var(&h, "who", "a"), 0);
    CHECK_INT(script_host_add_var(&h, "who", "b"), 0);
    CHECK_INT(h.nvars, 2);
    CHECK_STR(h.vars[1].name, "who");
    CHECK_STR(h.vars[1].value, "b");
    CHECK_INT(script_host_take_failure(&h), 0);
    h.script_failed = 1;
    CHECK_INT(script_host_take_failure(&h), 1);
    CHECK_INT(script_host_take_failure(&h), 0); /* taken once */
    h.changed = 1;
    CHECK_INT(script_host_take_change(&h), 1);
    CHECK_INT(script_host_take_change(&h), 0);
    CHECK_INT(script_host_note_change(&h), 0); /* nobody asked for NYX_CHANGED */
    CHECK_INT(h.changed, 0);
    h.watch_script = 1;
    CHECK_INT(script_host_note_change(&h), 1);
    CHECK_INT(script_host_take_change(&h), 1);

    h.watch_off = 1; /* nyx_set "reload" "0": no watch is made */
    event_loop *loop = loop_new();
    CHECK(loop != NULL);
    CHECK(script_host_watch(&h, loop) == NULL);
    h.watch_off = 0;
    struct file_watch *w = script_host_watch(&h, loop);
    CHECK(w != NULL);
    CHECK(script_host_watch(&h, loop) == w); /* one per host */
    CHECK_INT(config_set_string(&h.lua_path, "./x/?.lua"), 0);
    script_host_free(&h);
    CHECK(h.watch == NULL);
    loop_free(loop);
    CHECK_INT(h.nvars, 0);
    CHECK(h.vars == NULL && h.lua_path == NULL);
}

static void test_provider(void)
{
    engine_config cfg;
    error_info err = cleared_error();
    CHECK_INT(config_from_env(&cfg, &err), 0);
    config_set_string(&cfg.api_key, NULL);
    config_set_string(&cfg.base_url, NULL);
    config_set_string(&cfg.models_file, NULL);
    char notice[400];

    /* anthropic asked for with neither a key nor a server: refused, saying what is missing */
    CHECK_INT(config_set_string(&cfg.provider, "anthropic"), 0);
    provider p = {0};
    CHECK_INT(provider_start(&p, &cfg, notice, sizeof notice, &err), -1);
    CHECK_CONTAINS(err.message, "ANTHROPIC_API_KEY");
    provider_free(&p);

    /* a server without a key: a placeholder key, and a notice saying so */
    CHECK_INT(config_set_string(&cfg.base_url, "http://127.0.0.1:9"), 0);
    err = cleared_error();
    CHECK_INT(provider_start(&p, &cfg, notice, sizeof notice, &err), 0);
    CHECK_STR(p.name, "anthropic");
    CHECK_STR(p.endpoint, "http://127.0.0.1:9");
    CHECK_CONTAINS(notice, "placeholder key");
    CHECK_INT(provider_open_net(&p, &cfg, &(const char *){NULL}, &err), 0);
    CHECK_INT(provider_build_headers(&p, &cfg), 0);
    int placeholder = 0;
    for (const struct curl_slist *h = p.headers; h; h = h->next)
        placeholder |= strcmp(h->data, "x-api-key: sim-key") == 0;
    CHECK(placeholder);
    provider_free(&p);
    CHECK(p.endpoint == NULL && p.headers == NULL);

    /* a key: the API itself, nothing to announce */
    CHECK_INT(config_set_string(&cfg.api_key, "k"), 0);
    CHECK_INT(config_set_string(&cfg.base_url, NULL), 0);
    CHECK_INT(provider_start(&p, &cfg, notice, sizeof notice, &err), 0);
    CHECK_STR(p.endpoint, "https://api.anthropic.com");
    CHECK_STR(notice, "");
    provider_free(&p);

    /* sim: the built-in simulator on the loopback */
    CHECK_INT(config_set_string(&cfg.provider, "sim"), 0);
    CHECK_INT(provider_start(&p, &cfg, notice, sizeof notice, &err), 0);
    CHECK_STR(p.name, "sim");
    CHECK(p.sim != NULL);
    CHECK(p.endpoint && strncmp(p.endpoint, "http://127.0.0.1:", 17) == 0);
    CHECK_CONTAINS(notice, "built-in Claude simulator");
    provider_free(&p);
    CHECK(p.sim == NULL);
    config_free(&cfg);
}

static void test_progress(void)
{
    progress_line p = {0};
    char text[256];
    progress_line_set(&p, "script", "a");
    progress_line_set(&p, "council", "b");
    progress_line_text(&p, text, sizeof text);
    CHECK_STR(text, "a | b");
    progress_line_set(&p, "script", "c"); /* a key keeps its place */
    progress_line_text(&p, text, sizeof text);
    CHECK_STR(text, "c | b");
    progress_line_set(&p, "script", NULL); /* removed: the others move up */
    progress_line_text(&p, text, sizeof text);
    CHECK_STR(text, "b");
    CHECK_STR(p.parts[0].key, "council");
    char key[8];
    for (int i = 0; i < PROGRESS_PARTS + 2; i++) {
        snprintf(key, sizeof key, "k%d", i);
        progress_line_set(&p, key, "x");
    }
    int used = 0;
    for (int i = 0; i < PROGRESS_PARTS; i++)
        used += p.parts[i].key[0] != 0;
    CHECK_INT(used, PROGRESS_PARTS); /* no room past the last part: new keys are dropped */
    char small[6];
    progress_line_text(&p, small, sizeof small);
    CHECK_STR(small, "b | x"); /* cut to the room given */
}

int main(void)
{
    test_progress();
    test_governance();
    test_storage();
    test_pending_log();
    test_script_host();
    test_provider();
    CHECK_DONE();
}
