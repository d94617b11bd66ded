/* fuzz-link: engine/core/spill_record.c engine/base/clock.c engine/base/json_print.c engine/base/json_number.c engine/base/textbuf.c */
/* The spill file the engine writes while the database is unavailable and reads at the next
 * open (engine/core/spill_record.h): any bytes read as records and lines counted unreadable,
 * never more of both than the file has lines; each record has the id and status the store
 * needs. A bad line costs itself only: the same bytes between two good records still give
 * both, first and last, and the records of the bytes between them. A record read, written
 * again and read again is the same record (a number not finite stays not finite). */
#include "core/spill_record.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char first[] = "{\"id\":\"fuzz-first\",\"status\":\"ok\",\"reservation\":\"r1\"}\n";
static const char last[] = "{\"id\":\"fuzz-last\",\"status\":\"error\",\"input_tokens\":3}\n";

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_number(double a, double b)
{
    return isfinite(a) ? a == b : !isfinite(b);
}

/* r written as a line and read back: the same fields. */
static void round_trip(const spill_record *r)
{
    char *line = spill_record_line(&r->it, r->has_reservation ? r->reservation : NULL, r->actual_usd);
    if (!line)
        return; /* out of memory */
    spill_record b;
    if (spill_record_parse(line, strlen(line), &b) != 0)
        abort();
    const interaction_rec *x = &r->it, *y = &b.it;
    if (!same_text(x->id, y->id) || !same_text(x->session, y->session) || !same_text(x->agent, y->agent) ||
        !same_text(x->template_name, y->template_name) || !same_text(x->request_id, y->request_id) ||
        !same_text(x->model_requested, y->model_requested) || !same_text(x->model_served, y->model_served) ||
        !same_text(x->provider, y->provider) || !same_text(x->attempts_json, y->attempts_json) ||
        !same_text(x->status, y->status) || !same_text(x->error_type, y->error_type) ||
        !same_text(x->error_message, y->error_message) || !same_text(x->stop_reason, y->stop_reason) ||
        !same_text(x->prompt_text, y->prompt_text) || !same_text(x->response_text, y->response_text) ||
        !same_text(x->service_tier, y->service_tier) || !same_text(x->batch_id, y->batch_id) ||
        !same_text(x->custom_id, y->custom_id))
        abort();
    /* created_at at 0 or below is stamped with the time of the writing */
    if ((x->created_at > 0 && !same_number(x->created_at, y->created_at)) || x->thought_id != y->thought_id ||
        x->template_version != y->template_version || x->usage.input_tokens != y->usage.input_tokens ||
        x->usage.output_tokens != y->usage.output_tokens ||
        x->usage.cache_creation_input_tokens != y->usage.cache_creation_input_tokens ||
        x->usage.cache_read_input_tokens != y->usage.cache_read_input_tokens ||
        x->usage.cache_creation_5m != y->usage.cache_creation_5m ||
        x->usage.cache_creation_1h != y->usage.cache_creation_1h ||
        x->usage.has_cache_creation_detail != y->usage.has_cache_creation_detail || x->has_cost != y->has_cost ||
        !same_number(x->cost_usd, y->cost_usd) || !same_number(x->cost_without_cache_usd, y->cost_without_cache_usd) ||
        !same_number(x->saved_usd, y->saved_usd) || !same_number(x->ttfb_ms, y->ttfb_ms) ||
        !same_number(x->latency_ms, y->latency_ms) || x->attempts != y->attempts || x->cache_hit != y->cache_hit ||
        x->from_response_cache != y->from_response_cache || x->has_standard_cost != y->has_standard_cost ||
        !same_number(x->standard_cost_usd, y->standard_cost_usd) || x->tool_calls != y->tool_calls ||
        x->iteration != y->iteration)
        abort();
    if (strcmp(x->usage.speed, y->usage.speed) != 0 || strcmp(x->usage.inference_geo, y->usage.inference_geo) != 0 ||
        strcmp(x->usage.service_tier, y->usage.service_tier) != 0 || r->has_reservation != b.has_reservation ||
        strcmp(r->reservation, b.reservation) != 0 || !same_number(r->actual_usd, b.actual_usd))
        abort();
    spill_record_free(&b);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';

    spill_file alone;
    if (spill_file_parse(text, size, &alone, NULL, NULL) != 0)
        return 0; /* out of memory */
    if (alone.n + (size_t)alone.unreadable > lines)
        abort();
    for (size_t i = 0; i < alone.n; i++) {
        if (!alone.recs[i].it.id || !alone.recs[i].it.status)
            abort();
        round_trip(&alone.recs[i]);
    }

    /* The bytes, their last line ended, between two good records. */
    size_t n = sizeof first - 1 + size + 1 + sizeof last - 1;
    char *framed = malloc(n);
    if (!framed) {
        spill_file_free(&alone);
        return 0;
    }
    memcpy(framed, first, sizeof first - 1);
    memcpy(framed + sizeof first - 1, data, size);
    framed[sizeof first - 1 + size] = '\n';
    memcpy(framed + sizeof first + size, last, sizeof last - 1);
    spill_file around;
    if (spill_file_parse(framed, n, &around, NULL, NULL) == 0) {
        /* the input alone, its torn last line (if any) now ended: what lies between the two */
        spill_file inner;
        if (spill_file_parse(framed + sizeof first - 1, size + 1, &inner, NULL, NULL) == 0) {
            if (around.n != inner.n + 2 || around.unreadable != inner.unreadable ||
                strcmp(around.recs[0].it.id, "fuzz-first") != 0 || !around.recs[0].has_reservation ||
                strcmp(around.recs[around.n - 1].it.id, "fuzz-last") != 0 ||
                around.recs[around.n - 1].it.usage.input_tokens != 3)
                abort();
            for (size_t i = 0; i < inner.n; i++)
                if (strcmp(inner.recs[i].it.id, around.recs[i + 1].it.id) != 0)
                    abort();
            spill_file_free(&inner);
        }
        spill_file_free(&around);
    }
    free(framed);
    spill_file_free(&alone);
    return 0;
}
