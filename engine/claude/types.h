/* Plain data exchanged between the layers: what a call asks for, what the API answered,
 * and how it failed. No behaviour lives here except construction and release. */
#ifndef NYX_CLAUDE_TYPES_H
#define NYX_CLAUDE_TYPES_H

#include "base/error.h"
#include "base/quick_hash.h"
#include "base/text_shape.h"

#include <stddef.h>
#include <stdint.h>

/* Prompt-cache mark on a block: none, 5 minute ("ephemeral") or 1 hour TTL. */
enum cache_mark { NYX_MARK_NONE = 0, NYX_MARK_5M = 1, NYX_MARK_1H = 2 };

/* Caching policy a call asks for. NYX_CACHE_API: no marks of nyx's own, the API's automatic
 * caching instead (one top-level cache_control: a mark on the last block). */
enum cache_mode { NYX_CACHE_AUTO = 0, NYX_CACHE_ON, NYX_CACHE_OFF, NYX_CACHE_1H, NYX_CACHE_API };

/* thinking as asked: not sent, {"type":"adaptive"}, {"type":"enabled","budget_tokens":N},
 * {"type":"disabled"}. */
enum claude_thinking { NYX_THINKING_UNSET = 0, NYX_THINKING_ADAPTIVE, NYX_THINKING_BUDGET, NYX_THINKING_DISABLED };

enum claude_role { NYX_ROLE_USER = 0, NYX_ROLE_ASSISTANT = 1 };

/* What a block's text holds: the text of a text block, or one whole API content block
 * (tool_use, tool_result, image, thinking, ...) as a JSON object without its cache_control,
 * sent as it is so a thinking block's signature and a tool's input reach the API unchanged. */
enum block_kind { NYX_BLOCK_TEXT = 0, NYX_BLOCK_JSON = 1 };

typedef struct shared_text shared_text;
typedef struct claude_block {
    char *text;       /* owned, NUL-terminated; or, with shared, the shared text's */
    shared_text *shared; /* the long text this block shares with others (text_pool), or NULL */
    size_t len;
    int mark;         /* enum cache_mark */
    int kind;         /* enum block_kind */
    int no_mark;      /* 1: the API refuses a cache mark here (thinking blocks) */
} claude_block;

typedef struct claude_message {
    int role;          /* enum claude_role */
    claude_block *blocks; /* owned */
    size_t nblocks;
} claude_message;

typedef struct claude_request {
    char *model;           /* owned; resolved id or alias as the script gave it */
    claude_block *system;     /* owned array */
    size_t nsystem;
    claude_message *messages; /* owned array */
    size_t nmessages;
    char *tools_json;      /* owned, optional: JSON array passed through verbatim */
    int tools_mark;        /* enum cache_mark: a mark the cache policy adds to the last tool */
    char *tool_choice_json; /* owned, optional: JSON object passed through verbatim */
    int thinking;          /* enum claude_thinking */
    int thinking_budget;   /* budget_tokens of NYX_THINKING_BUDGET */
    char *effort;          /* owned, optional: output_config.effort (low, medium, high, max) */
    char *output_schema_json; /* owned, optional: output_config.format's JSON Schema */
    int max_tokens;
    double temperature;    /* < 0 means unset */
    char **stop_sequences; /* owned array of owned strings */
    size_t nstop;
    char *user_id;         /* metadata.user_id, optional */
    int stream;            /* 1: ask for SSE */
    int cache_mode;        /* enum cache_mode */
    int top_level_cache;   /* 1: add the API's automatic top-level cache_control */
    int single_prompt;     /* 1: the call gave one prompt, not a conversation to go on with */
    int index_base;        /* how errors number list items: 0 for C and JSON, 1 for Lua tables */
    int text_checked;      /* 1: claude_request_check_text passed (request.h): not read again */
} claude_request;

typedef struct claude_usage {
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_creation_input_tokens;
    int64_t cache_read_input_tokens;
    int64_t cache_creation_5m; /* cache_creation.ephemeral_5m_input_tokens */
    int64_t cache_creation_1h; /* cache_creation.ephemeral_1h_input_tokens */
    int has_cache_creation_detail;
    /* What the API says changed the price; "" when it did not say. Fixed size so a usage
     * stays plain data that copies with '='. */
    char speed[16];         /* usage.speed: "standard" | "fast" */
    char inference_geo[24]; /* usage.inference_geo: "us", "global", ... */
    char service_tier[16];  /* usage.service_tier: "standard" | "priority" | "batch" */
} claude_usage;

typedef struct claude_response {
    char *id;            /* owned */
    char *model;         /* owned: the model that served */
    char *stop_reason;   /* owned, may be NULL */
    char *stop_sequence; /* owned, may be NULL */
    /* owned, concatenated text blocks, NUL-terminated. The one text block of content, when
     * it has one, may hold this very string (a cJSON reference, which cJSON_Delete leaves
     * alone): text is never changed or freed while content lives (response_free frees both). */
    char *text;
    size_t text_len;
    /* owned: every content block as the API returned them, a JSON array as parsed (tool
     * inputs complete even when streamed); NULL if unknown. The reply is parsed once: what
     * reads the blocks (the script's result, the record, the telemetry) reads this tree. */
    struct cJSON *content;
    /* owned: content printed (cJSON_PrintUnformatted), made when first asked for through
     * response_content_json(), as only a record or a cache entry of blocks needs the text */
    char *content_json;
    char *request_id;    /* owned, from the request-id header or body */
    claude_usage usage;
    /* What content holds, when the parser that made it said (content_known 1): whether a
     * block is anything but text, and how many are tool_use. 0: read content to know. */
    int content_known;
    int content_not_text;
    int content_tool_uses;
} claude_response;


/* Copies text; returns 0, or -1 when out of memory. */
int block_set(claude_block *b, const char *text, size_t len, int mark);

/* Long texts repeated from call to call (a system prompt, a context) are held once: a pool
 * remembers the last few by content, and blocks with the same bytes share one refcounted copy
 * (calls in flight do not each hold 15 KB of the same prompt). One pool per thread. */
typedef struct text_pool text_pool;
text_pool *text_pool_new(void);
void text_pool_free(text_pool *p); /* blocks sharing its texts keep them */
/* Texts whose bytes the pool has read (hashed, and compared when found) since it was made. */
unsigned long text_pool_reads(const text_pool *p);
/* Shared texts alive in the process (in any pool or block): what holders that outlive a call
 * keep, counted, so a test can tell they are bounded. */
unsigned long shared_texts_alive(void);
/* block_set, sharing the copy through pool when the text is long (pool may be NULL). */
int block_set_pooled(claude_block *b, text_pool *pool, const char *text, size_t len, int mark);
/* b as another holder of from's shared text (a reference taken, nothing read or copied), with
 * mark. Returns 0, or -1 when from is not shared (b untouched). */
int block_set_like(claude_block *b, const claude_block *from, int mark);
/* Frees what b holds (its text, or its reference to a shared text); b is then empty. */
void block_free(claude_block *b);
/* 1 when b's text has a NUL among its len bytes (which the API cannot be sent): kept with a
 * shared text (looked for once, when pooled), looked for otherwise. */
int block_has_nul(const claude_block *b);
/* The offset of the first byte of b's text that is not UTF-8 (base/utf8.h), or -1: kept with
 * a shared text (looked for once, when pooled), looked for otherwise. */
long block_utf8_bad(const claude_block *b);
/* What the texts of req are made of, the texts the API counts tokens of: its tools, system
 * blocks and message blocks (a JSON block as its JSON). */
void request_shape(const claude_request *req, text_shape *s);
/* The XXH3-64 of b's text: kept with a shared text (computed once, when pooled), computed
 * otherwise. Layers that key on a block's content (the cache policy) start from it rather
 * than reading a long text again on every call. */
uint64_t block_hash(const claude_block *b);
/* A JSON string literal (quotes included), refcounted: kept with a shared text, in the memo of
 * literals (json_text.h) and in every request body in pieces that holds it (body.h). */
typedef struct claude_literal {
    size_t refs;
    size_t len;
    quick_hash h; /* of text, made once: the redaction memo's key for it (guard/memo.h) */
    char text[]; /* NUL-terminated */
} claude_literal;
/* A literal of json[0..len) with one reference; NULL when out of memory. */
claude_literal *claude_literal_new(const char *json, size_t len);
/* Lets go of one reference (l may be NULL); the last frees it. */
void claude_literal_release(claude_literal *l);
/* The JSON string literal of b's shared text when one was kept with it (block_keep_literal),
 * else NULL: a system prompt sent on every call is escaped once for as long as it is shared. */
claude_literal *block_literal(const claude_block *b);
/* Keeps literal with b's shared text, taking the caller's reference. Returns 0, or -1 when b
 * is not shared or already has one (the reference is then the caller's still). */
int block_keep_literal(const claude_block *b, claude_literal *literal);
/* Cuts b's text to its first len bytes (a shared text is copied first); 0, or -1 when out of
 * memory (b unchanged). */
int block_truncate(claude_block *b, size_t len);
void request_init(claude_request *r);
void request_free(claude_request *r);
void response_init(claude_response *r);
void response_free(claude_response *r);
/* r's content as JSON text, printed from r->content the first time and kept in
 * r->content_json; NULL when the content is unknown or out of memory. */
const char *response_content_json(claude_response *r);

#endif
