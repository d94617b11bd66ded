/* A budgeted turn (a host's frame, nyx_poll(e, 0)) starts no more work once its budget is
 * spent and leaves the rest for the next turn, saying so through loop_timeout_ms; the first
 * piece of work of a turn always runs. No time is asserted: each piece below outlasts the
 * budget by construction (it waits for the clock to pass it). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "base/clock.h"
#include "core/loop.h"

static int ran;

/* A piece of work longer than any budget below. */
static void slow(void *ud)
{
    (void)ud;
    int64_t until = clock_now_us() + 50;
    while (clock_now_us() < until)
        ;
    ran++;
}

static void fired(void *ud) { (*(int *)ud)++; }

static event_loop *the_loop;

/* Idle work: a slow piece each time, more to do while *left > 0. */
static int idle_runs;
static int idle_piece(void *ud)
{
    int *left = ud;
    slow(NULL);
    idle_runs++;
    return --*left > 0;
}

/* Notes how many idle pieces ran before it. */
static int seen_idle_runs;
static void note_idle_runs(void *ud)
{
    (void)ud;
    seen_idle_runs = idle_runs;
}

/* What a piece hears of the time its turn has left: over now, and over after 2 s more; and
 * whether a piece of 2 s, or of nothing, may start. */
static int over_now = -1, over_later = -1, room_long = -1, room_none = -1;
static void ask_ahead(void *ud)
{
    (void)ud;
    over_now = loop_turn_over_in(the_loop, 0);
    over_later = loop_turn_over_in(the_loop, 2000000);
    room_long = loop_turn_room(the_loop, 2000000);
    room_none = loop_turn_room(the_loop, 0);
}

/* Whether a piece runs in a turn with a budget: what measures work for the estimates asks. */
static int budgeted = -1;
static void ask_budgeted(void *ud)
{
    (void)ud;
    budgeted = loop_turn_budgeted(the_loop);
}

/* What work that may be put off once only hears, ask after ask: whether a piece of 10 s, more
 * than any budget below, may start. */
static uint64_t put_off;
static int answers[8], nanswers;
static void ask_once(void *ud)
{
    (void)ud;
    if (nanswers < 8)
        answers[nanswers++] = loop_turn_room_once(the_loop, 10000000, &put_off);
}

/* Work that comes in pieces (a group commit, a database's answers): a piece, then it asks
 * whether the turn is over, as flush_group and the PostgreSQL pump do. */
static void in_pieces(void *ud)
{
    int *pieces = ud;
    do {
        slow(NULL);
        (*pieces)++;
    } while (*pieces < 5 && !loop_turn_over(the_loop));
}

int main(void)
{
    event_loop *loop = loop_new();
    REQUIRE_OR(loop != NULL, check_failures);
    for (int i = 0; i < 3; i++)
        CHECK_INT(loop_defer(loop, slow, NULL), 0);
    /* Budget spent by the first: one per turn, and the loop says there is more at once. */
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(ran, 1);
    CHECK_INT(loop_timeout_ms(loop), 0);
    CHECK(loop_pending(loop) > 0);
    CHECK_INT(loop_turn_over(loop), 0); /* between turns nothing is over */
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(ran, 2);
    /* Without a budget the turn does all that is due. */
    CHECK_INT(loop_defer(loop, slow, NULL), 0);
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK_INT(ran, 4);
    CHECK_INT(loop_pending(loop), 0);
    /* Timers due wait the same way. */
    int fires = 0;
    CHECK(loop_timer_add(loop, 0, slow, NULL) != NULL);
    CHECK(loop_timer_add(loop, 0, fired, &fires) != NULL);
    int64_t until = clock_now_us() + 1000; /* both due */
    while (clock_now_us() < until)
        ;
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(ran + fires, 5);
    CHECK_INT(loop_timeout_ms(loop), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(ran + fires, 6);
    /* Work in pieces that is the first of its turn stops at the budget too: the turn's first
     * piece of work is bounded like the others (it did all five pieces). */
    the_loop = loop;
    int pieces = 0;
    CHECK_INT(loop_defer(loop, in_pieces, &pieces), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(pieces, 1);
    /* Without a budget it is never over. */
    pieces = 0;
    CHECK_INT(loop_defer(loop, in_pieces, &pieces), 0);
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK_INT(pieces, 5);

    /* A piece may ask whether what it would do next fits in the budget left (a group commit
     * stops before a commit that would not); a turn without a budget never ends. */
    CHECK_INT(loop_defer(loop, ask_ahead, NULL), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    /* Measured only in a budgeted turn: none outside a turn or in one without a budget. */
    CHECK_INT(loop_turn_budgeted(loop), 0);
    CHECK_INT(loop_defer(loop, ask_budgeted, NULL), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 0), 0);
    CHECK_INT(budgeted, 0);
    CHECK_INT(loop_defer(loop, ask_budgeted, NULL), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(budgeted, 1);
    CHECK_INT(over_now, 0);
    CHECK_INT(over_later, 1);
    CHECK_INT(room_long, 1); /* the turn's first piece: it may start whatever it costs */
    CHECK_INT(room_none, 1);
    CHECK_INT(loop_defer(loop, fired, &fires), 0);
    CHECK_INT(loop_defer(loop, ask_ahead, NULL), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(room_long, 0); /* after another piece, only what fits */
    CHECK_INT(room_none, 1);
    CHECK_INT(loop_defer(loop, fired, &fires), 0);
    CHECK_INT(loop_defer(loop, ask_ahead, NULL), 0);
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK_INT(over_later, 0);
    CHECK_INT(room_long, 1);

    /* Work put off once goes in the next turn whatever the room: in a host where other work
     * runs first every frame (a timer firing each frame) and the work's estimate never fits
     * what that leaves, it is put off in the first turn (asked twice there, it still waits)
     * and starts in the second; then it may be put off again, once. */
    for (int turn = 0; turn < 3; turn++) {
        CHECK_INT(loop_defer(loop, fired, &fires), 0); /* the other work, first */
        CHECK_INT(loop_defer(loop, ask_once, NULL), 0);
        if (turn == 0)
            CHECK_INT(loop_defer(loop, ask_once, NULL), 0);
        CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    }
    CHECK_INT(nanswers, 4);
    CHECK_INT(answers[0], 0);
    CHECK_INT(answers[1], 0);
    CHECK_INT(answers[2], 1);
    CHECK_INT(answers[3], 0);
    /* As the turn's first piece, or without a budget, it starts at once and is not put off. */
    nanswers = 0;
    put_off = 0;
    CHECK_INT(loop_defer(loop, ask_once, NULL), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(loop_defer(loop, fired, &fires), 0);
    CHECK_INT(loop_defer(loop, ask_once, NULL), 0);
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK_INT(nanswers, 2);
    CHECK_INT(answers[0], 1);
    CHECK_INT(answers[1], 1);
    CHECK_INT((int)put_off, 0);

    /* An estimate of a piece's cost takes its first measure as it is, then a quarter of the
     * way to each new one, and a stall of the machine as 2 ms at most. */
    int64_t estimate = 0;
    loop_estimate(&estimate, 100);
    CHECK_INT((int)estimate, 100);
    loop_estimate(&estimate, 200);
    CHECK_INT((int)estimate, 125);
    loop_estimate(&estimate, 1000000);
    CHECK_INT((int)estimate, 593);
    estimate = 0;
    loop_estimate(&estimate, 0);
    CHECK_INT((int)estimate, 1);

    /* Idle work: its piece at the turn's start, then the time the budgeted turn leaves, at
     * most LOOP_IDLE_US of it. A machine that holds the process back for LOOP_IDLE_US between
     * the turn's reading of the clock and its next leaves no time for a second piece (seen under
     * valgrind on a loaded machine), so the turn is tried up to five times: never more than the
     * bound, and a second piece in at least one. */
    int left = 1000, most = 0;
    for (int attempt = 0; attempt < 5 && most < 2; attempt++) {
        idle_runs = 0;
        left = 1000;
        loop_set_idle(loop, idle_piece, &left);
        CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
        CHECK(idle_runs <= 1 + LOOP_IDLE_US / 50);
        most = idle_runs > most ? idle_runs : most;
    }
    CHECK(most >= 2);
    /* It stops when it has nothing more to do. */
    idle_runs = 0;
    left = 1;
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(idle_runs, 1);
    /* One piece when the turn's own work spends the budget: at the turn's start, inside the
     * budget rather than after it, and the turn's own first piece still runs after it (the
     * idle piece alone spends this budget). None without a budget. */
    idle_runs = 0;
    left = 1000;
    ran = 0;
    seen_idle_runs = -1;
    CHECK_INT(loop_defer(loop, note_idle_runs, NULL), 0);
    CHECK_INT(loop_defer(loop, slow, NULL), 0);
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(seen_idle_runs, 1);
    CHECK_INT(idle_runs, 1);
    CHECK_INT(ran, 1); /* the idle piece's own: the budget was spent before the deferred one */
    CHECK_INT(loop_poll_budget(loop, 0, 10), 0);
    CHECK_INT(idle_runs, 2);
    CHECK_INT(ran, 3);
    idle_runs = 0;
    CHECK_INT(loop_poll(loop, 0), 0);
    CHECK_INT(idle_runs, 0);
    loop_set_idle(loop, NULL, NULL);
    CHECK_INT(loop_poll_budget(loop, 0, 1000000), 0);
    CHECK_INT(idle_runs, 0);
    loop_free(loop);
    return check_failures;
}
