/* host_api.h's reads of the engine for the Lua bindings: one line each, so that the bindings
 * need no field of the engine and the engine may rearrange its parts freely. */
#include "host_api.h"
#include "engine.h"

const char *engine_errmsg(const nyx_engine *e) { return e->errmsg; }
int engine_started(const nyx_engine *e) { return e->started; }

int engine_starting(const nyx_engine *e) { return e->starting; }
const engine_config *engine_cfg(const nyx_engine *e) { return &e->cfg; }
event_loop *engine_loop(nyx_engine *e) { return e->loop; }
struct store_db *engine_store(nyx_engine *e) { return e->storage.db; }
struct model_table *engine_models(nyx_engine *e) { return e->provider.models; }
struct cache_policy *engine_cache(nyx_engine *e) { return e->cache; }
struct ratelimiter *engine_limiter(nyx_engine *e) { return e->gov.limiter; }
struct tpl_library *engine_templates(nyx_engine *e) { return e->templates; }
struct otel *engine_otel(nyx_engine *e) { return e->provider.otel; }
uint64_t engine_next_seq(nyx_engine *e) { return ++e->id_seq; }

void engine_counters_read(nyx_engine *e, engine_counters *out)
{
    *out = (engine_counters){&e->stats, &e->by_model, &e->by_agent, &e->by_template, e->storage.degraded,
                             e->storage.lost_interactions, e->gov.breaker_opens, e->provider.connections, e->provider.tls_handshakes,
                             e->miss_reasons};
}

void *engine_host(nyx_engine *e) { return e->script.host; }

void engine_host_attach(nyx_engine *e, void *state, void (*close)(nyx_engine *e))
{
    e->script.host = state;
    e->script.host_close = close;
}

void engine_host_on_interrupt(nyx_engine *e, void (*stop)(void *thread)) { e->script.interrupt = stop; }

/* Lets go of the thread that ran: an interrupt that read it before the store below sets its
 * hook before this returns, while the thread still exists. Both sides are sequentially
 * consistent: either the interrupt reads the new thread, or this sees it under way and waits
 * (the hook takes a few instructions). An interrupt from a signal handler on this thread ends
 * before this thread goes on, so it never waits for itself. */
static void *let_go(nyx_engine *e, void *thread)
{
    void *before = atomic_exchange(&e->script.running, thread);
    while (atomic_load(&e->script.interrupting) > 0)
        ;
    return before;
}

void *engine_host_running(nyx_engine *e, void *thread) { return let_go(e, thread); }

void engine_interrupt(nyx_engine *e)
{
    atomic_fetch_add(&e->script.interrupting, 1);
    void *thread = atomic_load(&e->script.running);
    if (thread && e->script.interrupt)
        e->script.interrupt(thread);
    atomic_fetch_sub(&e->script.interrupting, 1);
}

void engine_host_detach(nyx_engine *e)
{
    loop_set_idle(e->loop, NULL, NULL);
    collector_detach(&e->script.gc);
    e->script.host = NULL;
    e->script.host_close = NULL;
    let_go(e, NULL);
    e->script.interrupt = NULL;
    e->script.emit = NULL;
}

void engine_host_collector(nyx_engine *e, collector_fn fn, void *state)
{
    collector_attach(&e->script.gc, fn, state);
    loop_set_idle(e->loop, collector_idle, &e->script.gc);
}

const char *engine_lua_path(const nyx_engine *e) { return e->script.lua_path; }

const char *engine_var_at(const nyx_engine *e, size_t i, const char **value)
{
    if (i >= e->script.nvars)
        return NULL;
    *value = e->script.vars[i].value;
    return e->script.vars[i].name;
}

void engine_task_started(nyx_engine *e) { e->script.tasks_alive++; }
void engine_task_ended(nyx_engine *e) { e->script.tasks_alive--; }
void engine_script_failed(nyx_engine *e) { e->script.script_failed = 1; }
int engine_take_script_failure(nyx_engine *e) { return script_host_take_failure(&e->script); }

int engine_enter_callback(nyx_engine *e)
{
    int was = e->script.in_callback;
    e->script.in_callback = 1;
    return was;
}

void engine_leave_callback(nyx_engine *e, int was) { e->script.in_callback = was; }
int engine_in_callback(const nyx_engine *e) { return e->script.in_callback; }
void engine_mark_changed(nyx_engine *e, int changed) { e->script.changed |= changed; }
int engine_watching_script(const nyx_engine *e) { return e->script.watch_script; }

void engine_set_emit(nyx_engine *e, engine_emit_fn fn, void *ud)
{
    e->script.emit = fn;
    e->script.emit_ud = ud;
}

void *engine_emit_ud(const nyx_engine *e) { return e->script.emit_ud; }
