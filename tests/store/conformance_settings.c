/* Settings in the database (engine/core/settings.c): keys, checking by type, precedence
 * (environment over database over default), sharing between engines on one database, soft
 * budgets, alert thresholds (alerts.c) and template permissions; on each backend. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conformance.h"
#include "core/alerts.h"
#include "core/budget.h"
#include "core/engine.h"
#include "core/settings.h"
#include "nyx.h"



/* Every variable a setting reads, so the outer environment cannot change what a test sees. */
static const char *const env_vars[] = {"LLM_DAILY_BUDGET_USD", "LLM_MONTHLY_BUDGET_USD", "LLM_SESSION_BUDGET_USD",
                                       "LLM_EPHEMERAL_CACHE_TTL", "LLM_PERSISTENT_CACHE_TTL",
                                       "LLM_SHARED_CONTEXT_TTL", "NYX_BUDGET_HARD", "NYX_ALERT_LATENCY_MS",
                                       "NYX_ALERT_ERROR_RATE", "NYX_ALERT_CACHE_HIT_RATE_FLOOR",
                                       "NYX_TEMPLATE_WRITERS", "ANTHROPIC_API_KEY", "CLAUDE_API_KEY"};

/* An engine on the case's database (each case has one; db names it for the reader). */
static nyx_engine *open_engine(const char *db)
{
    (void)db;
    setenv("NYX_DB", db_uri, 1);
    char *msg = NULL;
    nyx_engine *e = nyx_open(&msg);
    if (!e)
        fprintf(stderr, "nyx_open: %s\n", msg ? msg : "?");
    nyx_free(msg);
    CHECK(e != NULL);
    return e;
}

/* The value and source of a key, as "value@source" ("-" for no value). */
static const char *got(nyx_engine *e, const char *key)
{
    static char out[300];
    char *v = NULL;
    const char *src = NULL;
    if (nyx_config_get(e, key, &v, &src) != NYX_OK) {
        snprintf(out, sizeof out, "error: %s", nyx_errmsg(e));
        return out;
    }
    snprintf(out, sizeof out, "%s@%s", v ? v : "-", src);
    nyx_free(v);
    return out;
}

/* ---- events ---- */

static struct {
    char event[32], kind[40], scope[80];
    double value;
} events[64];
static int nevents;

static void capture(nyx_engine *e, const char *event, const engine_field *f, size_t n)
{
    (void)e;
    if (nevents >= 64)
        return;
    snprintf(events[nevents].event, sizeof events[nevents].event, "%s", event);
    events[nevents].kind[0] = events[nevents].scope[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].key, "kind") == 0)
            snprintf(events[nevents].kind, sizeof events[nevents].kind, "%s", f[i].str);
        else if (strcmp(f[i].key, "scope") == 0)
            snprintf(events[nevents].scope, sizeof events[nevents].scope, "%s", f[i].str);
        else if (strcmp(f[i].key, "value") == 0)
            events[nevents].value = f[i].num;
    }
    nevents++;
}

static int count_events(const char *kind)
{
    int k = 0;
    for (int i = 0; i < nevents; i++)
        k += strcmp(events[i].event, "alert") == 0 && strcmp(events[i].kind, kind) == 0;
    return k;
}

/* ---- keys and checking ---- */

static void test_keys_and_checking(void)
{
    nyx_engine *e = open_engine("keys.db");
    if (!e)
        return;
    rowtext t = {0};
    CHECK_INT(nyx_query(e, "config", NULL, host_text, &t), NYX_OK);
    CHECK_INT(t.rows, 16);
    CHECK_CONTAINS(t.s, "storage.durability|strict|default\n");
    CHECK_CONTAINS(t.s, "budget.daily_usd|NULL|default\n");
    CHECK_CONTAINS(t.s, "budget.hard|true|default\n");
    CHECK_CONTAINS(t.s, "budget.agent_hard|true|default\n");
    CHECK_CONTAINS(t.s, "cache.ttl.persistent|86400|default\n");
    CHECK_CONTAINS(t.s, "templates.writers|NULL|default\n");

    /* Valid values are stored in canonical form and applied to the engine. */
    CHECK_INT(nyx_config_set(e, "budget.daily_usd", "2.5"), NYX_OK);
    CHECK_STR(got(e, "budget.daily_usd"), "2.5@database");
    CHECK_NEAR(e->cfg.daily_budget_usd, 2.5, 1e-12);
    CHECK_INT(nyx_config_set(e, "budget.hard", "OFF"), NYX_OK);
    CHECK_STR(got(e, "budget.hard"), "false@database");
    CHECK_STR(got(e, "budget.session_hard"), "false@default"); /* follows budget.hard */
    CHECK_INT(nyx_config_set(e, "templates.writers", " analyst , editor "), NYX_OK);
    CHECK_STR(got(e, "templates.writers"), "analyst,editor@database");
    CHECK_INT(nyx_config_set(e, "cache.ttl.ephemeral", "60"), NYX_OK);
    CHECK_NEAR(e->cfg.ephemeral_ttl_s, 60, 0);
    CHECK_INT(nyx_config_set(e, "cache.ttl.shared_context", "3600"), NYX_OK);
    CHECK_NEAR(e->cfg.shared_context_ttl_s, 3600, 0);
    CHECK_INT(nyx_config_set(e, "alert.error_rate", "0.25"), NYX_OK);
    CHECK_NEAR(settings_alerts(e)->error_rate, 0.25, 1e-12);

    /* Malformed values are refused with the key and the reason, and change nothing. */
    static const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"budget.daily_usd", "lots", "budget.daily_usd: must be a number of USD, got \"lots\""},
        {"budget.daily_usd", "-1", "budget.daily_usd: must be at least 0"},
        {"budget.daily_usd", "0x10", "budget.daily_usd: must be a number of USD, got \"0x10\""},
        {"budget.monthly_usd", "1e13", "at most 1e+12"},
        {"budget.hard", "maybe", "budget.hard: must be true or false"},
        {"alert.error_rate", "1.5", "alert.error_rate: must be at least 0 and at most 1, got 1.5"},
        {"alert.cache_hit_rate_floor", "abc", "alert.cache_hit_rate_floor: must be a share"},
        {"alert.latency_ms", "0", "alert.latency_ms: must be above 0"},
        {"cache.ttl.persistent", "12h", "cache.ttl.persistent: must be a number of seconds"},
        {"templates.writers", "a,,b", "templates.writers: must be a comma-separated list of agent names (or *), but item 2 is empty"},
        {"templates.writers", "a b", "templates.writers: \"a b\" is not an agent name"},
        {"templates.writers", "", "item 1 is empty"},
        {"no.such.key", "1", "unknown setting \"no.such.key\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(nyx_config_set(e, bad[i].key, bad[i].value), NYX_EINVAL);
        CHECK_CONTAINS(nyx_errmsg(e), bad[i].says);
    }
    CHECK_STR(got(e, "budget.daily_usd"), "2.5@database");
    CHECK_STR(got(e, "templates.writers"), "analyst,editor@database");
    char *v = NULL;
    CHECK_INT(nyx_config_get(e, "nope", &v, NULL), NYX_EINVAL);
    CHECK(v == NULL);

    /* Removing a key brings the default back, in the engine too. */
    CHECK_INT(nyx_config_set(e, "cache.ttl.ephemeral", NULL), NYX_OK);
    CHECK_STR(got(e, "cache.ttl.ephemeral"), "300@default");
    CHECK_NEAR(e->cfg.ephemeral_ttl_s, 300, 0);
    CHECK_INT(nyx_config_set(e, "budget.daily_usd", NULL), NYX_OK);
    CHECK(e->cfg.daily_budget_usd < 0);

    /* Each change is an audit event. */
    rowtext a = {0};
    CHECK_INT(nyx_query(e, "audit", NULL, host_text, &a), NYX_OK);
    CHECK_CONTAINS(a.s, "|config_set|NULL|NULL|budget.daily_usd=2.5\n");
    CHECK_CONTAINS(a.s, "|config_set|NULL|NULL|templates.writers=analyst,editor\n");
    CHECK_CONTAINS(a.s, "|config_set|NULL|NULL|cache.ttl.ephemeral removed\n");
    nyx_close(e);
}

/* ---- precedence and sharing ---- */

static void test_precedence(void)
{
    nyx_engine *e = open_engine("prec.db");
    if (!e)
        return;
    CHECK_INT(nyx_config_set(e, "budget.daily_usd", "3"), NYX_OK);
    CHECK_INT(nyx_config_set(e, "alert.latency_ms", "900"), NYX_OK);
    nyx_close(e);

    /* The environment wins over the database, and list says so. */
    setenv("LLM_DAILY_BUDGET_USD", "7", 1);
    setenv("NYX_ALERT_LATENCY_MS", "250", 1);
    e = open_engine("prec.db");
    if (!e)
        return;
    CHECK_STR(got(e, "budget.daily_usd"), "7@environment");
    CHECK_STR(got(e, "alert.latency_ms"), "250@environment");
    CHECK_NEAR(e->cfg.daily_budget_usd, 7, 0);
    CHECK_NEAR(settings_alerts(e)->latency_ms, 250, 0);
    rowtext t = {0};
    CHECK_INT(nyx_query(e, "config", NULL, host_text, &t), NYX_OK);
    CHECK_CONTAINS(t.s, "budget.daily_usd|7|environment\n");
    /* Setting it still stores it (for other processes), but this one keeps the environment's. */
    CHECK_INT(nyx_config_set(e, "budget.daily_usd", "4"), NYX_OK);
    CHECK_STR(got(e, "budget.daily_usd"), "7@environment");
    CHECK_NEAR(e->cfg.daily_budget_usd, 7, 0);
    nyx_close(e);
    unsetenv("LLM_DAILY_BUDGET_USD");
    unsetenv("NYX_ALERT_LATENCY_MS");

    e = open_engine("prec.db");
    if (!e)
        return;
    CHECK_STR(got(e, "budget.daily_usd"), "4@database");
    CHECK_STR(got(e, "alert.latency_ms"), "900@database");
    CHECK_STR(got(e, "budget.monthly_usd"), "-@default");

    /* A second engine on the same database sees a change once it reloads (the engine does
     * when the database changes, within a quarter second). */
    nyx_engine *other = open_engine("prec.db");
    if (other) {
        CHECK_STR(got(other, "budget.daily_usd"), "4@database");
        CHECK_INT(nyx_config_set(e, "budget.daily_usd", "5"), NYX_OK);
        error_info err = cleared_error();
        CHECK_INT(settings_load(other, &err), 0);
        CHECK_STR(got(other, "budget.daily_usd"), "5@database");
        CHECK_NEAR(other->cfg.daily_budget_usd, 5, 0);
        nyx_close(other);
    }

    /* A value written behind nyx's back that it cannot read is not applied, with a warning; a
     * spending limit so written allows no spending (dropped, it would leave the scope without a
     * limit) until it is set again. */
    nyx_close(e);
    e = open_engine("prec.db");
    if (e) {
        error_info err = cleared_error();
        CHECK_INT(engine_open_store(e), 0);
        const char *ttl = got(e, "cache.ttl.persistent");
        char ttl_before[300]; /* got()'s whole text */
        snprintf(ttl_before, sizeof ttl_before, "%s", ttl ? ttl : "");
        CHECK_INT(store_config_set(e->storage.db, "cache.ttl.persistent", "12h", &err), 0);
        CHECK_INT(store_config_set(e->storage.db, "budget.monthly_usd", "plenty", &err), 0);
        CHECK_INT(settings_load(e, &err), 0);
        CHECK_STR(got(e, "cache.ttl.persistent"), ttl_before);
        CHECK_STR(got(e, "budget.monthly_usd"), "0@database");
        CHECK_NEAR(e->cfg.monthly_budget_usd, 0, 0);
        CHECK_INT(nyx_config_set(e, "budget.monthly_usd", "40"), NYX_OK);
        CHECK_NEAR(e->cfg.monthly_budget_usd, 40, 0);
        CHECK_INT(nyx_config_set(e, "cache.ttl.persistent", NULL), NYX_OK);
        nyx_close(e);
    }

    /* A malformed environment value stops the engine at start, naming the variable. */
    setenv("NYX_BUDGET_HARD", "perhaps", 1);
    char *msg = NULL;
    nyx_engine *none = nyx_open(&msg);
    CHECK(none == NULL);
    CHECK_CONTAINS(msg, "NYX_BUDGET_HARD (budget.hard): must be true or false");
    nyx_free(msg);
    nyx_close(none);
    unsetenv("NYX_BUDGET_HARD");
    setenv("NYX_TEMPLATE_WRITERS", "ok,,no", 1);
    none = nyx_open(&msg);
    CHECK(none == NULL);
    CHECK_CONTAINS(msg, "NYX_TEMPLATE_WRITERS (templates.writers)");
    nyx_free(msg);
    nyx_close(none);
    unsetenv("NYX_TEMPLATE_WRITERS");
}

/* ---- soft and hard budgets ---- */

typedef struct reserve_out {
    int rc;
    error_info err;
} reserve_out;

static void reserved(void *ud, int rc, const error_info *err)
{
    reserve_out *out = ud;
    out->rc = rc;
    if (err)
        out->err = *err;
}

/* budget_reserve, waited for: SQLite answers before it returns, PostgreSQL from the pump. */
static int reserve_now(nyx_engine *e, budget_scopes *s, double amount, char *id, size_t id_size,
                       error_info *err)
{
    reserve_out out;
    memset(&out, 0, sizeof out);
    out.rc = -2;
    budget_request r = {.e = e, .s = s, .amount_usd = amount, .id = id, .id_size = id_size,
                        .done = reserved, .ud = &out};
    budget_reserve(&r);
    if (out.rc == -2 && drive(e->storage.db, 10) != 0)
        fprintf(stderr, "reservation: no answer\n");
    if (out.rc != 0)
        *err = out.err;
    return out.rc;
}

static void test_soft_budget(void)
{
    nyx_engine *e = open_engine("soft.db");
    if (!e)
        return;
    CHECK_INT(engine_open_store(e), 0);
    e->script.emit = capture;
    nevents = 0;
    CHECK_INT(nyx_config_set(e, "budget.daily_usd", "0.01"), NYX_OK);

    /* Hard (the default): a reservation over the limit is refused. */
    budget_scopes s;
    budget_scopes_for(e, NULL, NULL, &s);
    CHECK_INT((int)s.n, 1);
    CHECK_INT(s.soft[0], 0);
    char id[STORE_RESERVATION_ID_SIZE];
    error_info err = cleared_error();
    CHECK_INT(reserve_now(e, &s, 0.02, id, sizeof id, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");

    /* Soft: it warns and alerts once, and the calls go on, their spending tracked. */
    CHECK_INT(nyx_config_set(e, "budget.hard", "false"), NYX_OK);
    budget_scopes_for(e, NULL, NULL, &s);
    CHECK_INT(s.soft[0], 1);
    error_clear(&err);
    CHECK_INT(reserve_now(e, &s, 0.02, id, sizeof id, &err), 0);
    CHECK_INT(store_budget_settle(e->storage.db, id, 0.02, &err), 0);
    CHECK_INT(reserve_now(e, &s, 0.02, id, sizeof id, &err), 0);
    CHECK_INT(store_budget_settle(e->storage.db, id, 0.02, &err), 0);
    CHECK_INT(count_events("budget_soft_limit"), 1);
    CHECK(strncmp(events[0].scope, "day:", 4) == 0);
    rowtext b = {0};
    CHECK_INT(nyx_query(e, "budget", NULL, host_text, &b), NYX_OK);
    CHECK_CONTAINS(b.s, "|0.01|0.04|0.0|-0.03|"); /* the limit still shown, spent past it */
    rowtext a = {0};
    CHECK_INT(nyx_query(e, "audit", NULL, host_text, &a), NYX_OK);
    CHECK_CONTAINS(a.s, "|budget_soft_exceeded|");
    CHECK_CONTAINS(a.s, "|budget_refused|"); /* the hard refusal before */

    /* A scope kind's own key wins over budget.hard. */
    CHECK_INT(nyx_config_set(e, "budget.daily_hard", "true"), NYX_OK);
    budget_scopes_for(e, NULL, NULL, &s);
    CHECK_INT(s.soft[0], 0);
    error_clear(&err);
    CHECK_INT(reserve_now(e, &s, 0.02, id, sizeof id, &err), -1);
    CHECK_STR(err.type, "budget_exceeded");
    CHECK_INT(nyx_config_set(e, "budget.hard", "true"), NYX_OK);
    CHECK_INT(nyx_config_set(e, "budget.agent_hard", "false"), NYX_OK);
    CHECK_INT(settings_budget_hard(e, "agent:x"), 0);
    CHECK_INT(settings_budget_hard(e, "session:x"), 1);
    nyx_close(e);
}

/* ---- alert thresholds ---- */

/* n calls finished, each with the status, latency and cache hit given. */
static void finished(nyx_engine *e, int n, int status, double latency_ms, int cache_hit)
{
    call_outcome r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.latency_ms = latency_ms;
    r.cache_hit = cache_hit;
    snprintf(r.interaction_id, sizeof r.interaction_id, "ix_test");
    snprintf(r.model_requested, sizeof r.model_requested, "claude-haiku-4-5");
    for (int i = 0; i < n; i++)
        alerts_call_finished(e, &r, "analyst");
}

static void test_alerts(void)
{
    nyx_engine *e = open_engine("alerts.db");
    if (!e)
        return;
    e->script.emit = capture;
    nevents = 0;
    /* No thresholds: nothing, whatever happens. */
    finished(e, 30, NYX_STATUS_ERROR, 1e6, 0);
    CHECK_INT(nevents, 0);

    CHECK_INT(nyx_config_set(e, "alert.latency_ms", "100"), NYX_OK);
    finished(e, 1, NYX_STATUS_OK, 50, 1);
    CHECK_INT(count_events("latency"), 0);
    finished(e, 1, NYX_STATUS_OK, 150, 1);
    CHECK_INT(count_events("latency"), 1);
    CHECK_NEAR(events[nevents - 1].value, 150, 0);
    CHECK_INT(nyx_config_set(e, "alert.latency_ms", NULL), NYX_OK);

    /* Error rate: judged over the last 20 calls once 10 have finished; one alert per spell. */
    CHECK_INT(nyx_config_set(e, "alert.error_rate", "0.5"), NYX_OK);
    nevents = 0;
    finished(e, 20, NYX_STATUS_OK, 10, 1);
    finished(e, 10, NYX_STATUS_ERROR, 10, 0); /* 10 of 20: at the threshold, not above */
    CHECK_INT(count_events("error_rate"), 0);
    finished(e, 1, NYX_STATUS_ERROR, 10, 0); /* 11 of 20 */
    CHECK_INT(count_events("error_rate"), 1);
    CHECK_NEAR(events[nevents - 1].value, 0.55, 1e-9);
    finished(e, 5, NYX_STATUS_ERROR, 10, 0);
    CHECK_INT(count_events("error_rate"), 1);
    finished(e, 20, NYX_STATUS_OK, 10, 1); /* recovered: re-armed */
    finished(e, 1, NYX_STATUS_CANCELLED, 10, 0); /* cancelled calls do not count */
    finished(e, 11, NYX_STATUS_ERROR, 10, 0);
    CHECK_INT(count_events("error_rate"), 2);
    CHECK_INT(nyx_config_set(e, "alert.error_rate", NULL), NYX_OK);

    /* Cache hit rate below a floor, over the successful calls. */
    CHECK_INT(nyx_config_set(e, "alert.cache_hit_rate_floor", "0.6"), NYX_OK);
    nevents = 0;
    finished(e, 20, NYX_STATUS_OK, 10, 1);
    CHECK_INT(count_events("cache_hit_rate"), 0);
    finished(e, 8, NYX_STATUS_OK, 10, 0); /* 12 hits of 20 */
    CHECK_INT(count_events("cache_hit_rate"), 0);
    finished(e, 1, NYX_STATUS_OK, 10, 0); /* 11 of 20 */
    CHECK_INT(count_events("cache_hit_rate"), 1);
    finished(e, 5, NYX_STATUS_OK, 10, 0);
    CHECK_INT(count_events("cache_hit_rate"), 1);
    nyx_close(e);
}

/* ---- template permissions ---- */

static void test_template_writers(void)
{
    nyx_engine *e = open_engine("writers.db");
    if (!e)
        return;
    error_info err = cleared_error();
    CHECK_INT(settings_template_write_allowed(e, NULL, "summary", &err), 0); /* unset: anyone */
    CHECK_INT(settings_template_write_allowed(e, "anybody", "summary", &err), 0);
    CHECK_INT(nyx_config_set(e, "templates.writers", "editor,analyst"), NYX_OK);
    CHECK_INT(settings_template_write_allowed(e, "analyst", "summary", &err), 0);
    CHECK_INT(settings_template_write_allowed(e, "intern", "summary", &err), -1);
    CHECK_ERROR(err, "permission_denied", "agent \"intern\" may not create or change template \"summary\"");
    error_clear(&err);
    CHECK_INT(settings_template_write_allowed(e, NULL, "summary", &err), -1);
    CHECK_STR(err.type, "permission_denied");
    rowtext a = {0};
    CHECK_INT(nyx_query(e, "audit", NULL, host_text, &a), NYX_OK);
    CHECK_CONTAINS(a.s, "|template_write_refused|NULL|intern|template=summary\n");
    CHECK_CONTAINS(a.s, "|template_write_refused|NULL|NULL|template=summary\n");
    CHECK_INT(nyx_config_set(e, "templates.writers", "*"), NYX_OK);
    error_clear(&err);
    CHECK_INT(settings_template_write_allowed(e, "intern", "summary", &err), 0);
    nyx_close(e);
}

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
    setenv("NYX_PROVIDER", "sim", 1);
    static const conformance_case cases[] = {
        {"keys_and_checking", .fn = test_keys_and_checking},
        {"precedence", .fn = test_precedence},
        {"soft_budget", .fn = test_soft_budget},
        {"alerts", .fn = test_alerts},
        {"template_writers", .fn = test_template_writers},
        {0},
    };
    return conformance_main(argc, argv, "store-settings", cases);
}
