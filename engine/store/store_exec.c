/* The query layer's helpers over the driver (store_driver.h): running a statement written
 * once on whichever backend a store has, reading a first value, and answering in the loop
 * or at once. */
#include "store_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

int store_dialect(const store_db *s) { return s->ops->dialect; }

int store_sql_has(const store_db *s, const store_sql *sql)
{
    return sql->text[s->ops->dialect] != NULL;
}

int store_exec(store_db *s, const store_stmt *st, store_row_fn fn, void *ud, error_info *err)
{
    return s->ops->run(s, st, fn, ud, NULL, err);
}

int store_exec_write(store_db *s, const store_stmt *st, long long *changes, error_info *err)
{
    long long n = 0;
    if (s->ops->run(s, st, NULL, NULL, &n, err) < 0)
        return -1;
    if (changes)
        *changes = n;
    return 0;
}

int store_exec_quiet(store_db *s, const store_stmt *st, error_info *err)
{
    if (s->ops->write)
        return s->ops->write(s, st, err);
    return store_exec_write(s, st, NULL, err);
}

/* ---- the first value of a statement ---- */

typedef struct first {
    char *text;
    int64_t i;
    int found, oom, want_text;
} first;

static int take_first(void *ud, int ncols, const char *const *names, const char *const *values,
                      const char *types)
{
    (void)names;
    (void)types;
    first *f = ud;
    f->found = 1;
    if (ncols < 1 || !values[0])
        return 1;
    if (f->want_text)
        f->oom = (f->text = text_dup(values[0])) == NULL;
    else
        f->i = strtoll(values[0], NULL, 10);
    return 1;
}

static int first_outcome(first *f, int rc, const store_stmt *st, error_info *err)
{
    if (rc >= 0 && f->oom) {
        store_fail(err, "store: cannot %s: out of memory", st->what);
        rc = -1;
    }
    if (rc < 0) {
        free(f->text);
        f->text = NULL;
        return -1;
    }
    return f->found;
}

int store_exec_text(store_db *s, const store_stmt *st, char **value, error_info *err)
{
    first f = {.want_text = 1};
    int rc = first_outcome(&f, store_exec(s, st, take_first, &f, err), st, err);
    *value = f.text;
    return rc;
}

int store_exec_int(store_db *s, const store_stmt *st, int64_t *value, error_info *err)
{
    first f = {0};
    int rc = first_outcome(&f, store_exec(s, st, take_first, &f, err), st, err);
    if (rc == 1)
        *value = f.i;
    return rc;
}

/* ---- answered in the loop ---- */

int store_exec_async(store_db *s, const store_stmt *st, store_row_fn fn, void *ud,
                     store_done_fn done, void *done_ud, error_info *err)
{
    if (s->ops->submit)
        return s->ops->submit(s, st, fn, ud, done, done_ud, err);
    int rc = store_exec(s, st, fn, ud, err) < 0 ? -1 : 0; /* done at once, a failure included */
    done(done_ud, rc, -1, rc ? err : NULL);
    return 0;
}

typedef struct text_wait {
    first f;
    store_text_fn done;
    void *ud;
    char what[160];
} text_wait;

static void text_answered(void *ud, int rc, int refused, const error_info *err)
{
    (void)refused;
    text_wait *w = ud;
    error_info oom;
    error_clear(&oom);
    if (rc == 0 && w->f.oom) {
        store_fail(&oom, "store: cannot %s: out of memory", w->what);
        rc = -1;
        err = &oom;
    }
    store_text_fn done = w->done;
    void *done_ud = w->ud;
    char *text = rc == 0 ? w->f.text : NULL;
    if (rc != 0)
        free(w->f.text);
    free(w);
    done(done_ud, rc, text, rc == 0 ? NULL : err);
}

int store_exec_text_async(store_db *s, const store_stmt *st, store_text_fn done, void *ud,
                          error_info *err)
{
    if (!s->ops->submit) { /* done at once, a failure included */
        char *text = NULL;
        int rc = store_exec_text(s, st, &text, err) < 0 ? -1 : 0; /* text NULL on failure */
        done(ud, rc, text, rc ? err : NULL);
        return 0;
    }
    text_wait *w = calloc(1, sizeof *w);
    if (!w) {
        store_fail(err, "store: cannot %s: out of memory", st->what);
        return -1;
    }
    w->f.want_text = 1;
    w->done = done;
    w->ud = ud;
    snprintf(w->what, sizeof w->what, "%s", st->what);
    if (s->ops->submit(s, st, take_first, &w->f, text_answered, w, err) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

/* ---- operations ---- */

int store_tx_begin(store_db *s, const char *what, error_info *err)
{
    return s->ops->begin ? s->ops->begin(s, what, err) : 0;
}

int store_tx_commit(store_db *s, const char *what, error_info *err)
{
    return s->ops->commit ? s->ops->commit(s, what, err) : 0;
}

void store_tx_rollback(store_db *s, int db_failed, error_info *err)
{
    if (s->ops->rollback)
        s->ops->rollback(s, db_failed, err);
}

/* ---- SQL built for a filter ---- */

void store_where_add(store_where *w, const char *cond, store_val v)
{
    if (w->n >= (int)(sizeof w->v / sizeof w->v[0]))
        return;
    size_t len = strlen(w->sql);
    const char *q = strchr(cond, '?');
    int qlen = q ? (int)(q - cond) : (int)strlen(cond);
    snprintf(w->sql + len, sizeof w->sql - len, " AND %.*s?%d%s", qlen, cond, w->n + 1,
             q ? q + 1 : "");
    w->v[w->n++] = v;
}

int store_sql_format(char *out, size_t size, const char *tmpl, ...)
{
    va_list ap;
    va_start(ap, tmpl);
    size_t n = 0;
    int ok = 1;
    for (const char *c = tmpl; *c && ok; c++) {
        if (c[0] == '%' && c[1] == 's') {
            const char *arg = va_arg(ap, const char *);
            size_t len = strlen(arg);
            if (n + len >= size) {
                ok = 0;
                break;
            }
            memcpy(out + n, arg, len);
            n += len;
            c++;
            continue;
        }
        if (n + 1 >= size) {
            ok = 0;
            break;
        }
        out[n++] = *c;
    }
    va_end(ap);
    if (size > 0)
        out[n < size ? n : size - 1] = '\0';
    return ok ? 0 : -1;
}

/* ---- the values of an interaction ---- */

int store_interaction_vals(const interaction_rec *it, store_val *v)
{
    const claude_usage *u = &it->usage;
    int detail = u->has_cache_creation_detail != 0;
    int k = 0;
    v[k++] = sv_text(it->id);
    v[k++] = sv_real(it->created_at > 0 ? it->created_at : clock_wall_s());
    v[k++] = sv_text(it->session);
    v[k++] = sv_text(it->agent);
    v[k++] = sv_int_or_null(it->thought_id != 0, it->thought_id);
    v[k++] = sv_text(it->template_name);
    v[k++] = sv_int_or_null(it->template_name != NULL, it->template_version);
    v[k++] = sv_text(it->request_id);
    v[k++] = sv_text(it->model_requested);
    v[k++] = sv_text(it->model_served);
    v[k++] = sv_int(u->input_tokens);
    v[k++] = sv_int(u->output_tokens);
    v[k++] = sv_int(u->cache_creation_input_tokens);
    v[k++] = sv_int(u->cache_read_input_tokens);
    v[k++] = sv_int_or_null(detail, u->cache_creation_5m);
    v[k++] = sv_int_or_null(detail, u->cache_creation_1h);
    v[k++] = sv_real_or_null(it->has_cost, it->cost_usd);
    v[k++] = sv_real_or_null(it->has_cost, it->cost_without_cache_usd);
    v[k++] = sv_real_or_null(it->has_cost, it->saved_usd);
    v[k++] = sv_real_or_null(it->ttfb_ms >= 0, it->ttfb_ms);
    v[k++] = sv_real_or_null(it->latency_ms >= 0, it->latency_ms);
    v[k++] = sv_int(it->attempts);
    v[k++] = sv_text(it->attempts_json);
    v[k++] = sv_text(it->status);
    v[k++] = sv_text(it->error_type);
    v[k++] = sv_text(it->error_message);
    v[k++] = sv_text(it->stop_reason);
    v[k++] = sv_int(it->cache_hit != 0);
    v[k++] = sv_int(it->from_response_cache != 0);
    v[k++] = sv_text(it->parts ? NULL : it->prompt_text);
    v[k++] = sv_text(it->response_text);
    v[k++] = sv_text(it->provider);
    v[k++] = sv_text(it->service_tier);
    v[k++] = sv_text(it->batch_id);
    v[k++] = sv_text(it->batch_id ? it->custom_id : NULL);
    v[k++] = sv_text(it->parts ? it->parts->recipe : NULL);
    v[k++] = sv_real_or_null(it->has_standard_cost, it->standard_cost_usd);
    v[k++] = sv_int(it->tool_calls);
    v[k++] = sv_int_or_null(it->iteration > 0, it->iteration);
    return k;
}
