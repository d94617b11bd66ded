/* Requests in parts: the cut (store_content_split), the hash with its memo, and the join.
 * See store_content.h. */
#define _GNU_SOURCE /* memmem */
#include "store_content.h"
#include "store_backend.h"

#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A part longer than this is hashed each time rather than kept in the memo: the memo stays
 * within STORE_MEMO_SLOTS * 64 KiB. */
#define MEMO_MAX_TEXT (64 * 1024)

void store_content_memo_free(store_content_memo *m)
{
    if (!m)
        return;
    for (int i = 0; i < STORE_MEMO_SLOTS; i++)
        free(m->slot[i].text);
    memset(m, 0, sizeof *m);
}

static void sha256_hex(const char *text, size_t len, char out[STORE_HASH_HEX])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, len, md);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * SHA256_DIGEST_LENGTH] = '\0';
}

void store_content_hash(store_content_memo *m, const char *text, size_t len,
                        char out[STORE_HASH_HEX])
{
    if (!m || len > MEMO_MAX_TEXT) {
        sha256_hex(text, len, out);
        return;
    }
    uint64_t quick = XXH3_64bits(text, len);
    int oldest = 0;
    for (int i = 0; i < STORE_MEMO_SLOTS; i++) {
        if (m->slot[i].text && m->slot[i].quick == quick && m->slot[i].len == len &&
            memcmp(m->slot[i].text, text, len) == 0) {
            memcpy(out, m->slot[i].hash, STORE_HASH_HEX);
            m->slot[i].used = ++m->clock;
            return;
        }
        if (m->slot[i].used < m->slot[oldest].used)
            oldest = i;
    }
    sha256_hex(text, len, out);
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return; /* the hash is right; only the memo misses it */
    memcpy(copy, text, len);
    free(m->slot[oldest].text);
    m->slot[oldest].text = copy;
    m->slot[oldest].len = len;
    m->slot[oldest].quick = quick;
    memcpy(m->slot[oldest].hash, out, STORE_HASH_HEX);
    m->slot[oldest].used = ++m->clock;
}

/* ---- the cut ---- */

typedef struct cut {
    size_t at, len;
} cut;

typedef struct cutter {
    const char *text;
    size_t len, cursor;
    cut *cuts;
    size_t n, cap;
    int oom;
} cutter;

/* Cuts node out of the text when it is long enough and its bytes are found, as cJSON writes
 * them, after the previous cut (the engine's bodies are cJSON's own writing; a text written
 * otherwise keeps its bytes inline, whole and exact). Returns 1 when cut. */
static int consider(cutter *c, const cJSON *node)
{
    char *printed = cJSON_PrintUnformatted(node);
    if (!printed) {
        c->oom = 1;
        return 0;
    }
    size_t plen = strlen(printed);
    const char *at = plen >= STORE_CONTENT_MIN
                         ? memmem(c->text + c->cursor, c->len - c->cursor, printed, plen)
                         : NULL;
    free(printed);
    if (!at)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        cut *grown = realloc(c->cuts, cap * sizeof *grown);
        if (!grown) {
            c->oom = 1;
            return 0;
        }
        c->cuts = grown;
        c->cap = cap;
    }
    c->cuts[c->n++] = (cut){(size_t)(at - c->text), plen};
    c->cursor = (size_t)(at - c->text) + plen;
    return 1;
}

/* In document order: the tools array as one part (tool lists repeat whole), and every long
 * string (system prompts, contexts, messages, tool results, images) as a part of its own, so
 * a part is shared whatever block, mark or position holds it. */
static void walk(cutter *c, const cJSON *node, int top)
{
    if (c->oom)
        return;
    if (cJSON_IsString(node)) {
        if (node->valuestring && strlen(node->valuestring) + 2 >= STORE_CONTENT_MIN)
            consider(c, node);
        return;
    }
    for (const cJSON *k = node->child; k && !c->oom; k = k->next) {
        if (top && k->string && strcmp(k->string, "tools") == 0 && cJSON_IsArray(k) &&
            consider(c, k))
            continue;
        walk(c, k, 0);
    }
}

void store_parts_free(store_parts *p)
{
    if (!p)
        return;
    free(p->recipe);
    free(p->pieces);
    memset(p, 0, sizeof *p);
}

static int add_literal(cJSON *recipe, const char *text, size_t len)
{
    if (len == 0)
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    cJSON *s = cJSON_CreateString(copy);
    free(copy);
    return s && cJSON_AddItemToArray(recipe, s) ? 0 : (cJSON_Delete(s), -1);
}

static int add_ref(cJSON *recipe, const char *hash)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "ref", hash) || !cJSON_AddItemToArray(recipe, o)) {
        cJSON_Delete(o);
        return -1;
    }
    return 0;
}

/* The recipe of text with its cuts, and the distinct pieces. */
static int assemble(store_content_memo *m, const cutter *c, store_parts *out)
{
    cJSON *recipe = cJSON_CreateArray();
    out->pieces = malloc(c->n * sizeof *out->pieces);
    if (!recipe || !out->pieces) {
        cJSON_Delete(recipe);
        return -1;
    }
    size_t pos = 0;
    for (size_t i = 0; i < c->n; i++) {
        store_piece p = {c->text + c->cuts[i].at, c->cuts[i].len, ""};
        store_content_hash(m, p.text, p.len, p.hash);
        if (add_literal(recipe, c->text + pos, c->cuts[i].at - pos) != 0 ||
            add_ref(recipe, p.hash) != 0) {
            cJSON_Delete(recipe);
            return -1;
        }
        size_t k = 0;
        while (k < out->n && strcmp(out->pieces[k].hash, p.hash) != 0)
            k++;
        if (k == out->n)
            out->pieces[out->n++] = p;
        pos = c->cuts[i].at + c->cuts[i].len;
    }
    if (add_literal(recipe, c->text + pos, c->len - pos) != 0) {
        cJSON_Delete(recipe);
        return -1;
    }
    out->recipe = cJSON_PrintUnformatted(recipe);
    cJSON_Delete(recipe);
    return out->recipe ? 0 : -1;
}

int store_content_split(store_content_memo *m, const char *text, store_parts *out)
{
    memset(out, 0, sizeof *out);
    size_t len = text ? strlen(text) : 0;
    if (len < STORE_CONTENT_MIN)
        return 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root)
        return 0; /* not JSON: kept whole */
    cutter c = {text, len, 0, NULL, 0, 0, 0};
    if (cJSON_IsObject(root) || cJSON_IsArray(root))
        walk(&c, root, cJSON_IsObject(root));
    cJSON_Delete(root);
    int rc = c.oom ? -1 : 0;
    if (rc == 0 && c.n > 0)
        rc = assemble(m, &c, out);
    free(c.cuts);
    if (rc != 0)
        store_parts_free(out);
    return rc;
}

/* ---- the join ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static int put(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown)
            return -1;
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int store_content_join(const char *recipe, store_content_fetch fetch, void *ud, char **out,
                       nyx_error *err)
{
    *out = NULL;
    cJSON *parts = cJSON_Parse(recipe);
    buf b = {NULL, 0, 0};
    int rc = cJSON_IsArray(parts) ? put(&b, "", 0) : -2;
    for (const cJSON *k = parts ? parts->child : NULL; rc == 0 && k; k = k->next) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(k, "ref");
        if (cJSON_IsString(k)) {
            rc = put(&b, k->valuestring, strlen(k->valuestring));
        } else if (cJSON_IsString(ref)) {
            char *body = NULL;
            if (fetch(ud, ref->valuestring, &body, err) != 0) {
                rc = -3;
                break;
            }
            rc = put(&b, body, strlen(body));
            free(body);
        } else {
            rc = -2;
        }
    }
    cJSON_Delete(parts);
    if (rc == 0) {
        *out = b.p;
        return 0;
    }
    free(b.p);
    if (rc == -1)
        store_fail(err, "store: cannot read a stored request: out of memory");
    else if (rc == -2)
        store_fail(err, "store: a stored request's parts are not a recipe nyx wrote");
    return -1;
}
