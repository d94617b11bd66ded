/* The engine object: every piece of state lives here (no mutable globals), so a host can run
 * several engines and reloading Lua never loses budgets, statistics or cache state.
 * Internal to the core; hosts see only the opaque handle of nyx.h, the Lua bindings only the
 * functions of host_api.h (which this header includes). */
#ifndef NYX_ENGINE_H
#define NYX_ENGINE_H

#include "nyx.h"
#include "base/textbuf.h"
#include "entry.h"
#include "host_api.h"

#include "cache/stats.h"
#include "claude/types.h"
#include "config.h"
#include "governance.h"
#include "progress.h"
#include "provider.h"
#include "loop.h"
#include "script_host.h"
#include "storage.h"

#include <curl/curl.h>
#include <stdint.h>

struct model_table;
struct sim_server;
struct store_db;
struct api_call;
struct cache_policy;
struct ratelimiter;
struct breakers;
struct tpl_library;
struct settings;
struct debug_state;
struct net;

typedef struct timeout_profile {
    char *name;
    double seconds;
} timeout_profile;

/* The store's filter remembers this many short texts (under this many bytes) found clean. */
#define ENGINE_CLEAN_TEXTS 4
#define ENGINE_CLEAN_TEXT_MAX 64

struct nyx_engine {
    engine_config cfg;
    int started;          /* engine_start done */
    int starting;         /* engine_start under way: its notices reach the host's log function,
                             which may ask something that would start the engine again */
    int in_host_fn;       /* host functions running now (log, output, debug writer, tool, row):
                             nyx_poll may not turn the loop under one (engine_host_fn_enter) */
    event_loop *loop;
    provider provider; /* provider.h: models, simulator, endpoint, headers, net, otel */
    storage storage; /* storage.h: the database, and the records waiting while it fails */
    governance gov; /* governance.h: budgets and limits, rate limiter, breakers, the stop */
    struct cache_policy *cache;
    struct response_cache *responses;
    struct news_read *news; /* a read of other processes' news under way (news.c) */
    int news_again;         /* read the news again at the next look */
    uint64_t local_changes; /* this process's own stops, resumes and settings: an answer
                               read before one of them is stale */
    int64_t miss_reasons[4];   /* unexpected misses by guessed reason (enum cache_miss) */
    timeout_profile *timeouts;
    size_t ntimeouts;
    cache_stats stats;
    stats_group by_model, by_agent, by_template;
    call_session *sessions;
    struct api_call *calls; /* in flight, for cancel-all */
    struct api_call *idle_calls; /* let go, kept for the next calls (call.c), nidle_calls of them */
    size_t nidle_calls;
    int cancels_deferred;   /* calls asked to cancel inside curl's callbacks (call.c) */
    struct api_call *logging; /* finished, their records not yet committed */
    struct claude_json_texts *json_texts; /* long texts' JSON literals, made once (claude/json_text.h) */
    struct text_pool *texts; /* long prompt texts shared by the calls in flight (claude/types.h) */
    struct claude_schema_memo *schemas; /* output and strict tool schemas found good (claude/schema.h) */
    struct guard_memo *pii_memo; /* stored text redacted: each long text scanned once (guard/memo.h) */
    struct record_buffers *record_buffers; /* what build_record writes over (call_account.c) */
    textbuf_pool buffers; /* calls' request bodies in one piece and replies, kept for the next */
    /* Short texts the store's filter scanned and found clean (store_text.c), newest last. */
    struct {
        char text[ENGINE_CLEAN_TEXT_MAX];
        size_t len;
    } clean_texts[ENGINE_CLEAN_TEXTS];
    size_t nclean_texts;
    struct turn_log *turn_log; /* of them, those this loop turn commits together (call_account.c) */
    uint64_t id_nonce, id_seq;

    struct host_tools *host_tools; /* host_tools.h: nyx_tool_register, NULL until the first */

    script_host script; /* script_host.h: the Lua host, its tasks, event hook and watch */

    /* set by the template library: a file in a template directory changed */
    void (*on_template_change)(nyx_engine *e, const char *path);
    struct tpl_library *templates; /* template/library.h: created by nyx_open */
    struct settings *settings;     /* settings.h: system_config over the defaults */
    struct debug_state *debug;     /* debug.h: where the raw exchanges go (NYX_DEBUG) */

    progress_line progress; /* progress.h: the host's progress line, where print() goes */

    void (*log_fn)(void *ud, int level, const char *msg);
    void *log_ud;
    char **warned; /* notices already given once */
    size_t nwarned;
    char errmsg[2048];
};

/* Notices a database file deleted or replaced under the process (a stat, ~1 us): the store
 * is closed and records wait in memory for a new file. */
void engine_check_db_file(nyx_engine *e);
/* Opens the database only (for queries); idempotent. 0 or -1 with e->errmsg. */
int engine_open_store(nyx_engine *e);
/* Creates e->templates (core/templates.c): the template library with what it may ask of the
 * engine. 0, or -1 with err when out of memory. */
int engine_open_templates(nyx_engine *e, error_info *err);
/* Unique interaction id ("ix_", 16 hex digits of the process's nonce, 6 of a counter),
 * written to out (at least ENGINE_ID_LEN + 1 bytes). */
#define ENGINE_ID_LEN 25
void engine_new_id(nyx_engine *e, char *out, size_t size);
/* Makes e->storage.db pass every free text and name it writes through the storage mode's
 * redaction (store_text.c). */
void engine_filter_store_text(nyx_engine *e);
/* That filter (a store_text_filter, ud the engine), for records kept outside the store. */
int engine_store_text_filter(void *ud, const char *text, int name, char **copy);


#endif
