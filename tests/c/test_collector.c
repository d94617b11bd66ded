/* The collector's pace (core/collector.c) over a fake collector: stopped in frames and
 * running in other turns, its cycles taken forward by the frames' idle steps (a few owed even
 * by a frame with no time left, more as the heap nears twice its size), and running by itself
 * again past twice the heap after the last cycle until the heap is back down; by itself, with a
 * pause of one and a half times the heap. */
#include "check.h"
#include "core/collector.h"

typedef struct fake {
    int kb;          /* the heap */
    int running;     /* runs by itself */
    int step_log2;
    int pause;       /* percent */
    int steps;       /* steps taken */
    int cycle_steps; /* steps a cycle takes */
    int left;        /* steps left in the cycle under way; 0: none */
    int after_kb;    /* the heap once the cycle ends */
} fake;

static int fake_gc(void *state, collector_op op, int arg)
{
    fake *f = state;
    switch (op) {
    case COLLECTOR_COUNT_KB:
        return f->kb;
    case COLLECTOR_STEP:
        f->steps++;
        if (f->left == 0)
            f->left = f->cycle_steps;
        if (--f->left > 0)
            return 0;
        f->kb = f->after_kb;
        return 1;
    case COLLECTOR_STOP:
        f->running = 0;
        return 0;
    case COLLECTOR_RESTART:
        f->running = 1;
        return 0;
    case COLLECTOR_STEP_SIZE:
        f->step_log2 = arg;
        return 0;
    case COLLECTOR_PAUSE:
        f->pause = arg;
        return 0;
    }
    return 0;
}

/* A frame (a turn with a budget) on a heap of kb: whether the collector then runs by itself. */
static int frame_at(collector_pace *p, fake *f, int kb)
{
    f->kb = kb;
    collector_turn(p, 1);
    return f->running;
}

int main(void)
{
    fake f = {.kb = 100, .running = 1, .cycle_steps = 3, .after_kb = 100};
    collector_pace p;
    collector_attach(&p, fake_gc, &f);
    CHECK_INT(f.running, 1);
    /* Running by itself, it starts a cycle at one and a half times the heap, not Lua's twice. */
    CHECK_INT(f.pause, 150);
    int automatic_log2 = f.step_log2;

    /* A frame stops it, with smaller steps, and its idle work ends the cycle under way. */
    collector_turn(&p, 1);
    CHECK_INT(f.running, 0);
    CHECK(f.step_log2 < automatic_log2);
    CHECK_INT(collector_idle(&p), 1); /* one step owed, the cycle goes on */
    CHECK_INT(f.steps, 1);
    CHECK_INT(collector_idle(&p), 1); /* time left: one step a call */
    CHECK_INT(collector_idle(&p), 0); /* the cycle ended */
    CHECK_INT(f.steps, 3);
    /* No cycle until the heap has grown by half. */
    frame_at(&p, &f, 140);
    CHECK_INT(collector_idle(&p), 0);
    CHECK_INT(f.steps, 3);

    /* Near twice its size a frame owes more steps: the first call takes them at once. */
    f.cycle_steps = 10;
    CHECK_INT(frame_at(&p, &f, 190), 0);
    CHECK_INT(collector_idle(&p), 1);
    CHECK(f.steps - 3 >= 3);
    int before = f.steps;
    frame_at(&p, &f, 195);
    CHECK_INT(collector_idle(&p), 1);
    CHECK(f.steps - before >= 3);

    /* Past twice: it runs by itself; back under one and a half times, stopped again. */
    CHECK_INT(frame_at(&p, &f, 210), 1);
    CHECK_INT(frame_at(&p, &f, 205), 1);
    CHECK_INT(frame_at(&p, &f, 150), 0);
    /* Running by itself, a step that ends a cycle stops it too. */
    CHECK_INT(frame_at(&p, &f, 210), 1);
    f.left = 1;
    f.after_kb = 120;
    CHECK_INT(collector_idle(&p), 0);
    CHECK_INT(f.running, 0);
    /* ... and the heap it left is the new measure: 200 is not past twice 120's... */
    CHECK_INT(frame_at(&p, &f, 200), 0);
    /* ... 250 is. */
    CHECK_INT(frame_at(&p, &f, 250), 1);

    /* A turn without a budget: running by itself, with its usual steps; idle work does nothing. */
    f.kb = 100;
    collector_turn(&p, 0);
    CHECK_INT(f.running, 1);
    CHECK_INT(f.step_log2, automatic_log2);
    before = f.steps;
    CHECK_INT(collector_idle(&p), 0);
    CHECK_INT(f.steps, before);
    /* Stopped again by the next frame. */
    collector_turn(&p, 1);
    CHECK_INT(f.running, 0);

    /* Detached (the state closed): nothing is asked of it. */
    collector_detach(&p);
    collector_turn(&p, 0);
    CHECK_INT(f.running, 0);
    CHECK_INT(collector_idle(&p), 0);
    return check_failures;
}
