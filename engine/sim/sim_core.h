/* The simulator's pure logic, testable without sockets: request validation and prefix
 * hashing (sim_request.c), the tokenizer (sim_tokens.c), the prompt-cache store and its
 * accounting (sim_cache.c) and the deterministic reply (sim_reply.c). Time is passed in as
 * monotonic microseconds. Nothing here locks but the token memo: the HTTP layer serialises
 * access. */
#ifndef NYX_SIM_CORE_H
#define NYX_SIM_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* ---- tokenizer (sim_tokens.c) ---- */

/* Byte length of the first ntok tokens of text (len when it has fewer). A prefix cut here
 * counts exactly ntok tokens. */
size_t sim_token_prefix(const char *text, size_t len, int64_t ntok);

/* Token counts of long texts, remembered (sim_token_memo.c): confirmed by the text's bytes,
 * at most SIM_MEMO_ENTRIES texts and SIM_MEMO_BYTES of them (the oldest go first). Texts
 * shorter than SIM_MEMO_MIN_LEN count faster than they are looked up; texts longer than a
 * quarter of SIM_MEMO_BYTES are counted each time. Safe to share between threads. */
#define SIM_MEMO_MIN_LEN 1024
#define SIM_MEMO_ENTRIES 64
#define SIM_MEMO_BYTES ((size_t)8 << 20)
typedef struct sim_token_memo sim_token_memo;
sim_token_memo *sim_token_memo_new(void); /* NULL when out of memory */
void sim_token_memo_free(sim_token_memo *m);
/* sim_count_tokens(text, len), remembered in m (NULL: counted every time). */
int64_t sim_token_memo_count(sim_token_memo *m, const char *text, size_t len);
/* How many texts m holds and their bytes. */
void sim_token_memo_size(sim_token_memo *m, size_t *entries, size_t *bytes);

/* Fixed overheads added around content, in tokens. */
enum {
    SIM_TOK_TOOL = 4,      /* per tool definition */
    SIM_TOK_SYSTEM = 3,    /* once, before the first system block */
    SIM_TOK_MESSAGE = 3,   /* per message (role header) */
    SIM_TOK_BLOCK = 1,     /* per system or content block */
    SIM_TOK_TRAILER = 3    /* after the last message (the assistant turn opening) */
};

/* ---- requests (sim_request.c) ---- */

enum sim_tool_choice { SIM_CHOICE_AUTO = 0, SIM_CHOICE_ANY, SIM_CHOICE_TOOL, SIM_CHOICE_NONE };
enum sim_kind { SIM_KIND_TOOL = 0, SIM_KIND_SYSTEM, SIM_KIND_USER, SIM_KIND_ASSISTANT };
enum sim_mark { SIM_MARK_NONE = 0, SIM_MARK_5M = 1, SIM_MARK_1H = 2 };

/* One cacheable block of the prefix (a tool, a system block or a message content block). */
typedef struct sim_block {
    int kind;        /* enum sim_kind */
    int mark;        /* enum sim_mark: a breakpoint when not NONE */
    int cacheable;   /* 0 for a thinking block: cached only within its turn, never marked */
    int64_t tokens;  /* this block's tokens, overheads included */
    int64_t cum;     /* cumulative tokens through this block */
    uint64_t key[2]; /* cumulative XXH3-128 through this block (model included) */
} sim_block;

typedef struct sim_req {
    char *model;        /* owned: as requested */
    char *canonical;    /* owned: as reported */
    int64_t min_cache;  /* the model's minimum cacheable prefix */
    int64_t max_tokens; /* 0 for count_tokens */
    int stream;
    char **stops;       /* owned stop sequences */
    size_t nstops;
    sim_block *blocks;  /* owned, in prefix order */
    size_t nblocks;
    int64_t total;      /* all input tokens: blocks + trailer */
    uint64_t hash;      /* hash of the whole prompt: picks the reply */
    char *persona;      /* owned: first words of the system prompt, or NULL */
    char *topic;        /* owned: first words of the last user message, or NULL */
    struct cJSON *tools;  /* owned copy of the tools array, or NULL */
    int tool_choice;      /* enum sim_tool_choice */
    char *tool_name;      /* owned: tool_choice {type: "tool", name} */
    int no_parallel;      /* tool_choice.disable_parallel_tool_use */
    int tools_answered;   /* the last message is a user turn holding tool_results */
    struct cJSON *output_schema; /* owned: output_config.format.schema, or NULL */
    int thinking;         /* thinking enabled or adaptive */
    char speed[16];     /* "standard" or "fast", reported in usage.speed */
    char geo[24];       /* inference_geo asked for, or "global"; reported in usage */
} sim_req;

/* Whether a request body is UTF-8, as the API reads JSON: 0, or -1 with why (of size cap) the
 * API's words for the first byte that is not ("The request body is not valid JSON: ..."). */
int sim_body_utf8(const char *body, size_t len, char *why, size_t cap);

/* Parses and validates a Messages (or count_tokens when count_only) body; the token counts
 * of long blocks come from memo when it holds them (memo may be NULL).
 * Returns 0, or -1 with *err set to the API's status, type and message
 * (400 invalid_request_error, a body that is not UTF-8 included; 404 not_found_error). *r is then empty; free it either way. */
int sim_req_parse(sim_req *r, const char *body, size_t len, const sim_models *models,
                  sim_token_memo *memo, int count_only, error_info *err);
void sim_req_free(sim_req *r);

/* ---- prompt cache (sim_cache.c) ---- */

#define SIM_TTL_5M_US (300LL * 1000000LL)
#define SIM_TTL_1H_US (3600LL * 1000000LL)

typedef struct sim_usage {
    int64_t input_tokens;   /* uncached tokens after the last write */
    int64_t cache_read;     /* A */
    int64_t cache_write_1h; /* B - A */
    int64_t cache_write_5m; /* C - B */
    int64_t cache_creation; /* the sum of both writes */
    int64_t output_tokens;
    const char *speed, *geo; /* usage.speed and usage.inference_geo; NULL: not reported */
    const char *tier;        /* usage.service_tier; NULL: "standard" */
} sim_usage;

/* What a request would read and write; computed without changing the store. */
typedef struct sim_plan {
    sim_usage usage;
    long hit;      /* index of the block whose entry is read, -1 on a miss */
} sim_plan;

typedef struct sim_cache sim_cache;

/* A store holding at most max_entries live entries (0 = a default of 1,000,000). */
sim_cache *sim_cache_new(size_t max_entries);
void sim_cache_free(sim_cache *c);
void sim_cache_clear(sim_cache *c);
size_t sim_cache_size(const sim_cache *c);

/* Looks the request up at time now: the longest usable entry within 20 blocks before each
 * breakpoint is the hit; fills the usage (except output_tokens) as the API bills it. */
void sim_cache_plan(const sim_cache *c, const sim_req *r, int64_t now_us, sim_plan *p);

/* Applies a plan: refreshes the hit's TTL from now and writes an entry at every breakpoint
 * that reaches the model minimum and lies beyond the hit; new entries become usable at
 * usable_at_us (when the response begins). Evicts expired entries as it goes.
 * Returns 0, or -1 when out of memory (the store stays consistent). */
int sim_cache_commit(sim_cache *c, const sim_req *r, const sim_plan *p, int64_t now_us,
                     int64_t usable_at_us);

/* ---- reply (sim_reply.c) ---- */

typedef struct sim_reply {
    char *text;            /* owned, NUL-terminated */
    size_t len;
    int64_t output_tokens;
    const char *stop_reason; /* static: "end_turn", "max_tokens", "stop_sequence", "tool_use" */
    char *stop_sequence;   /* owned, or NULL */
    struct cJSON *before;  /* owned array of blocks before the text (thinking), or NULL */
    struct cJSON *after;   /* owned array of blocks after the text (tool_use), or NULL */
} sim_reply;

/* ---- tools, thinking, structured output (sim_tools.c) ---- */

/* Reads tools, tool_choice, thinking and output_config into r and checks the conversation
 * as the API does: every tool_use answered by a tool_result in the next user turn and no
 * result without its call; with thinking on, thinking blocks signed by this simulator and an
 * assistant turn answered by tool results starting with its thinking. Returns 0, or -1
 * with the API's 400 in err. */
int sim_tools_parse(sim_req *r, const struct cJSON *root, error_info *err);

/* Turns the plain reply into what the request calls for: a thinking block first (thinking
 * on), tool_use blocks with inputs built from the tools' schemas (tools given and not yet
 * answered, stop_reason "tool_use"), or a JSON text valid for the output schema. Returns 0,
 * or -1 when out of memory. */
int sim_tools_reply(const sim_req *r, sim_reply *rep);

/* The deterministic answer to a request: "As <persona>, regarding <topic>: ..." of a
 * length between 20 and 200 tokens picked by the prompt hash, cut by max_tokens and the
 * stop sequences. Returns 0, or -1 when out of memory. */
int sim_reply_make(const sim_req *r, sim_reply *out);
void sim_reply_free(sim_reply *rep);

/* JSON texts (malloc'd, NULL when out of memory). */
char *sim_json_error(const char *type, const char *message, const char *request_id);
char *sim_json_message(const char *id, const char *model, const sim_reply *rep,
                       const sim_usage *u);
/* Prints o as JSON into plain malloc (cJSON's allocator may be hooked by the host) and deletes
 * o (NULL: nothing); NULL when o is NULL or out of memory. */
char *sim_json_print(struct cJSON *o);
/* The "usage" object of a response, as cJSON (declared opaque here). */
struct cJSON *sim_usage_json(const sim_usage *u, int64_t output_tokens);

#endif
