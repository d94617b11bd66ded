/* The script host's collector in a host's frames. Lua's incremental collector pays for
 * allocations with work inside whatever allocates, and charges sweeping next to nothing: a
 * few hundred bytes allocated in one task's resume could pay for sweeping the whole heap,
 * a millisecond of one frame. In frames it is therefore stopped, and each frame's spare
 * time takes its cycles forward in steps of tens of microseconds; a cycle starts there once
 * the heap has grown by half since the last one ended (Lua's own pause would wait for twice). Frames
 * whose budget is spent still take a step or a few (more as the heap nears twice its size),
 * so a busy host's cycles end too. Should even that not keep up, memory must still be
 * bounded: past twice the heap after the last cycle the collector runs by itself again, until
 * the heap is back under one and a half times or a step ends a cycle. Turns without a budget
 * (nyx_run) collect as Lua does, with the same pause of one and a half times. */
#include "collector.h"

#include <stddef.h>

/* Steps of 2^STEP_LOG2 bytes of allocation: about 400 objects swept, some tens of
 * microseconds, in frames; 1 KB otherwise (the size before frames paced it). */
#define FRAME_STEP_LOG2 5
#define AUTOMATIC_STEP_LOG2 10

void collector_attach(collector_pace *p, collector_fn fn, void *state)
{
    *p = (collector_pace){fn, state, COLLECTOR_AUTOMATIC, 0, 0, 0};
    fn(state, COLLECTOR_STEP_SIZE, AUTOMATIC_STEP_LOG2);
    /* Lua's own pause (200: a cycle once the heap has doubled) lets garbage grow as large as
     * what is alive. Most of what is alive while calls are in flight is their tasks, and each
     * task's call leaves a couple of KB of garbage (its arguments, its result, their strings):
     * with 1,000 calls in flight that is up to 2.5 MB waiting for a cycle, and the peak RSS of
     * 20,000 such calls was 38 MB at 200 against 35.5 MB at 150, for a few microseconds more of
     * collection per call. */
    fn(state, COLLECTOR_PAUSE, COLLECTOR_PAUSE_PERCENT);
    p->settled_kb = fn(state, COLLECTOR_COUNT_KB, 0);
}

void collector_detach(collector_pace *p) { *p = (collector_pace){NULL, NULL, COLLECTOR_AUTOMATIC, 0, 0, 0}; }

static int count_kb(const collector_pace *p) { return p->fn(p->state, COLLECTOR_COUNT_KB, 0); }

/* The heap at which a cycle is due: one and a half times what the last one left. */
static int due_kb(const collector_pace *p) { return (int)((long long)p->settled_kb * COLLECTOR_PAUSE_PERCENT / 100); }

static void stop(collector_pace *p)
{
    p->fn(p->state, COLLECTOR_STOP, 0);
    p->mode = COLLECTOR_FRAMES;
}

void collector_turn(collector_pace *p, int budgeted)
{
    if (!p->fn)
        return;
    if (!budgeted) {
        if (p->mode != COLLECTOR_AUTOMATIC) {
            p->fn(p->state, COLLECTOR_STEP_SIZE, AUTOMATIC_STEP_LOG2);
            p->fn(p->state, COLLECTOR_RESTART, 0);
            p->mode = COLLECTOR_AUTOMATIC;
        }
        return;
    }
    int kb = count_kb(p);
    switch (p->mode) {
    case COLLECTOR_AUTOMATIC:
        /* Where the cycle it was in stands is unknown: the steps take it (or a new one) to
         * its end, which gives the heap to measure growth from. */
        p->fn(p->state, COLLECTOR_STEP_SIZE, FRAME_STEP_LOG2);
        stop(p);
        p->settled_kb = kb;
        p->cycling = 1;
        break;
    case COLLECTOR_FRAMES:
        if (kb > 2 * p->settled_kb) {
            p->fn(p->state, COLLECTOR_RESTART, 0);
            p->mode = COLLECTOR_VALVE;
        }
        break;
    case COLLECTOR_VALVE:
        if (kb <= due_kb(p)) {
            stop(p);
            p->cycling = 1; /* what it left of its cycle */
        }
        break;
    }
    /* Frames that leave no time must still see a cycle end before the heap doubles: one step
     * a frame, up to four as the heap goes from one and a half times to twice. */
    int over = kb - due_kb(p);
    p->owed = over > 0 && p->settled_kb > 0 ? 1 + 6 * over / p->settled_kb : 1;
}

int collector_idle(void *pace)
{
    collector_pace *p = pace;
    if (!p->fn || p->mode == COLLECTOR_AUTOMATIC)
        return 0;
    int steps = p->owed > 1 ? p->owed : 1;
    p->owed = 0;
    if (!p->cycling) {
        if (count_kb(p) < due_kb(p))
            return 0;
        p->cycling = 1;
    }
    while (!p->fn(p->state, COLLECTOR_STEP, 0))
        if (--steps == 0)
            return 1;
    p->cycling = 0;
    p->settled_kb = count_kb(p);
    if (p->mode == COLLECTOR_VALVE)
        stop(p);
    return 0;
}
