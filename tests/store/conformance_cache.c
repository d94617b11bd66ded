/* engine/store response cache, layer 2 (llm_cache): put, get, expiry, hit counts and
 * sharing between two connections, on each backend. */
#include "conformance.h"

static long long hits(const char *key)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT hits FROM llm_cache WHERE key = '%s'", key);
    return raw_int(sql);
}

/* The cached response for key at now, "(absent)" when none; the caller frees nothing. */
static const char *get(store_db *s, const char *key, double now, char *buf, size_t n)
{
    char *v = (char *)"untouched";
    error_info err = cleared_error();
    if (store_cache_get(s, key, now, &v, &err) != 0)
        snprintf(buf, n, "(error: %.200s)", err.message);
    else if (!v)
        snprintf(buf, n, "(absent)");
    else
        snprintf(buf, n, "%s", v);
    if (v && strcmp(v, "untouched") != 0)
        free(v);
    return buf;
}

static void test_put_get_expire(store_db *s)
{
    error_info err = cleared_error();
    char b[256];
    const char *resp = "{\"content\":[{\"type\":\"text\",\"text\":\"4\"}]}";

    CHECK_STR(get(s, "k1", T0, b, sizeof b), "(absent)");
    CHECK_INT(store_cache_put(s, "k1", "claude-haiku-4-5", resp, T0, 60, &err), 0);
    CHECK_INT(hits("k1"), 0);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache WHERE key = 'k1' AND"
                      " expires_at = 1764064860 AND created_at = 1764064800 AND"
                      " model = 'claude-haiku-4-5'"),
              1);

    /* Each hit counts; a miss on another key counts nothing. */
    CHECK_STR(get(s, "k1", T0 + 1, b, sizeof b), resp);
    CHECK_STR(get(s, "k1", T0 + 59.999, b, sizeof b), resp);
    CHECK_STR(get(s, "k2", T0 + 1, b, sizeof b), "(absent)");
    CHECK_INT(hits("k1"), 2);

    /* Expired at exactly created + ttl: not served, not counted, still stored. */
    CHECK_STR(get(s, "k1", T0 + 60, b, sizeof b), "(absent)");
    CHECK_STR(get(s, "k1", T0 + 3600, b, sizeof b), "(absent)");
    CHECK_INT(hits("k1"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache"), 1);

    /* Putting again replaces the entry: new response, new expiry, hits from 0. */
    CHECK_INT(store_cache_put(s, "k1", "claude-sonnet-4-5", "{\"v\":2}", T0 + 100, 10, &err), 0);
    CHECK_INT(hits("k1"), 0);
    CHECK_STR(get(s, "k1", T0 + 105, b, sizeof b), "{\"v\":2}");
    CHECK_INT(hits("k1"), 1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache WHERE model = 'claude-sonnet-4-5'"), 1);

    /* ttl <= 0: never expires. */
    CHECK_INT(store_cache_put(s, "forever", NULL, "{}", T0, 0, &err), 0);
    CHECK_INT(store_cache_put(s, "forever2", NULL, "{}", T0, -5, &err), 0);
    CHECK_STR(get(s, "forever", T0 + 1e9, b, sizeof b), "{}");
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache WHERE expires_at IS NULL"), 2);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache WHERE key = 'forever' AND model IS NULL"),
              1);

    /* A large response round-trips byte for byte. */
    size_t big_n = 256 * 1024;
    char *big = malloc(big_n + 1);
    CHECK(big != NULL);
    if (big) {
        for (size_t i = 0; i < big_n; i++)
            big[i] = (char)('a' + i % 26);
        big[big_n] = '\0';
        CHECK_INT(store_cache_put(s, "big", "m", big, T0, 60, &err), 0);
        char *v = NULL;
        CHECK_INT(store_cache_get(s, "big", T0 + 1, &v, &err), 0);
        CHECK(v != NULL && strcmp(v, big) == 0);
        free(v);
        free(big);
    }
}

static void test_now_and_invalid(store_db *s)
{
    error_info err = cleared_error();
    char b[128];
    /* now <= 0 is the wall clock: an entry put now for an hour is served now. */
    CHECK_INT(store_cache_put(s, "w", NULL, "{\"w\":1}", 0, 3600, &err), 0);
    CHECK_STR(get(s, "w", 0, b, sizeof b), "{\"w\":1}");
    double wall = clock_wall_s();
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM llm_cache WHERE key = 'w' AND abs(created_at - %s) < 5",
             SQL_NOW);
    CHECK_INT(raw_int(sql), 1);
    CHECK_STR(get(s, "w", wall + 3601, b, sizeof b), "(absent)");

    char *v = (char *)"untouched";
    CHECK_INT(store_cache_get(s, "", T0, &v, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK(v == NULL);
    CHECK_INT(store_cache_get(s, "w", NAN, &v, &err), -1);
    CHECK_INT(store_cache_get(s, "w", T0, NULL, &err), -1);
    CHECK_INT(store_cache_put(s, "k", NULL, NULL, T0, 1, &err), -1);
    CHECK_STR(err.type, "invalid_argument");
    CHECK_INT(store_cache_put(s, NULL, NULL, "{}", T0, 1, &err), -1);
    CHECK_INT(store_cache_put(s, "k", NULL, "{}", INFINITY, 1, &err), -1);
    CHECK_INT(store_cache_put(s, "k", NULL, "{}", T0, NAN, &err), -1);
    CHECK_INT(raw_int("SELECT count(*) FROM llm_cache"), 1);
}

/* Layer 2 is shared: what one connection puts, another reads, and the hits add up. */
static void test_shared(void)
{
    store_db *a = open_db();
    store_db *b = open_db();
    error_info err = cleared_error();
    if (a && b) {
        char buf[64];
        CHECK_INT(store_cache_put(a, "shared", "m", "{\"s\":1}", T0, 60, &err), 0);
        CHECK_STR(get(b, "shared", T0 + 1, buf, sizeof buf), "{\"s\":1}");
        CHECK_STR(get(a, "shared", T0 + 2, buf, sizeof buf), "{\"s\":1}");
        CHECK_INT(hits("shared"), 2);
        /* Inside a batch the hit joins the batch. (A PostgreSQL batch is pipelined, not one
         * transaction: it has no rollback to undo the hit with, conformance_log's batch.) */
        if (!is_pg) {
            CHECK_INT(store_batch_begin(b, &err), 0);
            CHECK_STR(get(b, "shared", T0 + 3, buf, sizeof buf), "{\"s\":1}");
            CHECK_INT(store_batch_rollback(b, &err), 0);
            CHECK_INT(hits("shared"), 2);
        }
    }
    store_close(a);
    store_close(b);
}

CONFORMANCE_SUITE("store-cache",
    {"put_get_expire", .on_db = test_put_get_expire},
    {"now_and_invalid", .on_db = test_now_and_invalid},
    {"shared", .fn = test_shared})
