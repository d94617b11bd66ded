#define _POSIX_C_SOURCE 200809L
#include "response_cache.h"

#include "base/json_parse.h"
#include "base/json_print.h"
#include "base/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct entry {
    char key[RESPONSE_KEY_SIZE];
    claude_response resp;
    double expires_at;
    struct entry *prev, *next;  /* recency list, most recent first */
    struct entry *chain;        /* hash bucket */
} entry;

struct response_cache {
    entry **buckets;
    size_t nbuckets, count, max_entries;
    double ttl_s;
    entry *head, *tail;
};

response_cache *response_cache_new(size_t max_entries, double ttl_s)
{
    response_cache *rc = calloc(1, sizeof *rc);
    if (!rc)
        return NULL;
    rc->max_entries = max_entries;
    rc->ttl_s = ttl_s;
    rc->nbuckets = 64;
    while (rc->nbuckets < max_entries)
        rc->nbuckets *= 2;
    if (!(rc->buckets = calloc(rc->nbuckets, sizeof *rc->buckets))) {
        free(rc);
        return NULL;
    }
    return rc;
}

void response_cache_set_ttl(response_cache *rc, double ttl_s)
{
    if (rc && ttl_s >= 0)
        rc->ttl_s = ttl_s;
}

static void entry_free(entry *e)
{
    response_free(&e->resp);
    free(e);
}

void response_cache_free(response_cache *rc)
{
    if (!rc)
        return;
    for (entry *e = rc->head, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    free(rc->buckets);
    free(rc);
}

static void feed_str(XXH3_state_t *st, const char *tag, const char *s, size_t len)
{
    /* Lengths frame every field, so no two different requests hash the same bytes. */
    uint64_t n = len;
    XXH3_128bits_update(st, tag, strlen(tag) + 1);
    XXH3_128bits_update(st, &n, sizeof n);
    if (len)
        XXH3_128bits_update(st, s, len);
}

void response_cache_key(const claude_request *req, char key[RESPONSE_KEY_SIZE])
{
    XXH3_state_t *st = XXH3_createState();
    XXH128_hash_t h = {0, 0};
    if (st && XXH3_128bits_reset(st) == XXH_OK) {
        feed_str(st, "model", req->model ? req->model : "", req->model ? strlen(req->model) : 0);
        for (size_t i = 0; i < req->nsystem; i++)
            feed_str(st, "system", req->system[i].text, req->system[i].len);
        for (size_t i = 0; i < req->nmessages; i++) {
            const claude_message *m = &req->messages[i];
            feed_str(st, m->role == NYX_ROLE_USER ? "user" : "assistant", "", 0);
            for (size_t j = 0; j < m->nblocks; j++)
                feed_str(st, m->blocks[j].kind == NYX_BLOCK_JSON ? "json" : "block",
                         m->blocks[j].text, m->blocks[j].len);
        }
        /* Everything else that changes the answer: tools, how one is chosen, thinking, the
         * output format. */
        const struct {
            const char *tag, *json;
        } extra[] = {{"tools", req->tools_json},
                     {"tool_choice", req->tool_choice_json},
                     {"effort", req->effort},
                     {"output", req->output_schema_json}};
        for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
            if (extra[i].json)
                feed_str(st, extra[i].tag, extra[i].json, strlen(extra[i].json));
        char num[96];
        int n = snprintf(num, sizeof num, "%.17g/%d/%d/%d", req->temperature, req->max_tokens,
                         req->thinking, req->thinking_budget);
        feed_str(st, "params", num, (size_t)n);
        for (size_t i = 0; i < req->nstop; i++)
            feed_str(st, "stop", req->stop_sequences[i], strlen(req->stop_sequences[i]));
        h = XXH3_128bits_digest(st);
    }
    XXH3_freeState(st);
    snprintf(key, RESPONSE_KEY_SIZE, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

static size_t bucket_of(const response_cache *rc, const char *key)
{
    return (size_t)XXH3_64bits(key, strlen(key)) & (rc->nbuckets - 1);
}

static void unlink_lru(response_cache *rc, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        rc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        rc->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(response_cache *rc, entry *e)
{
    e->next = rc->head;
    if (rc->head)
        rc->head->prev = e;
    rc->head = e;
    if (!rc->tail)
        rc->tail = e;
}

static void remove_entry(response_cache *rc, entry *e)
{
    entry **p = &rc->buckets[bucket_of(rc, e->key)];
    while (*p && *p != e)
        p = &(*p)->chain;
    if (*p)
        *p = e->chain;
    unlink_lru(rc, e);
    rc->count--;
    entry_free(e);
}

static entry *find(response_cache *rc, const char *key)
{
    for (entry *e = rc->buckets[bucket_of(rc, key)]; e; e = e->chain)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static int copy_response(claude_response *dst, const claude_response *src)
{
    int failed = 0;
    response_init(dst);
    dst->id = text_dup_or_fail(src->id, &failed);
    dst->model = text_dup_or_fail(src->model, &failed);
    dst->stop_reason = text_dup_or_fail(src->stop_reason, &failed);
    dst->stop_sequence = text_dup_or_fail(src->stop_sequence, &failed);
    dst->request_id = text_dup_or_fail(src->request_id, &failed);
    if (src->content && !(dst->content = cJSON_Duplicate(src->content, 1)))
        failed = 1;
    dst->text = malloc(src->text_len + 1);
    if (dst->text) {
        memcpy(dst->text, src->text ? src->text : "", src->text_len);
        dst->text[src->text_len] = '\0';
        dst->text_len = src->text_len;
    }
    dst->usage = src->usage;
    if (failed || !dst->text) {
        response_free(dst);
        return -1;
    }
    return 0;
}

int response_cache_get(response_cache *rc, const char *key, double now, claude_response *out)
{
    entry *e = find(rc, key);
    if (!e)
        return 0;
    if (e->expires_at <= now) {
        remove_entry(rc, e);
        return 0;
    }
    unlink_lru(rc, e);
    push_front(rc, e);
    return copy_response(out, &e->resp) == 0;
}

int response_cache_put(response_cache *rc, const char *key, const claude_response *resp, double now)
{
    if (rc->max_entries == 0)
        return 0;
    entry *old = find(rc, key);
    if (old)
        remove_entry(rc, old);
    entry *e = calloc(1, sizeof *e);
    if (!e || copy_response(&e->resp, resp) != 0) {
        free(e);
        return -1;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    e->expires_at = now + rc->ttl_s;
    size_t b = bucket_of(rc, key);
    e->chain = rc->buckets[b];
    rc->buckets[b] = e;
    push_front(rc, e);
    rc->count++;
    while (rc->count > rc->max_entries)
        remove_entry(rc, rc->tail);
    return 0;
}

char *response_to_json(claude_response *resp)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (resp->id)
        cJSON_AddStringToObject(o, "id", resp->id);
    if (resp->model)
        cJSON_AddStringToObject(o, "model", resp->model);
    if (resp->stop_reason)
        cJSON_AddStringToObject(o, "stop_reason", resp->stop_reason);
    if (resp->stop_sequence)
        cJSON_AddStringToObject(o, "stop_sequence", resp->stop_sequence);
    cJSON_AddStringToObject(o, "text", resp->text ? resp->text : "");
    if (response_content_json(resp))
        cJSON_AddStringToObject(o, "content", resp->content_json);
    cJSON_AddNumberToObject(o, "output_tokens", (double)resp->usage.output_tokens);
    char *s = json_print(o);
    cJSON_Delete(o);
    return s;
}

static char *json_string(const cJSON *o, const char *k, int *failed)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? text_dup_or_fail(v->valuestring, failed) : NULL;
}

int response_from_json(const char *json, claude_response *out)
{
    response_init(out);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return -1;
    }
    int failed = 0;
    out->id = json_string(o, "id", &failed);
    out->model = json_string(o, "model", &failed);
    out->stop_reason = json_string(o, "stop_reason", &failed);
    out->stop_sequence = json_string(o, "stop_sequence", &failed);
    out->text = json_string(o, "text", &failed);
    /* Kept as blocks, as a reply is (read as one, integers past 2^53 kept whole): the text was
     * cJSON's print of them, which printing them again gives back byte for byte. */
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(o, "content");
    size_t stop;
    if (cJSON_IsString(content) &&
        !cJSON_IsArray(out->content = json_parse_value(content->valuestring, strlen(content->valuestring), &stop)))
        failed = 1;
    const cJSON *ot = cJSON_GetObjectItemCaseSensitive(o, "output_tokens");
    out->usage.output_tokens = cJSON_IsNumber(ot) ? (int64_t)ot->valuedouble : 0;
    cJSON_Delete(o);
    if (failed || !out->text) {
        response_free(out);
        return -1;
    }
    out->text_len = strlen(out->text);
    return 0;
}
