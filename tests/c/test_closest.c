/* engine/base/closest.h: the known name a mistyped option was meant to be, and none when the
 * word is too far from every name to be a slip; the name of the same words in another order. */
#include <stdio.h>

#include "base/closest.h"
#include "check.h"

static const char *const names[] = {"model", "max_tokens", "temperature", "rpm", "budget_usd",
                                    "label", "timeout", "tool_choice", "tools"};
enum { N = sizeof names / sizeof *names };

static void expect(const char *word, const char *want)
{
    const char *got = closest_name(word, names, N);
    if (want ? !got || strcmp(got, want) != 0 : got != NULL) {
        check_fail_at(__FILE__, __LINE__);
        fprintf(stderr, "closest_name(\"%s\") is %s, want %s\n", word, got ? got : "NULL", want ? want : "NULL");
    }
}

int main(void)
{
    /* One edit of each kind, and two. */
    expect("modle", "model");          /* a swap of neighbours is one edit */
    expect("rmp", "rpm");              /* even in a word of three letters */
    expect("mode", "model");           /* a letter left out */
    expect("modelx", "model");         /* one added */
    expect("temprature", "temperature");
    expect("tempreture", "temperature"); /* two edits */
    expect("budjet_usd", "budget_usd");
    expect("max_token", "max_tokens");
    expect("lable", "label");
    /* Too far: three edits, or two in a word of four letters or fewer (half its length). */
    expect("tmprtre", NULL);
    expect("rxx", NULL);               /* two edits from rpm, in three letters */
    expect("xy", NULL);
    expect("colour", NULL);
    expect("", NULL);
    /* The nearest wins over a farther one; of two as near, the first listed. */
    expect("tool", "tools");           /* one from tools, more from tool_choice */
    expect("timeou", "timeout");
    const char *const tied[] = {"abcd", "abce"};
    CHECK_STR(closest_name("abcx", tied, 2), "abcd");
    /* A word longer than any name is compared is no slip of one. */
    char longer[200];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(closest_name(longer, names, N) == NULL);

    /* The same words in another order, split on '.' and '_', without case; none else. */
    const char *const keys[] = {"budget.daily_hard", "budget.daily_usd", "budget.hard", "cache.ttl.ephemeral"};
    enum { NK = sizeof keys / sizeof *keys };
    CHECK_STR(same_words_name("daily_budget_usd", keys, NK), "budget.daily_usd");
    CHECK_STR(same_words_name("usd.daily.budget", keys, NK), "budget.daily_usd");
    CHECK_STR(same_words_name("Daily_Budget_USD", keys, NK), "budget.daily_usd");
    CHECK_STR(same_words_name("hard_daily_budget", keys, NK), "budget.daily_hard");
    CHECK_STR(same_words_name("hard_budget", keys, NK), "budget.hard");
    CHECK_STR(same_words_name("ephemeral_cache_ttl", keys, NK), "cache.ttl.ephemeral");
    CHECK_STR(same_words_name("budget.daily_usd", keys, NK), "budget.daily_usd"); /* itself */
    CHECK(same_words_name("daily_budget", keys, NK) == NULL);        /* a word short */
    CHECK(same_words_name("daily_budget_usd_max", keys, NK) == NULL); /* a word more */
    CHECK(same_words_name("llm_daily_budget_usd", keys, NK) == NULL);
    CHECK(same_words_name("budget", keys, NK) == NULL);
    CHECK(same_words_name("", keys, NK) == NULL);
    CHECK(same_words_name("._", keys, NK) == NULL);
    /* closest_name does not see the reordering: same_words_name is asked after it. */
    CHECK(closest_name("daily_budget_usd", keys, NK) == NULL);
    return check_failures;
}
