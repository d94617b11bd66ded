/* Message Batches in the store (store.h): argument checks, name filtering and the queries,
 * written once for every backend. */
#include "store_backend.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_print.h"

/* A batch and its requests are recorded together, the requests given as one JSON array of
 * objects with these keys: SQLite in one transaction of three statements, PostgreSQL (whose
 * statements are each their own transaction) in one. The batch holds the reservations from
 * then on (store.h): no holder process whose death releases them, and their age counts from
 * when the API gives up on the batch. */
#define REQUEST_COLS                                                                       \
    "custom_id, part, session, agent, template, template_version, model, reservation_id,"  \
    " reserved_usd, write_1h"
#define SQ_REQUEST(key) "json_extract(value, '$." key "')"
static const store_sql SQL_ADD = {{"INSERT INTO llm_batches (id, name, created_at, expires_at,"
                                   " requests, parts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                   NULL}};
static const store_sql SQL_ADD_REQUESTS = {
    {"INSERT INTO llm_batch_requests (batch_id, " REQUEST_COLS ") SELECT ?1, "
     SQ_REQUEST("custom_id") ", " SQ_REQUEST("part") ", " SQ_REQUEST("session") ", "
     SQ_REQUEST("agent") ", " SQ_REQUEST("template") ", " SQ_REQUEST("template_version") ", "
     SQ_REQUEST("model") ", " SQ_REQUEST("reservation_id") ", " SQ_REQUEST("reserved_usd") ", "
     SQ_REQUEST("write_1h") " FROM json_each(?2)",
     NULL}};
static const store_sql SQL_HOLD = {
    {"UPDATE budget_holds SET pid = NULL, host = NULL, created_at = ?2"
     " WHERE id IN (SELECT " SQ_REQUEST("reservation_id") " FROM json_each(?1))",
     NULL}};
static const store_sql SQL_RECORD = {
    {NULL,
     "WITH b AS (INSERT INTO llm_batches (id, name, created_at, expires_at, requests, parts)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)),"
     " r AS (INSERT INTO llm_batch_requests (batch_id, " REQUEST_COLS ") SELECT ?1, *"
     " FROM json_to_recordset(?7::json) AS x(custom_id text, part integer, session text,"
     " agent text, template text, template_version integer, model text, reservation_id text,"
     " reserved_usd double precision, write_1h integer)),"
     " h AS (UPDATE budget_holds SET pid = NULL, host = NULL, created_at = ?4"
     " WHERE id IN (SELECT reservation_id FROM json_to_recordset(?7::json) AS x(reservation_id text)))"
     " SELECT 1"}};

static const store_sql SQL_SUBMITTED = STORE_SQL_SAME(
    "UPDATE llm_batch_requests SET provider_id = ?3 WHERE batch_id = ?1 AND part = ?2");

/* The reservations of a batch still held whose requests are all logged, and what they
 * cost. */
static const store_sql SQL_READY = STORE_SQL_SAME(
    "SELECT r.reservation_id AS reservation_id, COALESCE(SUM(i.cost_usd), 0) AS cost_usd"
    " FROM llm_batch_requests r LEFT JOIN llm_interactions i"
    " ON i.batch_id = r.batch_id AND i.custom_id = r.custom_id"
    " WHERE r.batch_id = ?1 AND r.reservation_id IN (SELECT id FROM budget_holds)"
    " GROUP BY r.reservation_id HAVING COUNT(i.id) = COUNT(*)");

/* A batch's requests, by its id or (the newest batch with) a part's provider id. */
static const store_sql SQL_REQUESTS = STORE_SQL_SAME(
    "SELECT r.batch_id, b.name, r.part, r.provider_id, r.custom_id, r.session, r.agent,"
    " r.template, r.template_version, r.model, r.reservation_id, r.reserved_usd, r.write_1h,"
    " b.created_at, CASE WHEN EXISTS (SELECT 1 FROM llm_interactions i"
    " WHERE i.batch_id = r.batch_id AND i.custom_id = r.custom_id) THEN 1 ELSE 0 END AS logged,"
    " (SELECT i.id FROM llm_interactions i WHERE i.batch_id = r.batch_id AND i.custom_id = r.custom_id)"
    " AS interaction_id"
    " FROM llm_batch_requests r JOIN llm_batches b ON b.id = r.batch_id"
    " WHERE r.batch_id = COALESCE((SELECT id FROM llm_batches WHERE id = ?1),"
    " (SELECT r2.batch_id FROM llm_batch_requests r2 JOIN llm_batches b2 ON b2.id = r2.batch_id"
    " WHERE r2.provider_id = ?1 ORDER BY b2.created_at DESC LIMIT 1))"
    " ORDER BY r.part, r.custom_id");

/* The requests as REQUEST_COLS' JSON array (malloc'd), or NULL when out of memory. */
static char *requests_json(const store_batch_request *reqs, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        const store_batch_request *r = &reqs[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddStringToObject(o, "custom_id", r->custom_id);
        cJSON_AddNumberToObject(o, "part", r->part);
        cJSON_AddItemToObject(o, "session", r->session ? cJSON_CreateString(r->session) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "agent", r->agent ? cJSON_CreateString(r->agent) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "template",
                              r->template_name ? cJSON_CreateString(r->template_name) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "template_version", r->template_name
                                                         ? cJSON_CreateNumber(r->template_version)
                                                         : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "model", r->model ? cJSON_CreateString(r->model) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "reservation_id",
                              r->reservation_id ? cJSON_CreateString(r->reservation_id) : cJSON_CreateNull());
        cJSON_AddNumberToObject(o, "reserved_usd", r->reserved_usd);
        if (!cJSON_AddNumberToObject(o, "write_1h", r->write_1h != 0) || cJSON_GetArraySize(o) != 10) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    char *json = a ? json_print(a) : NULL;
    cJSON_Delete(a);
    return json;
}

static int record(store_db *s, const char *id, const char *name, double expires_at, int parts,
                  const store_batch_request *reqs, size_t n, error_info *err)
{
    char what[128];
    snprintf(what, sizeof what, "record batch %.64s", id);
    char *json = requests_json(reqs, n);
    if (!json) {
        store_fail(err, "store: cannot %s: out of memory", what);
        return -1;
    }
    store_val v[] = {sv_text(id),         sv_text(name),       sv_real(clock_wall_s()),
                     sv_real(expires_at), sv_int((int64_t)n), sv_int(parts), sv_text(json)};
    int rc;
    if (store_sql_has(s, &SQL_RECORD)) {
        store_stmt st = {&SQL_RECORD, what, 7, v, NULL};
        rc = store_exec_write(s, &st, NULL, err);
    } else if ((rc = store_tx_begin(s, what, err)) == 0) {
        store_stmt st[] = {{&SQL_ADD, what, 6, v, NULL},
                           {&SQL_ADD_REQUESTS, what, 2, (store_val[]){v[0], v[6]}, NULL},
                           {&SQL_HOLD, what, 2, (store_val[]){v[6], v[3]}, NULL}};
        for (size_t i = 0; rc == 0 && i < sizeof st / sizeof st[0]; i++)
            rc = store_exec_write(s, &st[i], NULL, err);
        if (rc == 0)
            rc = store_tx_commit(s, what, err);
        else
            store_tx_rollback(s, 1, err);
    }
    free(json);
    return rc;
}

int store_batch_create(store_db *s, const char *id, const char *name, double expires_at, int parts,
                       const store_batch_request *reqs, size_t n, error_info *err)
{
    if (!s || !id || !*id || (n > 0 && !reqs) || parts < 1 || !isfinite(expires_at))
        return store_invalid(err, "cannot record a batch: no store, no id, no requests or no parts");
    for (size_t i = 0; i < n; i++)
        if (!reqs[i].custom_id || !*reqs[i].custom_id || reqs[i].part < 0 || reqs[i].part >= parts ||
            !(reqs[i].reserved_usd >= 0) || isinf(reqs[i].reserved_usd))
            return store_invalid(err, "cannot record batch %.64s: request %zu has no custom id, a part "
                                      "out of range or a bad reserved amount", id, i);
    if (!s->filter)
        return record(s, id, name, expires_at, parts, reqs, n, err);
    /* The names its results are filed under, filtered as an interaction's are (copies). */
    store_batch_request *clean = calloc(n ? n : 1, sizeof *clean);
    int rc = clean ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        store_scrubbed sc = {0};
        const char *session = store_scrub(s, &sc, reqs[i].session, 1);
        const char *agent = store_scrub(s, &sc, reqs[i].agent, 1);
        if (store_scrub_failed(&sc, err) != 0) {
            rc = -2;
            break;
        }
        clean[i] = reqs[i];
        clean[i].session = session ? text_dup(session) : NULL;
        clean[i].agent = agent ? text_dup(agent) : NULL;
        store_scrub_free(&sc);
        if ((session && !clean[i].session) || (agent && !clean[i].agent))
            rc = -1;
    }
    if (rc == -1)
        store_fail(err, "store: cannot record batch %.64s: out of memory", id);
    if (rc == 0)
        rc = record(s, id, name, expires_at, parts, clean, n, err);
    for (size_t i = 0; clean && i < n; i++) {
        free((char *)clean[i].session);
        free((char *)clean[i].agent);
    }
    free(clean);
    return rc == 0 ? 0 : -1;
}

int store_batch_submitted(store_db *s, const char *id, int part, const char *provider_id, error_info *err)
{
    if (!s || !id || !*id || part < 0 || !provider_id || !*provider_id)
        return store_invalid(err, "cannot record a batch's submission: no store, no id or no provider id");
    char what[160];
    snprintf(what, sizeof what, "record the submission of batch %.64s", id);
    store_val v[] = {sv_text(id), sv_int(part), sv_text(provider_id)};
    store_stmt st = {&SQL_SUBMITTED, what, 3, v, NULL};
    return store_exec_write(s, &st, NULL, err);
}

typedef struct ready {
    char (*ids)[STORE_RESERVATION_ID_SIZE];
    double *cost;
    size_t n, cap;
    int oom;
} ready;

static int take_ready(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    ready *r = ud;
    (void)ncols;
    (void)names;
    (void)types;
    if (!values[0] || strlen(values[0]) >= STORE_RESERVATION_ID_SIZE)
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        char(*ids)[STORE_RESERVATION_ID_SIZE] = realloc(r->ids, cap * sizeof *ids);
        double *cost = ids ? realloc(r->cost, cap * sizeof *cost) : NULL;
        if (ids)
            r->ids = ids;
        if (!cost) {
            r->oom = 1;
            return 1;
        }
        r->cost = cost;
        r->cap = cap;
    }
    snprintf(r->ids[r->n], STORE_RESERVATION_ID_SIZE, "%s", values[0]);
    r->cost[r->n++] = values[1] ? strtod(values[1], NULL) : 0;
    return 0;
}

int store_batch_settle(store_db *s, const char *id, int *settled, error_info *err)
{
    if (settled)
        *settled = 0;
    if (!s || !id || !*id)
        return store_invalid(err, "cannot settle a batch: no store or no id");
    ready r = {0};
    store_stmt st = {&SQL_READY, "read a batch's settled requests", 1, (store_val[]){sv_text(id)},
                     NULL};
    int rc = store_exec(s, &st, take_ready, &r, err);
    if (r.oom) {
        store_fail(err, "store: cannot settle batch %.64s: out of memory", id);
        rc = -1;
    }
    /* Each settle is its own transaction and idempotent: two processes settling at once
     * settle each reservation once. */
    for (size_t i = 0; rc >= 0 && i < r.n; i++) {
        rc = store_budget_settle(s, r.ids[i], r.cost[i] > 0 ? r.cost[i] : 0, err);
        if (rc == 0 && settled)
            (*settled)++;
    }
    free(r.ids);
    free(r.cost);
    return rc < 0 ? -1 : 0;
}

int store_batch_requests(store_db *s, const char *id, store_row_fn fn, void *ud, error_info *err)
{
    if (!s || !id || !*id || !fn)
        return store_invalid(err, "cannot read a batch: no store, no id or no row callback");
    store_stmt st = {&SQL_REQUESTS, "read a batch's requests", 1, (store_val[]){sv_text(id)},
                     NULL};
    return store_exec(s, &st, fn, ud, err);
}
