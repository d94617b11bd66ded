/* A waiting record as one JSON line and back (spill_record.h). The fields are tables, so the
 * writer and the reader cannot disagree on a name. */
#include "spill_record.h"

#include "base/clock.h"
#include "base/json_print.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(field) offsetof(interaction_rec, field)

static const struct {
    const char *key;
    size_t at; /* of a const char * */
} texts[] = {
    {"id", AT(id)},
    {"session", AT(session)},
    {"agent", AT(agent)},
    {"template", AT(template_name)},
    {"request_id", AT(request_id)},
    {"model_requested", AT(model_requested)},
    {"model_served", AT(model_served)},
    {"provider", AT(provider)},
    {"attempts_json", AT(attempts_json)},
    {"status", AT(status)},
    {"error_type", AT(error_type)},
    {"error_message", AT(error_message)},
    {"stop_reason", AT(stop_reason)},
    {"prompt_text", AT(prompt_text)},
    {"response_text", AT(response_text)},
    {"service_tier", AT(service_tier)},
    {"batch_id", AT(batch_id)},
    {"custom_id", AT(custom_id)},
};

enum { REAL, INT, I64 };
static const struct {
    const char *key;
    size_t at;
    int type;
} numbers[] = {
    {"created_at", AT(created_at), REAL},
    {"thought_id", AT(thought_id), I64},
    {"template_version", AT(template_version), INT},
    {"input_tokens", AT(usage.input_tokens), I64},
    {"output_tokens", AT(usage.output_tokens), I64},
    {"cache_creation_input_tokens", AT(usage.cache_creation_input_tokens), I64},
    {"cache_read_input_tokens", AT(usage.cache_read_input_tokens), I64},
    {"cache_creation_5m", AT(usage.cache_creation_5m), I64},
    {"cache_creation_1h", AT(usage.cache_creation_1h), I64},
    {"has_cache_creation_detail", AT(usage.has_cache_creation_detail), INT},
    {"has_cost", AT(has_cost), INT},
    {"cost_usd", AT(cost_usd), REAL},
    {"cost_without_cache_usd", AT(cost_without_cache_usd), REAL},
    {"saved_usd", AT(saved_usd), REAL},
    {"ttfb_ms", AT(ttfb_ms), REAL},
    {"latency_ms", AT(latency_ms), REAL},
    {"attempts", AT(attempts), INT},
    {"cache_hit", AT(cache_hit), INT},
    {"from_response_cache", AT(from_response_cache), INT},
    {"has_standard_cost", AT(has_standard_cost), INT},
    {"standard_cost_usd", AT(standard_cost_usd), REAL},
    {"tool_calls", AT(tool_calls), INT},
    {"iteration", AT(iteration), INT},
};

/* The usage's fixed-size texts. */
static const struct {
    const char *key;
    size_t at, size;
} words[] = {
    {"speed", AT(usage.speed), sizeof((interaction_rec *)0)->usage.speed},
    {"inference_geo", AT(usage.inference_geo), sizeof((interaction_rec *)0)->usage.inference_geo},
    {"usage_service_tier", AT(usage.service_tier), sizeof((interaction_rec *)0)->usage.service_tier},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static double number_of(const interaction_rec *it, size_t i)
{
    const char *p = (const char *)it + numbers[i].at;
    switch (numbers[i].type) {
    case INT: return *(const int *)(const void *)p;
    case I64: return (double)*(const int64_t *)(const void *)p;
    default: return *(const double *)(const void *)p;
    }
}

/* A number read into its field. One its integer cannot hold (a damaged or edited line: the
 * writer wrote each from that integer) reads as 0, as a NaN does: converting it would be
 * undefined behaviour. 2^63 is the first double past INT64_MAX. */
static void set_number(interaction_rec *it, size_t i, double v)
{
    char *p = (char *)it + numbers[i].at;
    switch (numbers[i].type) {
    case INT: *(int *)(void *)p = v >= INT_MIN && v <= INT_MAX ? (int)v : 0; break;
    case I64: *(int64_t *)(void *)p = v >= -0x1p63 && v < 0x1p63 ? (int64_t)v : 0; break;
    default: *(double *)(void *)p = v;
    }
}

char *spill_record_line(const interaction_rec *it, const char *reservation, double actual_usd)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (size_t i = 0; ok && i < COUNT(texts); i++) {
        const char *v = *(const char *const *)(const void *)((const char *)it + texts[i].at);
        ok = !v || cJSON_AddStringToObject(o, texts[i].key, v) != NULL;
    }
    for (size_t i = 0; ok && i < COUNT(numbers); i++) {
        double v = number_of(it, i);
        /* A record stamped "now" by the store gets the time it was spilled, not imported. */
        if (i == 0 && v <= 0)
            v = clock_wall_s();
        ok = cJSON_AddNumberToObject(o, numbers[i].key, v) != NULL; /* NaN, inf: null */
    }
    for (size_t i = 0; ok && i < COUNT(words); i++)
        ok = cJSON_AddStringToObject(o, words[i].key, (const char *)it + words[i].at) != NULL;
    if (ok && reservation)
        ok = cJSON_AddStringToObject(o, "reservation", reservation) != NULL;
    if (ok)
        ok = cJSON_AddNumberToObject(o, "actual_usd", actual_usd) != NULL;
    char *line = ok ? json_print(o) : NULL;
    cJSON_Delete(o);
    return line;
}

static int finite_number(const cJSON *v) { return cJSON_IsNumber(v) && isfinite(v->valuedouble); }

int spill_record_parse(const char *line, size_t len, spill_record *out)
{
    memset(out, 0, sizeof *out);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    /* cJSON stops at the end of the first value: what follows it on the line would be read as
     * nothing, a second record there lost unsaid. */
    while (o && end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (!cJSON_IsObject(o) || end != line + len) {
        cJSON_Delete(o);
        return -1;
    }
    interaction_rec *it = &out->it;
    for (size_t i = 0; i < COUNT(texts); i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, texts[i].key));
        *(const char **)(void *)((char *)it + texts[i].at) = v;
    }
    for (size_t i = 0; i < COUNT(numbers); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, numbers[i].key);
        /* null: a NaN or infinity was written; the store refuses it as it would have. A number
         * past a double's range (1e999: a damaged or edited line, the writer writes null for
         * one) reads as null does, so the record reads the same when it is written again. */
        set_number(it, i, finite_number(v) ? v->valuedouble : cJSON_IsNumber(v) || cJSON_IsNull(v) ? NAN : 0);
    }
    for (size_t i = 0; i < COUNT(words); i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, words[i].key));
        if (v)
            snprintf((char *)it + words[i].at, words[i].size, "%s", v);
    }
    const char *reservation = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "reservation"));
    if (reservation) {
        snprintf(out->reservation, sizeof out->reservation, "%s", reservation);
        out->has_reservation = 1;
    }
    const cJSON *actual = cJSON_GetObjectItemCaseSensitive(o, "actual_usd");
    out->actual_usd = finite_number(actual) ? actual->valuedouble : 0;
    if (!it->id || !it->status) {
        cJSON_Delete(o);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->json = o;
    return 0;
}

void spill_record_free(spill_record *r)
{
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

int spill_file_parse(const char *text, size_t len, spill_file *out, spill_bad_line_fn bad, void *ud)
{
    memset(out, 0, sizeof *out);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (!(out->recs = calloc(lines + 1, sizeof *out->recs)))
        return -1;
    for (size_t at = 0, line = 1; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (blank(text + at, end - at)) {
            at = end + 1;
            continue;
        }
        if (!nl || spill_record_parse(text + at, end - at, &out->recs[out->n]) != 0) {
            out->unreadable++;
            if (bad)
                bad(ud, line, !nl);
        } else {
            out->n++;
        }
        at = end + 1;
    }
    return 0;
}

void spill_file_free(spill_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        spill_record_free(&f->recs[i]);
    free(f->recs);
    memset(f, 0, sizeof *f);
}
