/* Requests in parts: the cut (store_content_split), the hash with its memo, and the join.
 * See store_content.h. */
#include "store_content.h"
#include "store_backend.h"

#include "base/json_print.h"
#include "base/json_scan.h"
#include "base/quick_hash.h"
#include "base/textbuf.h"

#include <cjson/cJSON.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_content_memo_free(store_content_memo *m)
{
    if (m) {
        free(m->printed.s);
        free(m->head.s);
        free(m->head_json.s);
        memset(m, 0, sizeof *m);
    }
}

/* Nettle's SHA-256 is a direct call: OpenSSL's SHA256() looked the digest up by name on every
 * hash and loaded its provider on the first (3 million instructions at start-up). */
static void sha256_hex(const char *text, size_t len, char out[STORE_HASH_HEX])
{
    struct sha256_ctx ctx;
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)text);
    sha256_digest(&ctx, sizeof md, md);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * SHA256_DIGEST_SIZE] = '\0';
}

/* store_content_hash with the text's quick hash known (q), or computed here (q NULL). */
static void hash_known(store_content_memo *m, const char *text, size_t len, const quick_hash *q,
                       char out[STORE_HASH_HEX])
{
    if (!m) {
        sha256_hex(text, len, out);
        return;
    }
    quick_hash h = q ? *q : quick_hash_of(text, len);
    store_memo_slot *e = &m->slot[h.lo % STORE_MEMO_SLOTS];
    if (e->hash[0] && e->len == len && e->quick[0] == h.lo && e->quick[1] == h.hi) {
        memcpy(out, e->hash, STORE_HASH_HEX);
        return;
    }
    sha256_hex(text, len, out);
    e->quick[0] = h.lo;
    e->quick[1] = h.hi;
    e->len = len;
    memcpy(e->hash, out, STORE_HASH_HEX);
}

void store_content_hash(store_content_memo *m, const char *text, size_t len,
                        char out[STORE_HASH_HEX])
{
    hash_known(m, text, len, NULL, out);
}

/* ---- the cut ---- */

typedef struct cut {
    size_t at, len;
} cut;

/* A request has a few cuts (its system prompt, its context, its tools): they go in the
 * cutter's own room until they outgrow it. */
#define LOCAL_CUTS 8

typedef struct cutter {
    const char *text;
    size_t len;
    cut *cuts; /* local until more are wanted */
    size_t n, cap;
    int oom;
    cut local[LOCAL_CUTS];
} cutter;

static int add_cut(cutter *c, size_t at, size_t end)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : LOCAL_CUTS;
        cut *grown = c->cap == 0 ? c->local
                     : c->cuts == c->local ? malloc(cap * sizeof *grown)
                                           : realloc(c->cuts, cap * sizeof *grown);
        if (!grown) {
            c->oom = 1;
            return -1;
        }
        if (c->cuts == c->local && grown != c->local)
            memcpy(grown, c->local, c->n * sizeof *grown);
        c->cuts = grown;
        c->cap = cap;
    }
    c->cuts[c->n++] = (cut){at, end - at};
    return 0;
}

static size_t skip_space(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* The cuts, in order: the value of the top-level "tools" (a tool list repeats whole, its
 * cache mark included) and every other string of STORE_CONTENT_MIN bytes or more (system
 * prompts, contexts, each message, tool results, images), so a text is shared whatever block,
 * mark or position holds it. Strings are skipped by json_string_end (a memchr for quotes);
 * only the structure between them is read byte by byte. */
static void scan(cutter *c, const hashed_span *span, size_t nspans)
{
    const char *t = c->text;
    size_t len = c->len, i = 0, tools = SIZE_MAX, k = 0;
    long depth = 0, tools_depth = 0;
    while (i < len && !c->oom) {
        char ch = t[i];
        if (ch == '"') {
            /* A known span opening here and closing with a quote is the whole string
             * (store_content.h): the shared system prompt is stepped over, not read. */
            size_t e = json_string_end_known(t, len, i, span, nspans, &k);
            if (tools == SIZE_MAX && depth == 1 && e - i == 7 && memcmp(t + i, "\"tools\"", 7) == 0) {
                size_t j = skip_space(t, len, e);
                j = j < len && t[j] == ':' ? skip_space(t, len, j + 1) : len;
                if (j < len && t[j] == '[') {
                    tools = j;
                    tools_depth = depth;
                    i = j;
                    continue;
                }
            }
            if (tools == SIZE_MAX && e - i >= STORE_CONTENT_MIN)
                add_cut(c, i, e);
            i = e;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
            if (tools != SIZE_MAX && depth == tools_depth) {
                if (i + 1 - tools >= STORE_CONTENT_MIN)
                    add_cut(c, tools, i + 1);
                tools = SIZE_MAX;
            }
        }
        i++;
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

/* Appends the JSON string of a request's head (its len bytes before the first part), from the
 * memo when it is the head escaped last time. */
static void append_head(store_content_memo *m, textbuf *r, const char *text, size_t len)
{
    if (!m->head.failed && !m->head_json.failed && m->head.s && m->head.len == len &&
        memcmp(m->head.s, text, len) == 0) {
        textbuf_put(r, m->head_json.s, m->head_json.len);
        return;
    }
    size_t at = r->len;
    json_string_append(r, text, len);
    if (r->failed || len > STORE_CONTENT_MIN) /* a head is short; a long one is not kept */
        return;
    textbuf_reset(&m->head);
    textbuf_reset(&m->head_json);
    textbuf_put(&m->head, text, len);
    textbuf_put(&m->head_json, r->s + at, r->len - at);
}

/* Appends one member of a recipe: a comma before all but the first. */
static void add_member(textbuf *r, int *first)
{
    if (!*first)
        textbuf_put(r, ",", 1);
    *first = 0;
}

/* The recipe of text with its cuts, and the distinct pieces; a cut that is one of the spans
 * (in order) takes its quick hash from it. The recipe is written as cJSON would print its array
 * (json_string_append), straight from the text: no node, no NUL-terminated copy of each string. */
static int assemble(store_content_memo *m, const cutter *c, const hashed_span *span, size_t nspans,
                    store_parts *out)
{
    size_t j = 0;
    out->pieces = malloc(c->n * sizeof *out->pieces);
    if (!out->pieces)
        return -1;
    textbuf own = {0}; /* no memo: a buffer for this print only */
    textbuf *r = m ? &m->printed : &own;
    textbuf_reset(r);
    textbuf_put(r, "[", 1);
    int first = 1;
    size_t pos = 0;
    for (size_t i = 0; i < c->n; i++) {
        store_piece p = {c->text + c->cuts[i].at, c->cuts[i].len, ""};
        while (j < nspans && span[j].at < c->cuts[i].at)
            j++;
        int known = j < nspans && span[j].at == c->cuts[i].at && span[j].len == p.len;
        hash_known(m, p.text, p.len, known ? &span[j].h : NULL, p.hash);
        if (c->cuts[i].at > pos) {
            add_member(r, &first);
            if (i == 0 && m)
                append_head(m, r, c->text, c->cuts[0].at);
            else
                json_string_append(r, c->text + pos, c->cuts[i].at - pos);
        }
        add_member(r, &first);
        textbuf_put(r, "{\"ref\":\"", 8);
        textbuf_put(r, p.hash, strlen(p.hash));
        textbuf_put(r, "\"}", 2);
        size_t k = 0;
        while (k < out->n && strcmp(out->pieces[k].hash, p.hash) != 0)
            k++;
        if (k == out->n)
            out->pieces[out->n++] = p;
        pos = c->cuts[i].at + c->cuts[i].len;
    }
    if (c->len > pos) {
        add_member(r, &first);
        json_string_append(r, c->text + pos, c->len - pos);
    }
    textbuf_put(r, "]", 1);
    if (!r->failed && (out->recipe = malloc(r->len + 1)) != NULL)
        memcpy(out->recipe, r->s, r->len + 1);
    if (r == &own || r->cap > JSON_PRINT_KEEP_MAX || r->failed) {
        free(r->s);
        *r = (textbuf){0};
    }
    return out->recipe ? 0 : -1;
}

int store_content_split(store_content_memo *m, const char *text, store_parts *out)
{
    return store_content_split_known(m, text, text ? strlen(text) : 0, NULL, 0, out);
}

int store_content_split_known(store_content_memo *m, const char *text, size_t len,
                              const hashed_span *span, size_t nspans, store_parts *out)
{
    memset(out, 0, sizeof *out);
    if (!text || len < STORE_CONTENT_MIN)
        return 0;
    cutter c = {.text = text, .len = len};
    scan(&c, span, nspans);
    int rc = c.oom ? -1 : 0;
    if (rc == 0 && c.n > 0)
        rc = assemble(m, &c, span, nspans, out);
    if (c.cuts != c.local)
        free(c.cuts);
    if (rc != 0)
        store_parts_free(out);
    return rc;
}

/* ---- the join ---- */

int store_content_join(const char *recipe, store_content_fetch fetch, void *ud, char **out,
                       error_info *err)
{
    *out = NULL;
    cJSON *parts = cJSON_Parse(recipe);
    textbuf b = {0};
    int rc = cJSON_IsArray(parts) ? 0 : -2;
    textbuf_printf(&b, "%s", ""); /* an empty recipe is an empty request, not none */
    for (const cJSON *k = parts ? parts->child : NULL; rc == 0 && !b.failed && k; k = k->next) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(k, "ref");
        if (cJSON_IsString(k)) {
            textbuf_puts(&b, k->valuestring);
        } else if (cJSON_IsString(ref)) {
            char *body = NULL;
            if (fetch(ud, ref->valuestring, &body, err) != 0) {
                rc = -3;
                break;
            }
            textbuf_puts(&b, body);
            free(body);
        } else {
            rc = -2;
        }
    }
    cJSON_Delete(parts);
    if (rc == 0 && b.failed)
        rc = -1;
    if (rc == 0) {
        *out = b.s;
        return 0;
    }
    free(b.s);
    if (rc == -1)
        store_fail(err, "store: cannot read a stored request: out of memory");
    else if (rc == -2)
        store_fail(err, "store: a stored request's parts are not a recipe nyx wrote");
    return -1;
}
