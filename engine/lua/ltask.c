#define _POSIX_C_SOURCE 200809L
/* Tasks are coroutines resumed by the engine's loop: nyx.spawn, t:wait, t:cancel, nyx.sleep
 * and nyx.event. An operation a task waits on completes from the loop; the task is resumed
 * at the end of that turn, never from inside a network callback. */
#include "lnyx.h"
#include "base/array.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum task_state { T_RUNNING, T_WAITING, T_DONE, T_FAILED };

typedef struct waitlist {
    lnyx_op **ops;
    size_t n, cap;
} waitlist;

struct lnyx_task {
    nyx_engine *e;
    lua_State *S;      /* the main thread: bookkeeping never touches a task's own stack */
    lua_State *co;
    int anchor_ref;    /* registry: keeps the task object (and so its thread) alive */
    int thread_ref;    /* registry: the thread, until the task ends */
    int result_ref;    /* registry: table of results, or the error value */
    int state;
    int main_task;
    int wake_pending;
    int cancel_asked;
    int start_nargs;   /* spawned inside a callback: its first run waits for the loop, with these arguments */
    int nesting;       /* runs inside this many other tasks' runs (0: resumed by the loop) */
    char *unseen;      /* a failure nobody has waited for yet: reported if nobody ever does */
    lnyx_op *op;       /* what it waits on */
    waitlist waiters;  /* operations (t:wait) waiting for this task */
};

typedef struct event {
    int set;
    waitlist waiters;
} event;

/* Its address is the registry key of the thread -> task table, looked up on every wait: a
 * light userdata key is found without the strcmp and hashing a string key's lookup costs. */
static const char THREADS_KEY = 't';

/* How deep tasks may start inside one another's runs before a new one starts from the loop
 * (lnyx_spawn): well under Lua's limit of C calls (LUAI_MAXCCALLS, 200). */
#define SPAWN_NESTING 64

/* ---- wait lists ---- */

static int waitlist_add(waitlist *w, lnyx_op *op)
{
    lnyx_op **ops = array_room(w->ops, w->n, &w->cap, sizeof *ops, 4);
    if (!ops)
        return -1;
    w->ops = ops;
    w->ops[w->n++] = op;
    return 0;
}

static void waitlist_remove(waitlist *w, lnyx_op *op)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->ops[i] == op) {
            w->ops[i] = w->ops[--w->n];
            return;
        }
}

static void waitlist_complete_all(waitlist *w)
{
    while (w->n > 0)
        lnyx_complete(w->ops[--w->n]);
}

/* ---- scheduling ---- */

/* Pushes the thread -> task table, creating it for the first task of this state. */
static void push_threads(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &THREADS_KEY) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &THREADS_KEY);
}

/* The task running on L, or NULL when L is not a task (stock Lua's main chunk, or a
 * coroutine the script made itself). */
static lnyx_task *lnyx_current(lua_State *L)
{
    push_threads(L);
    lua_pushthread(L);
    lua_rawget(L, -2);
    lnyx_task *t = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return t && t->co == L ? t : NULL;
}

static lua_State *main_thread(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    return main;
}

static void release_anchor(lnyx_task *t, lua_State *S)
{
    luaL_unref(S, LUA_REGISTRYINDEX, t->anchor_ref);
    t->anchor_ref = LUA_NOREF;
}

/* The task ended: keep its results or error, forget its thread, wake who waits for it. */
static void end_task(lnyx_task *t, lua_State *S, int failed)
{
    t->state = failed ? T_FAILED : T_DONE;
    engine_task_ended(t->e);
    push_threads(S);
    lua_rawgeti(S, LUA_REGISTRYINDEX, t->thread_ref);
    lua_pushnil(S);
    lua_rawset(S, -3);
    lua_pop(S, 1);
    luaL_unref(S, LUA_REGISTRYINDEX, t->thread_ref);
    t->thread_ref = LUA_NOREF;
    t->co = NULL;
    waitlist_complete_all(&t->waiters);
    if (!t->wake_pending)
        release_anchor(t, S);
}

/* Whether the error value at i is a cancellation: the task was stopped by whoever asked
 * (nyx_close, nyx_stop_scripts, nyx_cancel_all, nyx_interrupt, the script's task:cancel()).
 * Read raw: the value may be any table a script raised. */
static int is_cancellation(lua_State *L, int i)
{
    i = lua_absindex(L, i);
    if (!lua_istable(L, i))
        return 0;
    lua_pushliteral(L, "type");
    int yes = lua_rawget(L, i) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "cancelled") == 0;
    lua_pop(L, 1);
    return yes;
}

static void keep_failure(lnyx_task *t, lua_State *S, lua_State *co)
{
    lua_xmove(co, S, 1); /* the error value */
    lnyx_push_error_text(S, -1); /* protected: the loop resumed the task, nothing would catch it */
    const char *msg = lua_tostring(S, -1);
    luaL_traceback(S, co, msg, 0);
    if (t->main_task) {
        engine_set_error(t->e, "%s", lua_tostring(S, -1));
        engine_script_failed(t->e);
    } else if (t->waiters.n == 0 && !is_cancellation(S, -3)) { /* under its text and traceback */
        /* The script may still wait for it (and see the error then): only a task nobody
         * ever waits for is reported, when it is collected (at the latest, at the end). A
         * cancelled one is not: who cancelled it knows, and a host closing the engine, or
         * stopping its scripts, with tasks under way would get one warning with a traceback
         * for each. */
        t->unseen = strdup(lua_tostring(S, -1));
    }
    lua_pop(S, 2);
    t->result_ref = luaL_ref(S, LUA_REGISTRYINDEX);
    lua_resetthread(co); /* closes its to-be-closed variables */
}

static void run(lnyx_task *t, lua_State *from, int nargs)
{
    lua_State *co = t->co;
    lua_State *S = t->S;
    lnyx_task *outer_task = from ? lnyx_current(from) : NULL;
    t->nesting = outer_task ? outer_task->nesting + 1 : 0;
    t->state = T_RUNNING;
    int nres = 0;
    void *outer = engine_host_running(t->e, co);
    int rc = lua_resume(co, from, nargs, &nres);
    engine_host_running(t->e, outer);
    if (rc == LUA_YIELD && t->state == T_WAITING)
        return;
    if (rc == LUA_YIELD) { /* a bare coroutine.yield(): nothing would ever resume it */
        lua_pop(co, nres);
        lua_pushliteral(co, "coroutine.yield() cannot leave a nyx task; use nyx.sleep or nyx.event");
        rc = LUA_ERRRUN;
    }
    if (rc == LUA_OK) {
        lua_createtable(S, nres, 1);
        lua_xmove(co, S, nres);
        for (int i = nres; i >= 1; i--)
            lua_rawseti(S, -(i + 1), i);
        lua_pushinteger(S, nres);
        lua_setfield(S, -2, "n");
        t->result_ref = luaL_ref(S, LUA_REGISTRYINDEX);
        end_task(t, S, 0);
    } else {
        keep_failure(t, S, co);
        end_task(t, S, 1);
    }
}

/* A task spawned inside a callback and cancelled before its first run ends cancelled. */
static void fail_unstarted(lnyx_task *t)
{
    error_info err;
    error_clear(&err);
    error_set(&err, "cancelled", 0, "the task was cancelled before it started");
    lua_settop(t->co, 0); /* its function and arguments */
    lnyx_push_error(t->co, &err);
    keep_failure(t, t->S, t->co);
    end_task(t, t->S, 1);
}

static void resume_deferred(void *ud)
{
    lnyx_task *t = ud;
    t->wake_pending = 0;
    if (t->state == T_WAITING) {
        t->op = NULL;
        int nargs = t->start_nargs;
        t->start_nargs = -1;
        if (nargs >= 0 && t->cancel_asked)
            fail_unstarted(t);
        else
            run(t, NULL, nargs > 0 ? nargs : 0);
    } else if (t->state == T_DONE || t->state == T_FAILED) {
        release_anchor(t, t->S); /* it ended while this wake was queued */
    }
}

void lnyx_complete(lnyx_op *op)
{
    op->done = 1;
    lnyx_task *t = op->waiter;
    op->waiter = NULL;
    if (!t || t->wake_pending)
        return;
    if (loop_defer(engine_loop(t->e), resume_deferred, t) == 0)
        t->wake_pending = 1;
}

int lnyx_raise_cancelled(lua_State *L)
{
    error_info err;
    error_clear(&err);
    error_set(&err, "cancelled", 0, "the task was cancelled");
    return lnyx_raise(L, &err);
}

int lnyx_wait(lua_State *L, lnyx_op *op, lua_KContext ctx, lua_KFunction k)
{
    if (!op->done) {
        lnyx_task *t = lnyx_current(L);
        if (t && lua_isyieldable(L)) {
            op->waiter = t;
            t->op = op;
            t->state = T_WAITING;
            return lua_yieldk(L, 0, ctx, k);
        }
        nyx_engine *e = lnyx_engine(L); /* only here: a task's wait needs none */
        if (engine_in_callback(e))
            return lnyx_fail(L, "invalid_state", "cannot wait inside a callback (stream or event handler)");
        /* Not a task: turn the loop here until the operation is done. Other tasks run. */
        int changed = 0;
        while (!op->done) {
            int rc = nyx_poll(e, 100);
            if (rc == NYX_CHANGED)
                changed = 1; /* kept for the host's own nyx_poll */
            if (rc == NYX_ESCRIPT || rc == NYX_CHANGED)
                continue; /* a main task failed (nyx_errmsg has it), or a file changed: wait on */
            if (rc != NYX_AGAIN && !op->done)
                return lnyx_fail(L, "invalid_state", "waiting on something that can never happen: %s", nyx_errmsg(e));
        }
        engine_mark_changed(e, changed);
    }
    return k(L, LUA_OK, ctx);
}

/* ---- task objects ---- */

static lnyx_task *check_task(lua_State *L, int i) { return lnyx_checkudata(L, i, NYX_TASK_MT); }

lnyx_task *lnyx_spawn(lua_State *L, int nargs, int main)
{
    nyx_engine *e = lnyx_engine(L);
    lnyx_task *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    t->e = e;
    t->S = main_thread(L);
    t->main_task = main;
    t->anchor_ref = t->thread_ref = t->result_ref = LUA_NOREF;
    t->start_nargs = -1;
    luaL_setmetatable(L, NYX_TASK_MT);
    lua_insert(L, -(nargs + 2));              /* task, fn, args */
    lua_State *co = lua_newthread(L);         /* task, fn, args, thread */
    lua_insert(L, -(nargs + 2));              /* task, thread, fn, args */
    lua_xmove(L, co, nargs + 1);              /* task, thread */
    t->co = co;
    push_threads(L);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -4);
    lua_rawset(L, -3);                        /* threads[thread] = task */
    lua_pop(L, 1);
    t->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the thread */
    lua_pushvalue(L, -1);
    t->anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    engine_task_started(e);
    /* Inside a callback (a stream's, an event handler's) nothing may wait, and a task's first
     * run would be inside it too: it starts from the loop once the callback has returned. So
     * does a task spawned by a task nested SPAWN_NESTING deep: each run inside another's is a
     * lua_resume on the C stack, and Lua allows ~200 ("C stack overflow", a task tree 200
     * deep); from the loop it starts on a stack of its own. */
    lnyx_task *spawner = lnyx_current(L);
    if ((engine_in_callback(e) || (spawner && spawner->nesting >= SPAWN_NESTING)) &&
        loop_defer(engine_loop(e), resume_deferred, t) == 0) {
        t->state = T_WAITING;
        t->start_nargs = nargs;
        t->wake_pending = 1;
        return t;
    }
    run(t, L, nargs);
    return t;                                 /* the task object stays on the stack */
}

static int push_results(lua_State *L, lnyx_task *t)
{
    free(t->unseen); /* its failure is seen now */
    t->unseen = NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->result_ref);
    if (t->state == T_FAILED)
        return lua_error(L);
    lua_getfield(L, -1, "n");
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, n, "too many results");
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    return n;
}

typedef struct task_waitop {
    lnyx_op op;
    waitlist *list; /* where the op is registered, NULL once completed */
} task_waitop;

static void waitop_cancel(lnyx_op *op)
{
    task_waitop *w = (task_waitop *)op;
    if (w->list)
        waitlist_remove(w->list, op);
    w->list = NULL;
    lnyx_complete(op);
}

static int waitop_gc(lua_State *L)
{
    task_waitop *w = lua_touserdata(L, 1);
    if (w->list && !w->op.done)
        waitlist_remove(w->list, &w->op);
    w->list = NULL;
    return 0;
}

/* An op on the stack that completes when list's owner completes it; the owner (task or
 * event) is kept alive by the op's user value. */
static task_waitop *new_waitop(lua_State *L, waitlist *list, int owner_index)
{
    owner_index = lua_absindex(L, owner_index);
    task_waitop *w = lnyx_new_udata(L, sizeof *w, 1, "nyx.waitop", waitop_gc);
    w->op.cancel = waitop_cancel;
    w->list = list;
    lua_pushvalue(L, owner_index);
    lua_setiuservalue(L, -2, 1);
    if (waitlist_add(list, &w->op) != 0)
        lnyx_fail(L, "out_of_memory", "out of memory");
    return w;
}

static int task_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    task_waitop *w = (task_waitop *)ctx;
    w->list = NULL;
    if (w->op.cancelled)
        return lnyx_raise_cancelled(L);
    return push_results(L, check_task(L, 1));
}

static int task_wait(lua_State *L)
{
    lnyx_task *t = check_task(L, 1);
    lua_settop(L, 1);
    if (t->state == T_DONE || t->state == T_FAILED)
        return push_results(L, t);
    if (lnyx_current(L) == t)
        return lnyx_fail(L, "invalid_state", "a task cannot wait for itself");
    task_waitop *w = new_waitop(L, &t->waiters, 1);
    return lnyx_wait(L, &w->op, (lua_KContext)w, task_wait_k);
}

static int task_cancel(lua_State *L)
{
    lnyx_task *t = check_task(L, 1);
    if (t->state == T_DONE || t->state == T_FAILED)
        return 0;
    if (t->state == T_RUNNING && lnyx_current(L) == t)
        return lnyx_raise_cancelled(L);
    t->cancel_asked = 1;
    if (t->state == T_WAITING && t->op && !t->op->done) {
        t->op->cancelled = 1;
        t->op->cancel(t->op);
    }
    return 0;
}

static int task_status(lua_State *L)
{
    static const char *const names[] = {"running", "waiting", "done", "failed"};
    lua_pushstring(L, names[check_task(L, 1)->state]);
    return 1;
}

static int task_gc(lua_State *L)
{
    lnyx_task *t = check_task(L, 1);
    if (t->unseen) {
        engine_log(t->e, NYX_LOG_WARN, "nyx: a task failed and nobody waited for it: %s", t->unseen);
        free(t->unseen);
        t->unseen = NULL;
    }
    if (t->result_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, t->result_ref);
    free(t->waiters.ops);
    memset(&t->waiters, 0, sizeof t->waiters);
    return 0;
}

int lnyx_cancel_tasks(lua_State *L)
{
    int n = 0;
    push_threads(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lnyx_task *t = lua_touserdata(L, -1);
        /* Cancelling completes the op and defers the wake: the table is not touched here. */
        if (t && t->state == T_WAITING && t->op && !t->op->done) {
            t->cancel_asked = 1;
            t->op->cancelled = 1;
            t->op->cancel(t->op);
            n++;
        } else if (t && t->state == T_WAITING && t->start_nargs >= 0 && !t->cancel_asked) {
            t->cancel_asked = 1; /* not started yet: it ends cancelled when its turn comes */
            n++;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return n;
}

static int l_spawn(lua_State *L)
{
    lnyx_checktype(L, 1, LUA_TFUNCTION);
    lnyx_spawn(L, lua_gettop(L) - 1, 0);
    return 1;
}

/* ---- sleep ---- */

typedef struct sleep_op {
    lnyx_op op;
    nyx_engine *e;
    loop_timer *timer;
} sleep_op;

static void sleep_fired(void *ud)
{
    sleep_op *s = ud;
    s->timer = NULL;
    lnyx_complete(&s->op);
}

static void sleep_cancel(lnyx_op *op)
{
    sleep_op *s = (sleep_op *)op;
    loop_timer_cancel(engine_loop(s->e), s->timer);
    s->timer = NULL;
    lnyx_complete(op);
}

static int sleep_gc(lua_State *L)
{
    sleep_op *s = lua_touserdata(L, 1);
    loop_timer_cancel(engine_loop(s->e), s->timer);
    s->timer = NULL;
    return 0;
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    if (((sleep_op *)ctx)->op.cancelled)
        return lnyx_raise_cancelled(L);
    return 0;
}

static int l_sleep(lua_State *L)
{
    lua_Number s = lnyx_checknumber(L, 1);
    if (!(s >= 0))
        return lnyx_argerror(L, 1, "seconds must be a number >= 0");
    nyx_engine *e = lnyx_engine(L);
    if (engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    sleep_op *op = lnyx_new_udata(L, sizeof *op, 0, "nyx.sleep", sleep_gc);
    op->e = e;
    op->op.cancel = sleep_cancel;
    op->timer = loop_timer_add(engine_loop(e), (double)s, sleep_fired, op);
    if (!op->timer)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    return lnyx_wait(L, &op->op, (lua_KContext)op, sleep_k);
}

/* ---- events ---- */

static event *check_event(lua_State *L, int i) { return lnyx_checkudata(L, i, NYX_EVENT_MT); }

static int l_event(lua_State *L)
{
    event *ev = lua_newuserdatauv(L, sizeof *ev, 0);
    memset(ev, 0, sizeof *ev);
    luaL_setmetatable(L, NYX_EVENT_MT);
    return 1;
}

static int event_set(lua_State *L)
{
    event *ev = check_event(L, 1);
    ev->set = 1;
    waitlist_complete_all(&ev->waiters);
    return 0;
}

static int event_is_set(lua_State *L)
{
    lua_pushboolean(L, check_event(L, 1)->set);
    return 1;
}

/* A wait for an event, with a timer when it was given a timeout. */
typedef struct event_waitop {
    task_waitop w; /* first: the op the event's list holds */
    nyx_engine *e;
    loop_timer *timer;
    int timed_out;
} event_waitop;

static void event_timer_stop(event_waitop *ew)
{
    if (ew->timer)
        loop_timer_cancel(engine_loop(ew->e), ew->timer);
    ew->timer = NULL;
}

static void event_timed_out(void *ud)
{
    event_waitop *ew = ud;
    ew->timer = NULL;
    if (ew->w.op.done)
        return; /* set first: its resume is on the way */
    ew->timed_out = 1;
    if (ew->w.list)
        waitlist_remove(ew->w.list, &ew->w.op);
    ew->w.list = NULL;
    lnyx_complete(&ew->w.op);
}

static void event_wait_cancel(lnyx_op *op)
{
    event_timer_stop((event_waitop *)op);
    waitop_cancel(op);
}

static int event_waitop_gc(lua_State *L)
{
    event_waitop *ew = lua_touserdata(L, 1);
    event_timer_stop(ew);
    if (ew->w.list && !ew->w.op.done)
        waitlist_remove(ew->w.list, &ew->w.op);
    ew->w.list = NULL;
    return 0;
}

static int event_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    event_waitop *ew = (event_waitop *)ctx;
    ew->w.list = NULL;
    event_timer_stop(ew);
    if (ew->w.op.cancelled)
        return lnyx_raise_cancelled(L);
    lua_pushboolean(L, !ew->timed_out);
    return 1;
}

/* ev:wait([timeout]): true once the event is set, false when timeout seconds passed first. */
static int event_wait(lua_State *L)
{
    event *ev = check_event(L, 1);
    double timeout = -1;
    if (!lua_isnoneornil(L, 2)) {
        timeout = lnyx_checknumber(L, 2);
        if (!(timeout >= 0))
            return lnyx_argerror(L, 2, "timeout must be a number of seconds >= 0");
    }
    lua_settop(L, 1);
    if (ev->set) {
        lua_pushboolean(L, 1);
        return 1;
    }
    nyx_engine *e = lnyx_engine(L);
    if (timeout >= 0 && !isinf(timeout) && engine_start(e) != 0)
        return lnyx_fail(L, "invalid_argument", "%s", engine_errmsg(e));
    event_waitop *ew = lnyx_new_udata(L, sizeof *ew, 1, "nyx.event_wait", event_waitop_gc);
    ew->w.op.cancel = event_wait_cancel;
    ew->w.list = &ev->waiters;
    ew->e = e;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1); /* keeps the event alive while it is waited on */
    if (waitlist_add(&ev->waiters, &ew->w.op) != 0)
        return lnyx_fail(L, "out_of_memory", "out of memory");
    if (timeout >= 0 && !isinf(timeout)) {
        ew->timer = loop_timer_add(engine_loop(e), timeout, event_timed_out, ew);
        if (!ew->timer) {
            waitlist_remove(&ev->waiters, &ew->w.op);
            ew->w.list = NULL;
            return lnyx_fail(L, "out_of_memory", "out of memory");
        }
    }
    return lnyx_wait(L, &ew->w.op, (lua_KContext)ew, event_wait_k);
}

static int event_gc(lua_State *L)
{
    event *ev = check_event(L, 1);
    free(ev->waiters.ops);
    memset(&ev->waiters, 0, sizeof ev->waiters);
    return 0;
}

/* coroutine.yield as nyx loads it: a bare yield from a task's own coroutine would leave the task
 * with nothing to resume it. There it raises invalid_state, which pcall catches (a tool's
 * handler fails as that tool, not the whole script); in a coroutine the script made, it is
 * Lua's own yield. */
static int task_yield(lua_State *L)
{
    if (lnyx_current(L))
        return lnyx_fail(L, "invalid_state", "coroutine.yield() cannot leave a nyx task; use nyx.sleep or nyx.event");
    return lua_yield(L, lua_gettop(L));
}

int lnyx_open_tasks(lua_State *L)
{
    static const luaL_Reg task_meth[] = {
        {"wait", task_wait}, {"cancel", task_cancel}, {"status", task_status}, {NULL, NULL}};
    static const luaL_Reg event_meth[] = {
        {"set", event_set}, {"wait", event_wait}, {"is_set", event_is_set}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {
        {"spawn", l_spawn}, {"sleep", l_sleep}, {"event", l_event}, {NULL, NULL}};
    lnyx_new_class(L, NYX_TASK_MT, task_meth, task_gc);
    lnyx_new_class(L, NYX_EVENT_MT, event_meth, event_gc);
    luaL_setfuncs(L, funcs, 0);
    if (lua_getglobal(L, "coroutine") == LUA_TTABLE) {
        lua_pushcfunction(L, task_yield);
        lua_setfield(L, -2, "yield");
    }
    lua_pop(L, 1);
    return 0;
}
