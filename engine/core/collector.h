/* How the script host's garbage collector (Lua's) is paced: by itself, as Lua does, in turns
 * without a budget (nyx_run, nyx_poll with a timeout); in a host's frames (nyx_poll(e, 0)),
 * stopped, its work done in small steps with the time each frame leaves. The policy is here;
 * the collector is reached only through one function the binding gives (engine/lua/host.c). */
#ifndef NYX_COLLECTOR_H
#define NYX_COLLECTOR_H

typedef enum collector_op {
    COLLECTOR_COUNT_KB,  /* the heap in KB */
    COLLECTOR_STEP,      /* one small step; 1 when it ended a cycle */
    COLLECTOR_STOP,      /* no more work paid by allocations */
    COLLECTOR_RESTART,   /* work paid by allocations again */
    COLLECTOR_STEP_SIZE, /* arg: log2 of the allocation in bytes each step stands for */
    COLLECTOR_PAUSE,     /* arg: the heap, in percent of what the last cycle left, at which the
                            collector running by itself starts the next cycle */
} collector_op;

/* The binding's function over its state; arg is used by COLLECTOR_STEP_SIZE only. */
typedef int (*collector_fn)(void *state, collector_op op, int arg);

typedef enum collector_mode {
    COLLECTOR_AUTOMATIC, /* the collector runs by itself (turns without a budget) */
    COLLECTOR_FRAMES,    /* stopped: the frames' idle steps do its work */
    COLLECTOR_VALVE,     /* frames left too little time: it runs by itself until the heap is back down */
} collector_mode;

typedef struct collector_pace {
    collector_fn fn; /* NULL: no collector (no script loaded) */
    void *state;
    collector_mode mode;
    int settled_kb; /* the heap when the last cycle ended */
    int cycling;    /* a cycle under way that the idle steps take forward */
    int owed;       /* steps the frame's first idle call takes, time left or not */
} collector_pace;

/* The heap (percent of what the last cycle left) at which a cycle starts, in frames and when the
 * collector runs by itself alike. */
#define COLLECTOR_PAUSE_PERCENT 150

/* The pace of a new collector (running by itself, its pause COLLECTOR_PAUSE_PERCENT);
 * collector_detach forgets it. */
void collector_attach(collector_pace *p, collector_fn fn, void *state);
void collector_detach(collector_pace *p);
/* A turn begins: budgeted (a host's frame) or not. Switches the collector off for frames and
 * back on for other turns; in frames, back on also while the heap is past twice its size
 * after the last cycle (the frames left no time for the steps), until it is down again. */
void collector_turn(collector_pace *p, int budgeted);
/* The loop's idle work in a frame (loop_set_idle), whose first call runs even when the
 * frame's budget is spent: there, the steps the heap's growth makes owed (one, up to four as
 * it nears twice its size); then one step per call while time is left. The steps take the cycle
 * under way forward, or a new one once the heap has grown by half since the last ended.
 * 1: more to do now. */
int collector_idle(void *pace);

#endif
