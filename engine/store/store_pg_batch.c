/* PostgreSQL for Message Batches (store.h). A batch and its requests are one statement (the
 * requests as arrays, unnested), so one transaction: the pipeline's groups are not. */
#define _POSIX_C_SOURCE 200809L
#include "store_pg.h"

#include "base/textbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One element of an array literal: NULL, or the text quoted and escaped. */
static void put_elem(textbuf *a, size_t i, const char *text)
{
    textbuf_put(a, i ? "," : "{", 1);
    if (!text) {
        textbuf_put(a, "NULL", 4);
        return;
    }
    textbuf_put(a, "\"", 1);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            textbuf_put(a, "\\", 1);
        textbuf_put(a, c, 1);
    }
    textbuf_put(a, "\"", 1);
}

static void close_array(textbuf *a, size_t n) { textbuf_put(a, n ? "}" : "{}", n ? 1 : 2); }

int store_pg_batch_create(store_db *s, const char *id, const char *name, double created_at,
                          double expires_at, int parts, const store_batch_request *reqs, size_t n,
                          error_info *err)
{
    enum { CUSTOM, PART, SESSION, AGENT, TEMPLATE, VERSION, MODEL, RESERVATION, RESERVED, WRITE_1H, NCOL };
    textbuf cols[NCOL];
    memset(cols, 0, sizeof cols);
    char num[32];
    for (size_t i = 0; i < n; i++) {
        const store_batch_request *r = &reqs[i];
        put_elem(&cols[CUSTOM], i, r->custom_id);
        put_elem(&cols[PART], i, pg_int(num, r->part));
        put_elem(&cols[SESSION], i, r->session);
        put_elem(&cols[AGENT], i, r->agent);
        put_elem(&cols[TEMPLATE], i, r->template_name);
        put_elem(&cols[VERSION], i, r->template_name ? pg_int(num, r->template_version) : NULL);
        put_elem(&cols[MODEL], i, r->model);
        put_elem(&cols[RESERVATION], i, r->reservation_id);
        put_elem(&cols[RESERVED], i, pg_num(num, r->reserved_usd));
        put_elem(&cols[WRITE_1H], i, r->write_1h ? "1" : "0");
    }
    int ok = 1;
    for (int k = 0; k < NCOL; k++) {
        close_array(&cols[k], n);
        ok &= !cols[k].failed;
    }
    int rc = -1;
    if (!ok) {
        store_fail(err, "store: cannot record batch %.64s: out of memory", id);
    } else {
        char b_created[32], b_expires[32], b_n[32], b_parts[32];
        const char *v[6 + NCOL] = {id, name, pg_num(b_created, created_at), pg_num(b_expires, expires_at),
                                   pg_int(b_n, (int64_t)n), pg_int(b_parts, parts)};
        for (int k = 0; k < NCOL; k++)
            v[6 + k] = cols[k].s;
        /* The batch holds the reservations now (store.h): no holder process, and their age
         * counts from when the API gives up on the batch. */
        static const char sql[] =
            "WITH b AS (INSERT INTO llm_batches (id, name, created_at, expires_at, requests, parts)"
            " VALUES ($1, $2, $3::double precision, $4::double precision, $5::integer, $6::integer)),"
            " r AS (INSERT INTO llm_batch_requests (batch_id, custom_id, part, session, agent, template,"
            " template_version, model, reservation_id, reserved_usd, write_1h)"
            " SELECT $1, * FROM unnest($7::text[], $8::integer[], $9::text[], $10::text[], $11::text[],"
            " $12::integer[], $13::text[], $14::text[], $15::double precision[], $16::integer[])),"
            " h AS (UPDATE budget_holds SET pid = NULL, host = NULL, created_at = $4::double precision"
            " WHERE id = ANY ($14::text[]))"
            " SELECT 1";
        char what[128];
        snprintf(what, sizeof what, "record batch %.64s", id);
        PGresult *res = pg_exec(pg_of(s), what, sql, 6 + NCOL, v, err);
        rc = res ? 0 : -1;
        PQclear(res);
    }
    for (int k = 0; k < NCOL; k++)
        free(cols[k].s);
    return rc;
}
